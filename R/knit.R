# Tables for reports: knit_print() methods (knitr's convention, so that an
# object left at the end of an R Markdown chunk shows as formatted tables)
# and the tidy() / glance() methods of the generics package (broom's
# convention: data frames for ggplot2 and kable).
#
# A knit_print() method builds a list of parts, each a character vector of
# markdown (a line of text, or a table from kable_matrix() or
# kable_frame()), and returns knit_parts(parts). A method for a new class
# is one short function of that shape.

#' Networks and traces as tables in R Markdown
#'
#' When a network or a trace is the value of an R Markdown (knitr) chunk,
#' it shows as formatted tables instead of console text: a network as a
#' line with its architecture, a table with one row per layer and, for
#' networks of at most 200 parameters, one table of weights per layer (one
#' row per input node, one column per output node, and a `bias` row for
#' layers with biases); a trace (from [forward()] with `trace = TRUE`) as
#' a table of its input and one table per layer with `z` (before the
#' activation) and `a` (after it) side by side, one row per sample. Call
#' [print()] for the console text instead.
#'
#' knitr calls these methods itself; call `knitr::knit_print()` in a chunk
#' to change `digits`, `weights` or the number of rows shown. Tables are
#' made by [knitr::kable()] in the format of the document (markdown tables
#' in R Markdown, so they work in HTML, PDF and Word output alike).
#'
#' @param x A network from [network()], or a trace from
#'   `forward(net, x, trace = TRUE)`.
#' @param options knitr's chunk options (passed by knitr; not used).
#' @param ... Not used.
#' @param digits Digits the numbers are rounded to: a whole number from 0
#'   to 15.
#' @param weights `NULL`, `TRUE` or `FALSE`: whether the weight tables are
#'   shown (`NULL`, the default: when the network has at most 200
#'   parameters).
#' @param rows The number of samples shown (the first `rows`; a note says
#'   how many there are).
#' @return An object of class `knit_asis` (markdown text that knitr puts
#'   into the document as it is).
#' @seealso [tidy.fwdprop_network()] for the weights as a data frame,
#'   [print.fwdprop_network()]
#' @name knit_print.fwdprop_network
#' @usage
#' \method{knit_print}{fwdprop_network}(x, options = NULL, ..., digits = 4L, weights = NULL)
#'
#' \method{knit_print}{fwdprop_trace}(x, options = NULL, ..., digits = 4L, rows = 20L)
#' @examples
#' net <- network(c(2, 3, 1), bias = TRUE, seed = 1)
#' tr <- forward(net, matrix(1:6, ncol = 2, byrow = TRUE), trace = TRUE)
#' if (requireNamespace("knitr", quietly = TRUE)) {
#'   # what a chunk ending in `net` or `tr` puts into an R Markdown document
#'   cat(knitr::knit_print(net))
#'   cat(knitr::knit_print(tr, digits = 3))
#' }
NULL

#' @rdname knit_print.fwdprop_network
#' @usage NULL
#' @exportS3Method knitr::knit_print
knit_print.fwdprop_network <- function(x, options = NULL, ..., digits = 4L, weights = NULL) {
  call <- sys.call()
  net <- check_network(x, "x", call = call)
  digits <- check_digits(digits, call = call)
  if (!is.null(weights)) weights <- check_flag(weights, "weights", call = call)
  L <- length(net$weights)
  n_par <- sum(lengths(net$weights)) + sum(lengths(net$biases))
  if (is.null(weights)) weights <- n_par <= 200L
  init <- init_record(net)
  head <- sprintf(
    "**fwdprop network** %s: %d layer%s, %d parameters%s.",
    paste(net$sizes, collapse = arrow()), L, if (L == 1L) "" else "s", n_par,
    if (is.null(init)) "" else sprintf(" (weights drawn \"%s\"%s)", init$method,
      if (is.null(init$seed)) "" else sprintf(" with seed %s", format(init$seed, scientific = FALSE)))
  )
  parts <- list(head, kable_frame(layer_table(net), caption = "Layers"))
  if (weights) {
    parts <- c(parts, weight_tables(net$weights, net$biases, digits, function(l, b) {
      sprintf("Layer %d (%d%s%d, %s): `weights[[%d]]`%s", l, net$sizes[l], arrow(),
              net$sizes[l + 1L], net$activations[l], l,
              if (is.null(b)) "" else sprintf(" and `biases[[%d]]`", l))
    }))
  } else {
    parts <- c(parts, list(sprintf(
      "The weights (%d parameters) are not shown; `tidy()` returns them as a data frame.", n_par
    )))
  }
  knit_parts(parts)
}

