#' A dense feed-forward network
#'
#' `network()` builds a fully connected network, either from layer sizes
#' (weights drawn by [init_weights()]) or from your own weight matrices.
#' [forward()] (or [predict()]) then runs data through it in one call into
#' fwdprop's Rust core.
#'
#' Weights are stored as plain R matrices with one row per input and one
#' column per output, `n_in x n_out`, the layout of the lecture's
#' `X %*% beta`: layer `l` computes `z = a %*% weights[[l]] + bias` and
#' `a = activation(z)`. Note that torch's `nn_linear()` stores the
#' transpose (`out_features x in_features`): use `t(layer$weight)` to bring
#' torch weights here.
#'
#' Activations: `"sigmoid"` (the logistic function, as [sigmoid()]),
#' `"relu"` (`max(z, 0)`), `"tanh"`, `"identity"`, `"softmax"` (each
#' row of the layer sums to 1; computed stably for large inputs), and as
#' torch defines them by default: `"leaky_relu"` (`z` for `z > 0`, else
#' `0.01 * z`), `"elu"` (`z` for `z > 0`, else `exp(z) - 1`), `"gelu"`
#' (the exact form `z * pnorm(z)`) and `"softplus"` (`log(1 + exp(z))`,
#' and `z` itself for `z > 20`).
#'
#' @param sizes Layer widths, input first: `c(2, 3, 1)` is the lecture's
#'   network with 2 inputs, 3 hidden nodes and 1 output. Whole numbers of
#'   at least 1, at least two of them. Optional when `weights` is given.
#' @param activation Activation of the hidden layers: one name, or one per
#'   hidden layer.
#' @param output Activation of the output layer; by default the same as the
#'   (last) hidden activation.
#' @param bias Whether the layers have bias vectors. Biases made by
#'   `network()` start at 0.
#' @param init Weight initialisation, see [init_weights()].
#' @param seed `NULL` or a whole number: layer `l` is drawn with seed
#'   `seed + l - 1`. With `NULL` a seed is drawn from R's generator, so
#'   [set.seed()] makes the network reproducible.
#' @param weights Instead of `sizes`: a list of numeric matrices, one per
#'   layer, `weights[[l]]` with `nrow` equal to `ncol(weights[[l - 1]])`.
#' @param biases With `weights`: `NULL`, or a list with one entry per layer,
#'   each `NULL` or a numeric vector of length `ncol(weights[[l]])`.
#' @return An object of class `fwdprop_network`: a list with `sizes`,
#'   `weights`, `biases` (a list, `NULL` entries for layers without bias),
#'   `activations` (one per layer) and `init` (method and seed, or `NULL`
#'   for user weights).
#' @seealso [forward()], [plot.fwdprop_network()], [init_weights()]
#' @export
#' @examples
#' set.seed(1234)
#' net <- network(c(2, 3, 1))
#' net
#' forward(net, matrix(1:6, ncol = 2, byrow = TRUE))
#'
#' # the lecture's weights, by hand
#' beta <- matrix(c(0.2827, 0.9234, 0.2923, 0.8373, 0.2862, 0.2668), 2)
#' gamma <- matrix(c(0.6235, 0.8609, 0.6403), 3)
#' net2 <- network(weights = list(beta, gamma))
#' summary(net2)
network <- function(sizes = NULL, activation = "sigmoid", output = NULL, bias = FALSE,
                    init = c("uniform", "normal", "xavier", "he"), seed = NULL,
                    weights = NULL, biases = NULL) {
  call <- sys.call()
  if (is.null(weights)) {
    if (is.null(sizes)) {
      fwdprop_error("give either `sizes` (e.g. `c(2, 3, 1)`) or `weights`.", call = call)
    }
    if (!is.null(biases)) {
      fwdprop_error("`biases` can only be given together with `weights`.", call = call)
    }
    sizes <- check_sizes(sizes, call = call)
    bias <- check_flag(bias, "bias", call = call)
    init <- check_choice(init, "init", init_methods, call = call)
    L <- length(sizes) - 1L
    seed <- check_seed(seed, call = call)
    params <- sum(as.double(sizes[-1L]) * (as.double(sizes[-length(sizes)]) + bias))
    check_memory(8 * params, sprintf("a network of %s parameters", format(params, big.mark = ",", scientific = FALSE)),
                 copies = 2, call = call)
    weights <- in_rust(lapply(seq_len(L), function(l) {
      init_weights_impl(sizes[l], sizes[l + 1L], init, (seed + l - 1) %% 2^53)
    }), call = call)
    biases <- lapply(seq_len(L), function(l) if (bias) numeric(sizes[l + 1L]) else NULL)
    init_info <- list(method = init, seed = seed)
  } else {
    if (is.matrix(weights)) {
      weights <- list(weights)
    }
    weights <- check_weights(weights, call = call)
    L <- length(weights)
    derived <- c(nrow(weights[[1L]]), vapply(weights, ncol, integer(1L)))
    if (!is.null(sizes)) {
      sizes <- check_sizes(sizes, call = call)
      if (!identical(sizes, derived)) {
        fwdprop_error(sprintf(
          "`sizes` (%s) does not match the shapes of `weights` (%s).",
          paste(sizes, collapse = ", "), paste(derived, collapse = ", ")
        ), call = call)
      }
    }
    sizes <- derived
    biases <- check_biases(biases, sizes, bias, call = call)
    init_info <- NULL
  }
  activations <- check_activations(activation, output, length(sizes) - 1L, call = call)
  if (activations[[length(activations)]] == "softmax" && sizes[[length(sizes)]] == 1L) {
    warning(fwdprop_warning(paste(
      "a softmax output layer of width 1 is always 1, whatever the inputs: it cannot be trained.",
      "For two classes use `output = \"sigmoid\"` (one output), or a softmax of width 2."
    ), call = call))
  }
  new_network(sizes, weights, biases, activations, init_info)
}

new_network <- function(sizes, weights, biases, activations, init = NULL) {
  structure(
    list(sizes = sizes, weights = weights, biases = biases,
         activations = activations, init = init),
    class = "fwdprop_network"
  )
}

check_sizes <- function(sizes, call) {
  if (!is.numeric(sizes) || length(sizes) < 2L || !is.null(dim(sizes))) {
    fwdprop_error(sprintf(
      "`sizes` must be a numeric vector of at least two layer widths, such as `c(2, 3, 1)`, not %s.",
      describe_value(sizes)
    ), call = call)
  }
  bad <- is.na(sizes) | !is.finite(sizes) | sizes < 1 | sizes != floor(sizes)
  if (any(bad)) {
    i <- which(bad)[[1L]]
    fwdprop_error(sprintf(
      "`sizes` must hold whole numbers >= 1, but `sizes[%d]` is %s.",
      i, format(sizes[[i]], digits = 15L)
    ), call = call)
  }
  # refuse layers too large to hold before anything is allocated
  for (l in seq_len(length(sizes) - 1L)) {
    check_matrix_size(sizes[l], sizes[l + 1L], sprintf("layer %d's weight matrix (`sizes[%d]` x `sizes[%d]`)", l, l, l + 1L), call = call)
  }
  as.integer(sizes)
}

# A list of weight matrices, one per layer, as double matrices whose shapes
# chain; errors name `arg` (`weights`, or `net$weights` for a network
# checked by forward()).
check_weights <- function(weights, call, arg = "weights") {
  if (!is.list(weights) || is.data.frame(weights) || length(weights) < 1L) {
    fwdprop_error(sprintf(
      "`%s` must be a list of numeric matrices, one per layer, not %s.",
      arg, describe_object(weights)
    ), call = call)
  }
  weights <- unname(weights)
  for (l in seq_along(weights)) {
    wl <- sprintf("%s[[%d]]", arg, l)
    weights[[l]] <- as_double_matrix(weights[[l]], wl, call = call)
    if (any(dim(weights[[l]]) == 0L)) {
      fwdprop_error(sprintf(
        "`%s` is %s: every layer needs at least one input and one output.",
        wl, shape_string(weights[[l]])
      ), call = call)
    }
    if (l > 1L && nrow(weights[[l]]) != ncol(weights[[l - 1L]])) {
      fwdprop_error(sprintf(
        "layer %d expects %d input%s (`%s[[%d]]` is %s) but `%s` has %d row%s (it is %s).",
        l, ncol(weights[[l - 1L]]), if (ncol(weights[[l - 1L]]) == 1L) "" else "s",
        arg, l - 1L, shape_string(weights[[l - 1L]]),
        wl, nrow(weights[[l]]), if (nrow(weights[[l]]) == 1L) "" else "s",
        shape_string(weights[[l]])
      ), call = call)
    }
  }
  weights
}