#' @rdname knit_print.fwdprop_network
#' @usage
#' \method{knit_print}{fwdprop_mlp}(x, options = NULL, ..., digits = 4L, weights = FALSE)
#' @details A model from [mlp()] shows its formula (or call), a table of
#'   its fit statistics (as [summary()][summary.fwdprop_mlp()]: loss and
#'   accuracy or RMSE on the training and validation rows), its classes
#'   and their counts, then the network's tables (without the weights
#'   unless `weights = TRUE`).
#' @exportS3Method knitr::knit_print
knit_print.fwdprop_mlp <- function(x, options = NULL, ..., digits = 4L, weights = FALSE) {
  call <- sys.call()
  s <- summary(x)
  digits <- check_digits(digits, call = call)
  what <- if (is.null(s$formula)) deparse1(s$call) else deparse1(s$formula)
  unit <- if (identical(s$optimizer, "bfgs")) "iterations" else "epochs"
  head <- sprintf("**fwdprop mlp** `%s`: %s, %s loss, %d %s (%s), %d rows trained on, %d held out.",
                  what, s$optimizer, s$loss_name, s$epochs, unit, gsub("_", " ", s$stopped),
                  s$rows[["train"]], s$rows[["validation"]])
  stat <- data.frame(rows = c("train", "validation"), loss = c(s$loss, s$val_loss), stringsAsFactors = FALSE)
  if (!is.null(s$accuracy)) {
    stat$accuracy <- unname(s$accuracy)
  } else {
    rm <- s$rmse
    colnames(rm) <- if (ncol(rm) == 1L) "rmse" else paste0("rmse ", colnames(rm))
    stat <- cbind(stat, rm)
  }
  if (s$rows[["validation"]] == 0L) stat <- stat[1L, , drop = FALSE]
  parts <- list(head, kable_frame(stat, caption = "Fit statistics", digits = digits))
  if (!is.null(s$classes)) {
    counts <- data.frame(class = names(s$classes), rows = as.vector(s$classes), stringsAsFactors = FALSE)
    parts <- c(parts, list(kable_frame(counts, caption = "Classes")))
  }
  net <- x
  class(net) <- setdiff(class(x), "fwdprop_mlp")
  parts <- c(parts, list(as.character(knit_print.fwdprop_network(net, digits = digits, weights = weights))))
  knit_parts(parts)
}

#' @rdname knit_print.fwdprop_network
#' @usage NULL
#' @exportS3Method knitr::knit_print
knit_print.fwdprop_trace <- function(x, options = NULL, ..., digits = 4L, rows = 20L) {
  call <- sys.call()
  tr <- check_trace(x, "x", call = call)
  digits <- check_digits(digits, call = call)
  rows <- check_count(rows, "rows", call = call)
  L <- length(tr$a)
  n <- nrow(tr$x)
  sizes <- c(ncol(tr$x), vapply(tr$a, ncol, integer(1L)))
  sample_names <- rownames(tr$x) %||% as.character(seq_len(n))
  parts <- list(sprintf("**fwdprop trace**: %d sample%s through %s.", n, if (n == 1L) "" else "s",
                        paste(sizes, collapse = arrow())))
  x_in <- tr$x
  dimnames(x_in) <- list(sample_names, colnames(x_in) %||% sprintf("x%d", seq_len(ncol(x_in))))
  parts <- c(parts, list(kable_matrix(x_in, caption = "Input `x`", digits = digits, max_rows = rows)))
  for (l in seq_len(L)) {
    nodes <- colnames(tr$a[[l]])
    nodes <- if (is.null(nodes)) seq_len(ncol(tr$a[[l]])) else paste0(" ", nodes)
    za <- cbind(tr$z[[l]], tr$a[[l]])
    dimnames(za) <- list(sample_names, c(paste0("z", nodes), paste0("a", nodes)))
    parts <- c(parts, list(kable_matrix(za, digits = digits, max_rows = rows, caption = sprintf(
      "Layer %d (%s): `z`, the weighted sums of %s, and `a = %s(z)`", l, tr$activations[l],
      if (l == 1L) "`x`" else sprintf("`a` of layer %d", l - 1L), tr$activations[l]
    ))))
  }
  knit_parts(parts)
}