# One bias vector (or NULL) per layer, as doubles; errors name `arg`.
check_biases <- function(biases, sizes, bias, call, arg = "biases") {
  L <- length(sizes) - 1L
  if (is.null(biases)) {
    bias <- check_flag(bias, "bias", call = call)
    return(lapply(seq_len(L), function(l) if (bias) numeric(sizes[l + 1L]) else NULL))
  }
  if (!is.list(biases) || is.data.frame(biases) || length(biases) != L) {
    fwdprop_error(sprintf(
      "`%s` must be NULL or a list with one entry per layer (%d), not %s%s.",
      arg, L, describe_object(biases),
      if (is.list(biases)) sprintf(" of length %d", length(biases)) else ""
    ), call = call)
  }
  biases <- unname(biases)
  for (l in seq_len(L)) {
    b <- biases[[l]]
    if (is.null(b)) next
    if (!is.atomic(b) || !is_numeric_storage(b) || length(b) != sizes[l + 1L]) {
      fwdprop_error(sprintf(
        "`%s[[%d]]` must be NULL or a numeric vector of length %d (layer %d's outputs), not %s.",
        arg, l, sizes[l + 1L], l, describe_value(b)
      ), call = call)
    }
    biases[l] <- list(as.double(b))
  }
  biases
}

check_activations <- function(activation, output, L, call) {
  check_names <- function(x, arg) {
    if (!is_activation_names(x)) {
      bad <- if (is.character(x)) x[is.na(x) | !(x %in% activation_names)] else x
      fwdprop_error(sprintf(
        "`%s` must name activations out of %s; unknown: %s.",
        arg, activation_choices(),
        if (is.character(bad) && length(bad)) paste0("\"", bad, "\"", collapse = ", ") else describe_value(x)
      ), call = call)
    }
    x
  }
  activation <- check_names(activation, "activation")
  hidden <- L - 1L
  if (length(activation) != 1L && length(activation) != hidden) {
    fwdprop_error(sprintf(
      "`activation` must have length 1 or one entry per hidden layer (%d), not %d.",
      hidden, length(activation)
    ), call = call)
  }
  if (is.null(output)) {
    output <- activation[[length(activation)]]
  }
  output <- check_names(output, "output")
  if (length(output) != 1L) {
    fwdprop_error(sprintf("`output` must be a single activation name, not %d.", length(output)),
                  call = call)
  }
  c(rep_len(activation, hidden), output)
}

arrow <- function() if (isTRUE(l10n_info()[["UTF-8"]])) " \u2192 " else " -> "

#' @rdname print.fwdprop_network
#' @export
format.fwdprop_network <- function(x, ...) {
  format_network(check_network(x, "x", call = sys.call()))
}

# The lines of format() for a network already through check_network().
format_network <- function(net) {
  L <- length(net$weights)
  n_par <- sum(lengths(net$weights)) + sum(lengths(net$biases))
  lines <- sprintf("<fwdprop network> %s", paste(net$sizes, collapse = arrow()))
  for (l in seq_len(L)) {
    lines <- c(lines, sprintf(
      "  layer %d: %d%s%d, %s, %d weights%s",
      l, net$sizes[l], arrow(), net$sizes[l + 1L], net$activations[l], length(net$weights[[l]]),
      if (is.null(net$biases[[l]])) "" else sprintf(" + %d biases", length(net$biases[[l]]))
    ))
  }
  init <- init_record(net)
  lines <- c(lines, sprintf("  %d parameters%s", n_par, if (is.null(init)) "" else
    sprintf(", initialised \"%s\"%s", init$method,
            if (is.null(init$seed)) "" else sprintf(" with seed %s", format(init$seed, scientific = FALSE)))))
  lines <- c(lines, format_fitted(net))
  lines
}

# The lines format() adds for a fitted or imported network: classes,
# scaling, the training record.
format_fitted <- function(x) {
  lines <- character(0)
  if (!is.null(x[["levels"]])) {
    lines <- c(lines, sprintf("  classes: %s", paste(x$levels, collapse = ", ")))
  }
  if (!is.null(x[["scaling"]])) {
    lines <- c(lines, sprintf("  inputs centred and scaled%s",
                              if (is.null(x[["target_scaling"]])) "" else "; response too"))
  }
  tr <- x[["training"]]
  h <- x[["history"]]
  if (is.data.frame(h)) {
    # the history and record fit() attaches; parts of a hand-made record
    # may be missing
    if (!is.list(tr)) tr <- list()
    one <- function(v) if (is.character(v) && length(v) == 1L && !is.na(v)) v else NULL
    loss <- h[["loss"]]
    val <- h[["val_loss"]]
    unit <- if (identical(one(tr[["optimizer"]]), "bfgs")) "iterations" else "epochs"
    parts <- c(
      one(tr[["optimizer"]]),
      if (!is.null(one(tr[["loss"]]))) paste(tr[["loss"]], "loss"),
      paste(nrow(h), unit, if (!is.null(one(tr[["stopped"]]))) sprintf("(%s)", gsub("_", " ", tr[["stopped"]]))),
      if (is.numeric(loss) && length(loss) && is.finite(loss[[length(loss)]]))
        sprintf("loss %s", format(loss[[length(loss)]], digits = 4L)),
      if (is.numeric(val) && any(is.finite(val)))
        sprintf("best val_loss %s", format(min(val[is.finite(val)]), digits = 4L))
    )
    lines <- c(lines, paste0("  trained: ", paste(trimws(parts), collapse = ", ")))
  }
  lines
}

# A network's record of how its weights were drawn, list(method, seed), or
# NULL when it has none. The record is not used by any computation, so one
# edited into another shape is treated as no record rather than an error
# (forward() does not read it either, on any path).
init_record <- function(net) {
  init <- net[["init"]]
  ok <- is.list(init) && !is.object(init) &&
    is.character(init[["method"]]) && length(init[["method"]]) == 1L && !is.na(init[["method"]]) &&
    (is.null(init[["seed"]]) || (is.numeric(init[["seed"]]) && length(init[["seed"]]) == 1L &&
                                   !is.na(init[["seed"]])))
  if (ok) list(method = init[["method"]], seed = init[["seed"]]) else NULL
}

#' Print, format and summarise a network
#'
#' `print()` shows the architecture, the activations, the number of
#' weights and the weight matrices; `format()` returns the architecture
#' lines that `print()` starts with; `summary()` returns a table with one
#' row per layer.
#'
#' These methods, like [forward()] and [plot()][plot.fwdprop_network()],
#' first check the network: one whose parts were edited by hand into an
#' inconsistent state (`net$weights[[1]] <- "a"`, weights whose shapes do
#' not chain, `sizes` or `activations` that do not match the weights) is
#' refused with an error of class `fwdprop_error` naming the broken part.
#' Extra fields (such as a training record) are kept and ignored.
#'
#' In R Markdown documents a network shows as tables instead, see
#' [knit_print.fwdprop_network()].
#'
#' @param x,object A `fwdprop_network`.
#' @param digits Digits for the weight matrices: a whole number from 0 to 15.
#' @param weights `NULL`, `TRUE` or `FALSE`: whether `print()` shows the
#'   weight matrices (`NULL`, the default: when the network has at most 200
#'   parameters).
#' @param ... Unused.
#' @return `print()` returns `x` invisibly; `format()` a character vector,
#'   one element per line; `summary()` a data frame of class
#'   `summary.fwdprop_network` with columns `layer`, `inputs`, `outputs`,
#'   `activation`, `weights`, `biases`.
#' @name print.fwdprop_network
#' @export
#' @examples
#' net <- network(c(2, 3, 1), seed = 1)
#' print(net)
#' format(net)
#' summary(net)
#'
#' # a network edited by hand into an inconsistent state is refused
#' net$weights[[2]] <- matrix(1, 4, 1)
#' try(print(net))
print.fwdprop_network <- function(x, digits = 4L, weights = NULL, ...) {
  call <- sys.call()
  net <- check_network(x, "x", call = call)
  digits <- check_digits(digits, call = call)
  if (!is.null(weights)) weights <- check_flag(weights, "weights", call = call)
  cat(format_network(net), sep = "\n")
  n_par <- sum(lengths(net$weights)) + sum(lengths(net$biases))
  if (is.null(weights)) weights <- n_par <= 200L
  if (weights) {
    for (l in seq_along(net$weights)) {
      cat(sprintf("weights[[%d]] (%s):\n", l, shape_string(net$weights[[l]])))
      print(round(net$weights[[l]], digits))
      if (!is.null(net$biases[[l]])) {
        cat(sprintf("biases[[%d]]:\n", l))
        print(round(net$biases[[l]], digits))
      }
    }
  }
  invisible(x)
}