# One table per layer of weight-shaped matrices (a network's weights, or
# their gradients): a row per input node, a column per output node, and a
# `bias` row for layers with biases. `caption(l, bias)` gives each caption.
weight_tables <- function(weights, biases, digits, caption) {
  lapply(seq_along(weights), function(l) {
    w <- weights[[l]]
    b <- biases[[l]]
    rn <- rownames(w) %||% sprintf("from %d", seq_len(nrow(w)))
    cn <- colnames(w) %||% sprintf("to %d", seq_len(ncol(w)))
    if (!is.null(b)) {
      w <- rbind(w, b)
      rn <- c(rn, "bias")
    }
    dimnames(w) <- list(rn, cn)
    kable_matrix(w, digits = digits, max_rows = Inf, max_cols = Inf, caption = caption(l, b))
  })
}

#' Gradients and training histories as tables in R Markdown
#'
#' As for networks and traces ([knit_print.fwdprop_network()]): in a knitted
#' document, the gradient from [backward()] shows as its loss and one table
#' per layer of `dL/dW` (with a `bias` row for `dL/db`), and a training
#' history from [fit()] as a table of its epochs (the first and last ones
#' for long histories, and the best validation epoch). Plot a history with
#' [plot()][plot.fwdprop_history()].
#'
#' @param x A gradient from [backward()], or `fitted$history`.
#' @inheritParams knit_print.fwdprop_network
#' @param rows The number of epochs shown: the first and last `rows / 2`,
#'   and the best.
#' @return An object of class `knit_asis`.
#' @name knit_print.fwdprop_gradient
#' @usage
#' \method{knit_print}{fwdprop_gradient}(x, options = NULL, ..., digits = 4L)
#'
#' \method{knit_print}{fwdprop_history}(x, options = NULL, ..., digits = 4L, rows = 10L)
#' @examples
#' net <- network(c(2, 3, 1), bias = TRUE, seed = 1)
#' x <- matrix(1:6, ncol = 2, byrow = TRUE)
#' g <- backward(net, x, c(0, 1, 1))
#' fitted <- fit(net, x, c(0, 1, 1), epochs = 30, batch_size = 3, seed = 1)
#' if (requireNamespace("knitr", quietly = TRUE)) {
#'   cat(knitr::knit_print(g))
#'   cat(knitr::knit_print(fitted$history, rows = 4))
#' }
NULL

#' @rdname knit_print.fwdprop_gradient
#' @usage NULL
#' @exportS3Method knitr::knit_print
knit_print.fwdprop_gradient <- function(x, options = NULL, ..., digits = 4L) {
  call <- sys.call()
  digits <- check_digits(digits, call = call)
  ok <- is.list(x) && is.numeric(x$loss) && length(x$loss) == 1L && is.list(x$weights) &&
    is.list(x$biases) && length(x$biases) == length(x$weights) &&
    all(vapply(x$weights, function(w) is.matrix(w) && is.numeric(w), logical(1L)))
  if (!ok) {
    fwdprop_error("`x` is not a valid gradient: make gradients with `backward()`.", call = call)
  }
  parts <- list(sprintf("**fwdprop gradient** of the %s loss, %s.",
                        attr(x, "loss_name") %||% "", format(x$loss, digits = 7L)))
  parts <- c(parts, weight_tables(x$weights, x$biases, digits, function(l, b) {
    sprintf("Layer %d: `dL/dW[[%d]]`%s", l, l, if (is.null(b)) "" else sprintf(" and `dL/db[[%d]]`", l))
  }))
  knit_parts(parts)
}

#' @rdname knit_print.fwdprop_gradient
#' @usage NULL
#' @exportS3Method knitr::knit_print
knit_print.fwdprop_history <- function(x, options = NULL, ..., digits = 4L, rows = 10L) {
  call <- sys.call()
  digits <- check_digits(digits, call = call)
  rows <- check_count(rows, "rows", call = call)
  h <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  if (!all(c("epoch", "loss") %in% names(h))) {
    fwdprop_error("`x` is not a valid training history: it needs columns `epoch` and `loss`.", call = call)
  }
  n <- nrow(h)
  has_val <- "val_loss" %in% names(h) && any(is.finite(h$val_loss))
  best <- if (has_val) which.min(h$val_loss) else NA_integer_
  keep <- if (n <= rows) seq_len(n) else sort(unique(c(seq_len(ceiling(rows / 2)),
                                                      n - seq_len(floor(rows / 2)) + 1L,
                                                      if (has_val) best)))
  if (!has_val) h$val_loss <- NULL
  shown <- h[keep, , drop = FALSE]
  if (has_val) shown$best <- ifelse(keep == best, "best", "")
  parts <- list(sprintf("**Training history**: %d epoch%s%s.", n, if (n == 1L) "" else "s",
                        if (has_val) sprintf(", the best validation loss at epoch %d", h$epoch[best]) else ""),
                kable_frame(shown, digits = digits, max_rows = Inf,
                            caption = if (length(keep) < n) sprintf("%d of %d epochs", length(keep), n)))
  knit_parts(parts)
}

# Parts (character vectors of markdown) as one piece of knitr output,
# separated by blank lines so that tables stand alone.
knit_parts <- function(parts) {
  text <- paste(vapply(parts, paste, character(1L), collapse = "\n"), collapse = "\n\n")
  knitr::asis_output(paste0("\n\n", text, "\n\n"))
}

# A numeric matrix as a table (knitr::kable(), in the document's format),
# with its row names as a first column. Only the first `max_rows` rows and
# `max_cols` columns are shown; the caption then says how many there are.
kable_matrix <- function(m, caption = NULL, digits = 4L, max_rows = 20L, max_cols = 12L) {
  n <- nrow(m)
  k <- ncol(m)
  shown_r <- min(n, max_rows)
  shown_c <- min(k, max_cols)
  rn <- rownames(m) %||% as.character(seq_len(n))
  cn <- colnames(m) %||% as.character(seq_len(k))
  cells <- matrix(format_number(m[seq_len(shown_r), seq_len(shown_c), drop = FALSE], digits),
                  shown_r, shown_c)
  df <- data.frame(rn[seq_len(shown_r)], cells, stringsAsFactors = FALSE)
  names(df) <- c("", cn[seq_len(shown_c)])
  cut <- c(if (shown_r < n) sprintf("first %d of %d rows", shown_r, n),
           if (shown_c < k) sprintf("first %d of %d columns", shown_c, k))
  if (length(cut)) {
    caption <- paste0(caption, if (!is.null(caption)) " " else "",
                      sprintf("(%s shown)", paste(cut, collapse = ", ")))
  }
  as.character(knitr::kable(df, caption = caption, align = c("l", rep("r", shown_c)),
                            row.names = FALSE))
}

# A data frame as a table: numeric columns rounded to `digits`, the first
# `max_rows` rows.
kable_frame <- function(df, caption = NULL, digits = 4L, max_rows = 20L) {
  n <- nrow(df)
  df <- df[seq_len(min(n, max_rows)), , drop = FALSE]
  if (nrow(df) < n) {
    caption <- paste0(caption, if (!is.null(caption)) " " else "",
                      sprintf("(first %d of %d rows shown)", nrow(df), n))
  }
  as.character(knitr::kable(df, caption = caption, digits = digits, row.names = FALSE))
}

`%||%` <- function(x, y) if (is.null(x)) y else x

# A trace from forward(trace = TRUE), checked before it is shown: a list
# with `x` (a numeric matrix), `z` and `a` (lists with one numeric matrix
# per layer, of the same shapes, with a row per sample) and `activations`.
check_trace <- function(tr, arg = "x", call = sys.call(-1L)) {
  bad <- function(what) {
    fwdprop_error(sprintf("`%s` is not a valid trace: %s. Make traces with `forward(net, x, trace = TRUE)`.",
                          arg, what), call = call)
  }
  if (!is.list(tr)) bad(sprintf("it is %s, not a list", describe_object(unclass(tr))))
  x <- tr[["x"]]
  if (!is.matrix(x) || !is_numeric_storage(x)) bad(sprintf("`%s$x` is %s, not a numeric matrix", arg, describe_object(x)))
  z <- tr[["z"]]
  a <- tr[["a"]]
  is_matrices <- function(v) {
    is.list(v) && !is.data.frame(v) && length(v) >= 1L &&
      all(vapply(v, function(m) is.matrix(m) && is_numeric_storage(m) && nrow(m) == nrow(x), logical(1L)))
  }
  if (!is_matrices(z)) bad(sprintf("`%s$z` must be a list of numeric matrices with %d rows, one per layer", arg, nrow(x)))
  if (!is_matrices(a) || length(a) != length(z) ||
      !identical(lapply(a, dim), lapply(z, dim))) {
    bad(sprintf("`%s$a` must be a list of numeric matrices of the shapes of `%s$z`", arg, arg))
  }
  acts <- tr[["activations"]]
  if (!is.character(acts) || length(acts) != length(a) || anyNA(acts)) {
    bad(sprintf("`%s$activations` must name one activation per layer (%d)", arg, length(a)))
  }
  tr
}