#' @rdname print.fwdprop_network
#' @export
summary.fwdprop_network <- function(object, ...) {
  out <- layer_table(check_network(object, "object", call = sys.call()))
  class(out) <- c("summary.fwdprop_network", class(out))
  out
}

# One row per layer of a checked network (summary() and knit_print()).
layer_table <- function(net) {
  L <- length(net$weights)
  data.frame(
    layer = seq_len(L),
    inputs = net$sizes[-(L + 1L)],
    outputs = net$sizes[-1L],
    activation = net$activations,
    weights = lengths(net$weights),
    biases = lengths(net$biases),
    stringsAsFactors = FALSE
  )
}

#' @export
print.summary.fwdprop_network <- function(x, ...) {
  cat(sprintf("fwdprop network %s: %d layers, %d parameters\n",
              paste(c(x$inputs[1L], x$outputs), collapse = arrow()),
              nrow(x), sum(x$weights) + sum(x$biases)))
  print(as.data.frame(unclass(x), stringsAsFactors = FALSE), row.names = FALSE)
  invisible(x)
}

# forward() trusts nothing in a network beyond its class: a network whose
# parts were edited by hand is checked against what network() builds (and
# its numeric parts coerced to double), with errors naming `arg`. Every
# function that takes a network calls this first (forward(), predict(),
# print(), format(), summary(), plot(), knit_print(), tidy(), glance()) and
# then works on the checked network it returns; fields it does not know
# (a training record, class levels, ...) are returned unchanged.
check_network <- function(net, arg = "net", call = sys.call(-1L)) {
  if (!inherits(net, "fwdprop_network")) {
    fwdprop_error(sprintf(
      "`%s` must be a network made by `network()`, not %s.", arg, describe_object(net)
    ), call = call)
  }
  bad <- function(fmt, ...) {
    fwdprop_error(sprintf(
      "`%s` is not a valid network: %s. Make networks with `network()`.", arg, sprintf(fmt, ...)
    ), call = call)
  }
  if (!is.list(net)) {
    bad("it is %s, not a list", describe_object(if (is.environment(net)) net else unclass(net)))
  }
  w <- check_weights(net[["weights"]], call = call, arg = sprintf("%s$weights", arg))
  L <- length(w)
  sizes <- c(nrow(w[[1L]]), vapply(w, ncol, integer(1L)))
  s <- net[["sizes"]]
  if (!is.numeric(s) || length(s) != L + 1L || anyNA(s) || any(s != sizes)) {
    bad("`%s$sizes` (%s) does not match the shapes of `%s$weights` (%s)",
        arg, if (is.numeric(s) && length(s)) paste(s, collapse = ", ") else describe_value(s),
        arg, paste(sizes, collapse = ", "))
  }
  b <- check_biases(net[["biases"]], sizes, FALSE, call = call, arg = sprintf("%s$biases", arg))
  a <- net[["activations"]]
  if (!is_activation_names(a) || length(a) != L) {
    bad("`%s$activations` must name one activation per layer (%d) out of %s, not %s",
        arg, L, activation_choices(),
        if (is.character(a) && length(a) > 1L) {
          sprintf("c(%s)", paste0("\"", a, "\"", collapse = ", "))
        } else {
          describe_value(a)
        })
  }
  net[["weights"]] <- w
  net[["biases"]] <- b
  net[["sizes"]] <- sizes
  net[["activations"]] <- unname(a)
  check_network_extras(net, arg, call)
  net
}