#' A network's weights and summary as data frames
#'
#' `tidy()` returns every weight and bias of a network as one row of a data
#' frame, ready for ggplot2, [knitr::kable()] or [aggregate()]; `glance()`
#' returns a one-row summary of the network. These are methods of the
#' generics package's `tidy()` and `glance()` (the convention of broom),
#' which fwdprop re-exports.
#'
#' @param x A network from [network()].
#' @param ... Not used.
#' @return `tidy()`: a data frame with one row per weight, layer by layer,
#'   in the order of `as.vector(x$weights[[layer]])` (the `from` index
#'   varying fastest) followed by the layer's biases, if any. Columns:
#'   * `layer`: the layer (weight matrix) number;
#'   * `type`: `"weight"` or `"bias"`;
#'   * `from`: the input node (row of `x$weights[[layer]]`), `NA` for a bias;
#'   * `to`: the output node (column of `x$weights[[layer]]`, element of
#'     `x$biases[[layer]]`);
#'   * `weight`: the value (`x$weights[[layer]][from, to]`, or the bias).
#'
#'   `glance()`: a data frame with one row and columns `layers` (the number
#'   of weight matrices), `inputs`, `outputs`, `sizes` (the layer widths as
#'   text, `"2-3-1"`), `activations` (one per layer, comma-separated),
#'   `weights`, `biases` and `parameters` (counts), `init` and `seed` (how
#'   the weights were drawn; `NA` for weights given by the user).
#' @seealso [knit_print.fwdprop_network()], [summary.fwdprop_network()]
#' @name tidy.fwdprop_network
#' @examples
#' net <- network(c(2, 3, 1), bias = TRUE, seed = 1)
#' tidy(net)
#' glance(net)
#'
#' # the largest weight of each layer
#' w <- tidy(net)
#' aggregate(weight ~ layer, data = w[w$type == "weight", ], FUN = max)
NULL

#' @rdname tidy.fwdprop_network
#' @export
tidy.fwdprop_network <- function(x, ...) {
  net <- check_network(x, "x", call = sys.call())
  parts <- lapply(seq_along(net$weights), function(l) {
    w <- net$weights[[l]]
    b <- net$biases[[l]]
    data.frame(
      layer = l,
      type = rep(c("weight", "bias"), c(length(w), length(b))),
      from = c(rep(seq_len(nrow(w)), times = ncol(w)), rep(NA_integer_, length(b))),
      to = c(rep(seq_len(ncol(w)), each = nrow(w)), seq_along(b)),
      weight = c(as.vector(w), b),
      stringsAsFactors = FALSE
    )
  })
  out <- do.call(rbind, parts)
  rownames(out) <- NULL
  out
}

#' @rdname tidy.fwdprop_network
#' @export
glance.fwdprop_network <- function(x, ...) {
  net <- check_network(x, "x", call = sys.call())
  L <- length(net$weights)
  init <- init_record(net)
  n_w <- sum(lengths(net$weights))
  n_b <- sum(lengths(net$biases))
  data.frame(
    layers = L,
    inputs = net$sizes[[1L]],
    outputs = net$sizes[[L + 1L]],
    sizes = paste(net$sizes, collapse = "-"),
    activations = paste(net$activations, collapse = ", "),
    weights = n_w,
    biases = n_b,
    parameters = n_w + n_b,
    init = if (is.null(init)) NA_character_ else init$method,
    seed = if (is.null(init$seed)) NA_real_ else as.double(init$seed),
    stringsAsFactors = FALSE
  )
}

#' @importFrom generics tidy
#' @export
generics::tidy

#' @importFrom generics glance
#' @export
generics::glance
