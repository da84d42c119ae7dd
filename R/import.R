# Weights in and out: networks fitted by other tools (nnet, neuralnet,
# torch for R) as fwdprop networks, and safetensors files (PyTorch's
# nn.Sequential state_dict) read and written through the safetensors crate
# (src/rust/glue/src/safetensors.rs). Imported networks carry the optional
# fields R/data.R describes (input names, class levels, formula terms), so
# predict() takes the data the source tool's predict() takes.

#' Convert a fitted network from another tool
#'
#' `as_network()` turns a network trained elsewhere into a
#' `fwdprop_network` with the same weights, biases and activations, so that
#' [predict()][predict.fwdprop_network()] (or [forward()]) scores data with
#' it in fwdprop's Rust core, without the other tool. The network keeps its
#' input names (as the row names of its first weight matrix) and, for
#' classifiers, its class levels: `predict()` picks the inputs of a data
#' frame or named matrix by name, and `type = "class"` gives the source
#' tool's classes.
#'
#' @section nnet:
#' Fits of [nnet::nnet()] (formula or x/y, classification or regression)
#' and [nnet::multinom()]. The weights come from `wts` in nnet's own layout
#' (one block per hidden and output unit: its bias, then one weight per
#' unit of the layer before), the hidden layer is logistic, and the output
#' is `"softmax"` for `softmax = TRUE` fits (a factor response with more
#' than two levels), `"identity"` for `linout = TRUE` and logistic
#' otherwise (`entropy = TRUE`, or a factor response with two levels: one
#' output, the probability of the second level). For formula fits the
#' network keeps the terms, factor levels and contrasts of the fit, so
#' `predict()` takes a data frame with factor predictors as
#' `predict.nnet()` does. A fit with skip-layer connections (`skip = TRUE`
#' with a hidden layer) feeds its inputs straight to its outputs, which a
#' chain of dense layers cannot represent: it is an error (a `skip = TRUE`
#' fit with `size = 0`, such as a `multinom()` fit, is a single layer and
#' converts).
#'
#' `predict(as_network(f), newdata, type = "class")` gives the classes of
#' `predict(f, newdata, type = "class")` (as a factor, where
#' `predict.nnet()` returns a character vector), and the raw outputs agree
#' to about 1e-15 relative, except where nnet's own logistic function is
#' clamped: nnet returns exactly 0 or 1 for inputs beyond +-15, where the
#' logistic function is within 3.1e-7 of them, and fwdprop computes it
#' exactly. On rows where a hidden or output unit reaches that range, the
#' unit differs by at most 3.1e-7 and the outputs by that much passed on
#' through the weights after it; classes are the same except at a tie
#' within that margin.
#'
#' @section neuralnet:
#' Fits of `neuralnet::neuralnet()`: `weights[[rep]]` holds one matrix per
#' layer with the biases in its first row; the activation is `act.fct`
#' (`"logistic"` or `"tanh"`; a custom function is R code that fwdprop
#' cannot run, and an error) on every hidden layer and, with
#' `linear.output = FALSE`, on the output. The inputs are named after the
#' formula's covariates and the outputs after its responses. A classifier
#' (a logistic output fitted to a logical or one-hot response) gets class
#' levels: `"FALSE"` and `"TRUE"` for one output, or the responses (the
#' classes of a factor response) for several. `rep = "best"` takes the
#' repetition with the smallest error; note that neuralnet's own `predict()`
#' and `compute()` use `rep = 1` unless told. Weights excluded from
#' training (`exclude`, `NA` in `weights`) are 0, as in training.
#'
#' @section torch:
#' A torch for R `nn_sequential()` of `nn_linear()` modules, each followed
#' by at most one activation module (`nn_sigmoid()`, `nn_tanh()`,
#' `nn_relu()`, `nn_softmax(dim = 2)` or `-1`, `nn_identity()`), or a lone
#' `nn_linear()`; nested `nn_sequential()` modules are flattened and
#' `nn_dropout()` is skipped (it is the identity when predicting). Weights
#' are copied to double precision (exactly, from float32) and transposed
#' from torch's `out_features x in_features` to fwdprop's `in x out`. Needs
#' the torch package; anything else (convolutions, normalisation, other
#' activations) is an error naming the module.
#'
#' @param x A fitted model: an `nnet` or `multinom` fit, a `neuralnet`
#'   fit (class `nn`), a torch `nn_sequential` or `nn_linear` module, or a
#'   `fwdprop_network` (returned as it is, after checking it).
#' @param rep For neuralnet fits: `"best"` (the repetition with the
#'   smallest error in `result.matrix`) or the number of a repetition.
#' @param ... Not used; any argument here is an error.
#' @return A `fwdprop_network` (see [network()]): its weights, biases and
#'   activations, with input names, and `$levels` for classifiers and
#'   `$terms` for nnet formula fits.
#' @seealso [read_safetensors()] and [write_safetensors()] for PyTorch;
#'   [predict.fwdprop_network()].
#' @export
#' @examples
#' # an nnet classifier, scored by fwdprop
#' set.seed(1)
#' f <- nnet::nnet(Species ~ ., data = iris, size = 3, trace = FALSE)
#' net <- as_network(f)
#' net
#' table(fwdprop = predict(net, iris, type = "class"),
#'       nnet = predict(f, iris, type = "class"))
#'
#' # the same probabilities (up to nnet's clamped logistic, see above)
#' head(cbind(predict(net, iris), predict(f, iris)))
#'
#' # regression from a matrix
#' x <- as.matrix(mtcars[, c("wt", "hp")])
#' r <- nnet::nnet(x, mtcars$mpg, size = 2, linout = TRUE, trace = FALSE)
#' all.equal(predict(as_network(r), x), predict(r, x), check.attributes = FALSE)
as_network <- function(x, ...) {
  UseMethod("as_network")
}

#' @rdname as_network
#' @export
as_network.default <- function(x, ...) {
  what <- if (is.object(x)) {
    sprintf("an object of class %s", paste0("\"", class(x), "\"", collapse = "/"))
  } else {
    describe_object(x)
  }
  fwdprop_error(sprintf(paste(
    "`x` is %s, which `as_network()` cannot convert. It converts fits of",
    "`nnet::nnet()`, `nnet::multinom()` and `neuralnet::neuralnet()`, torch",
    "`nn_sequential()` modules, and fwdprop networks."
  ), what), call = sys.call())
}

#' @rdname as_network
#' @export
as_network.fwdprop_network <- function(x, ...) {
  call <- sys.call()
  check_no_dots(..., fun = "as_network()", call = call)
  check_network(x, "x", call = call)
}

# ---- nnet ------------------------------------------------------------------

#' @rdname as_network
#' @export
as_network.nnet <- function(x, ...) {
  call <- sys.call()
  check_no_dots(..., fun = "as_network()", call = call)
  bad <- function(fmt, ...) {
    fwdprop_error(sprintf("`x` is not a valid nnet fit: %s.", sprintf(fmt, ...)), call = call)
  }
  layers <- nnet_layers(x, call)
  k <- layers$sizes[[length(layers$sizes)]]
  out_act <- nnet_output(x, layers$sizes, call)
  L <- length(layers$weights)
  net <- network(weights = layers$weights, biases = layers$biases,
                 activation = "sigmoid", output = out_act)
  names_of <- function(v, field, n) {
    if (!is.character(v) || length(v) != n) return(NULL)
    if (anyNA(v)) bad("%s must be names, not NA", field)
    v
  }
  inputs <- names_of(x[["coefnames"]], "`x$coefnames`", net$sizes[[1L]])
  if (!is.null(inputs)) rownames(net$weights[[1L]]) <- inputs
  outputs <- names_of(colnames(x[["fitted.values"]]), "the column names of `x$fitted.values`", k)
  if (!is.null(outputs)) colnames(net$weights[[L]]) <- outputs
  lev_field <- if (is.null(x[["lev"]]) && inherits(x, "multinom")) "lab" else "lev"
  lev <- x[[lev_field]]
  # nnet keeps every level of a response with empty classes (which it drops
  # for fitting): only levels that match the outputs are class levels
  if (out_act != "identity" && is.character(lev) && length(lev) == (if (k == 1L) 2L else k)) {
    if (anyNA(lev) || anyDuplicated(lev)) {
      bad("`x$%s` must be the distinct names of its classes, not c(%s)", lev_field,
          paste(ifelse(is.na(lev), "NA", paste0("\"", lev, "\"")), collapse = ", "))
    }
    net$levels <- lev
  }
  if (inherits(x, "nnet.formula") || inherits(x, "multinom")) {
    if (!inherits(x$terms, "terms")) {
      bad("`x$terms` must be the terms of the formula it was fitted with, not %s", describe_value(x$terms))
    }
    named_list_of <- function(v, ok) {
      is.null(v) || (is.list(v) && (length(v) == 0L || (
        !is.null(names(v)) && !anyNA(names(v)) && all(nzchar(names(v))) && all(vapply(v, ok, logical(1L)))
      )))
    }
    if (!named_list_of(x$xlevels, function(l) is.character(l) && !anyNA(l))) {
      bad("`x$xlevels` must be a named list of the levels of its factor predictors, not %s",
          describe_value(x$xlevels))
    }
    contrast <- function(v) {
      (is.character(v) && length(v) == 1L && !is.na(v)) || is.function(v) || (is.matrix(v) && is.numeric(v))
    }
    if (!named_list_of(x$contrasts, contrast)) {
      bad("`x$contrasts` must be a named list of contrasts (names of contrast functions, functions or numeric matrices), not %s",
          describe_value(x$contrasts))
    }
    net$terms <- list(terms = stats::delete.response(x$terms), xlevels = x$xlevels,
                      contrasts = x$contrasts)
  }
  if (inherits(x, "multinom")) {
    net <- fold_intercept_input(net)
  }
  net
}

# The dense layers of an nnet fit, from its units' connections: `conn`
# lists the source unit of every weight in `wts`, unit by unit (`nconn`
# holds where each unit's block starts); unit 0 is the bias, units 1..n[1]
# the inputs, then n[2] hidden units, then n[3] outputs. Every field is
# checked before it is used (an edited or damaged fit is an error naming
# the field, never an R error or a wrong network).
nnet_layers <- function(x, call) {
  bad <- function(fmt, ...) {
    fwdprop_error(sprintf("`x` is not a valid nnet fit: %s.", sprintf(fmt, ...)), call = call)
  }
  n <- x[["n"]]
  if (!is.numeric(n) || length(n) != 3L || !all(is_whole(n)) || any(n < c(1, 0, 1)) ||
      any(n > .Machine$integer.max)) {
    bad(paste("`x$n` must be the numbers of input, hidden and output units (three whole numbers,",
              "at least 1, 0 and 1), not %s"), show_numbers(n))
  }
  n_units <- 1 + sum(n) # the bias unit, the inputs, the hidden and the output units
  n_text <- sprintf("c(%s)", paste(n, collapse = ", "))
  nconn <- x[["nconn"]]
  if (!is.numeric(nconn) || length(nconn) != n_units + 1) {
    bad(paste("`x$nconn` must be %s numbers for `x$n` = %s (where the weights of each unit,",
              "the bias unit first, start in `x$wts`, and where they end), not %s"),
        format(n_units + 1, scientific = FALSE), n_text, show_numbers(nconn))
  }
  at <- match(FALSE, is_whole(nconn))
  if (!is.na(at) || nconn[[1L]] != 0) {
    if (is.na(at)) at <- 1L
    bad("`x$nconn` must be whole numbers from 0, but its element %d is %s", at, show_numbers(nconn[[at]]))
  }
  at <- match(TRUE, diff(nconn) < 0)
  if (!is.na(at)) {
    bad("`x$nconn` must never decrease, but its element %d (%s) is less than element %d (%s)",
        at + 1L, show_numbers(nconn[[at + 1L]]), at, show_numbers(nconn[[at]]))
  }
  inputs_end <- n[[1L]] + 2 # nconn's element after the last input unit's
  if (nconn[[inputs_end]] != 0) {
    bad("`x$nconn` gives weights to the bias or input units (its first %s elements must be 0)",
        format(inputs_end, scientific = FALSE))
  }
  wts <- x[["wts"]]
  if (!is.numeric(wts) || !is.null(dim(wts))) {
    bad("`x$wts` must be a numeric vector of weights, not %s", describe_value(wts))
  }
  if (length(wts) != nconn[[length(nconn)]]) {
    bad("`x$nconn` says `x$wts` holds %s weights, but it holds %d",
        format(nconn[[length(nconn)]], scientific = FALSE), length(wts))
  }
  if (!all(is.finite(wts))) {
    k <- sum(!is.finite(wts))
    bad("`x$wts` holds %d NA, NaN or infinite weight%s, which is not a usable network",
        k, if (k == 1L) "" else "s")
  }
  conn <- x[["conn"]]
  if (!is.numeric(conn) || length(conn) != length(wts)) {
    bad("`x$conn` must hold the source unit of each of the %d weights in `x$wts`, not %s",
        length(wts), show_numbers(conn))
  }
  at <- match(FALSE, is_whole(conn) & conn >= 0 & conn < n_units)
  if (!is.na(at)) {
    bad("`x$conn` must hold units, whole numbers from 0 to %s (the bias and the units of `x$n` = %s), but its element %d is %s",
        format(n_units - 1, scientific = FALSE), n_text, at, show_numbers(conn[[at]]))
  }
  n <- as.integer(n)
  inputs <- seq_len(n[[1L]])
  hidden <- n[[1L]] + seq_len(n[[2L]])
  outputs <- n[[1L]] + n[[2L]] + seq_len(n[[3L]])
  from <- if (n[[2L]] > 0L) list(inputs, hidden) else list(inputs)
  to <- if (n[[2L]] > 0L) list(hidden, outputs) else list(outputs)
  weights <- biases <- vector("list", length(to))
  for (l in seq_along(to)) {
    W <- matrix(0, length(from[[l]]), length(to[[l]]))
    b <- numeric(length(to[[l]]))
    for (j in seq_along(to[[l]])) {
      u <- to[[l]][[j]]
      idx <- seq.int(nconn[[u + 1L]] + 1, length.out = nconn[[u + 2L]] - nconn[[u + 1L]])
      src <- conn[idx]
      if (anyDuplicated(src)) {
        bad("`x$conn` connects unit %d to unit %s twice", u, format(src[anyDuplicated(src)], scientific = FALSE))
      }
      b[[j]] <- sum(wts[idx][src == 0])
      pos <- match(src, from[[l]])
      other <- src != 0 & is.na(pos)
      if (any(other)) {
        if (l == length(to) && n[[2L]] > 0L && all(src[other] %in% inputs)) {
          fwdprop_error(paste(
            "`x` has skip-layer connections (it was fitted with `skip = TRUE`): its inputs feed",
            "its outputs directly as well as through the hidden layer, which a fwdprop network",
            "(a chain of dense layers) cannot represent. Refit without `skip`."
          ), call = call)
        }
        bad("`x$conn` connects %s unit %d to unit %s, which is not in the layer before it (units %d to %d)",
            if (l == length(to)) "output" else "hidden", u, format(src[other][[1L]], scientific = FALSE),
            min(from[[l]]), max(from[[l]]))
      }
      keep <- !is.na(pos)
      W[pos[keep], j] <- wts[idx][keep]
    }
    weights[[l]] <- W
    biases[[l]] <- b
  }
  sizes <- c(n[[1L]], if (n[[2L]] > 0L) n[[2L]], n[[3L]])
  list(weights = weights, biases = biases, sizes = sizes)
}

# The output activation of an nnet fit: "softmax" for `softmax = TRUE`
# fits, "identity" for `linout = TRUE` ones (nnet's units 0 to
# `nsunits - 1` are logistic, and `linout = TRUE` and `softmax = TRUE`
# fits leave the outputs out of them), logistic otherwise.
nnet_output <- function(x, n, call) {
  bad <- function(fmt, ...) {
    fwdprop_error(sprintf("`x` is not a valid nnet fit: %s.", sprintf(fmt, ...)), call = call)
  }
  softmax <- x[["softmax"]]
  if (!is.null(softmax) && !(is.logical(softmax) && length(softmax) == 1L && !is.na(softmax))) {
    bad("`x$softmax` must be TRUE or FALSE, not %s", describe_value(softmax))
  }
  n_units <- 1 + sum(n)
  nunits <- x[["nunits"]]
  if (!is.numeric(nunits) || length(nunits) != 1L || is.na(nunits) || nunits != n_units) {
    bad("`x$nunits` must be the number of units, 1 + sum(`x$n`) = %s, not %s",
        format(n_units, scientific = FALSE), describe_value(nunits))
  }
  nsunits <- x[["nsunits"]]
  k <- n[[length(n)]]
  if (!is.numeric(nsunits) || length(nsunits) != 1L || is.na(nsunits) ||
      !(nsunits %in% c(n_units, n_units - k))) {
    bad(paste("`x$nsunits` must be %s (all the units, as `x$nunits`) or %s (all but the outputs,",
              "for a fit with `linout = TRUE` or `softmax = TRUE`), not %s"),
        format(n_units, scientific = FALSE), format(n_units - k, scientific = FALSE),
        describe_value(nsunits))
  }
  if (isTRUE(softmax)) "softmax" else if (nsunits < n_units) "identity" else "sigmoid"
}

# Whether each value is a whole number (not NA, NaN or infinite).
is_whole <- function(x) {
  !is.na(x) & is.finite(x) & x == floor(x)
}

# Numbers for a message: a short vector as c(...), anything else described.
show_numbers <- function(x) {
  if (is.numeric(x) && is.null(dim(x)) && length(x) >= 2L && length(x) <= 6L) {
    sprintf("c(%s)", paste(vapply(x, format, "", digits = 15L, scientific = 12L), collapse = ", "))
  } else {
    describe_value(x)
  }
}

# multinom() fits take the model matrix with its "(Intercept)" column as an
# input: fold that column's weights into the biases, so the network takes
# the model matrix as fwdprop builds it (without the intercept).
fold_intercept_input <- function(net) {
  i <- match("(Intercept)", rownames(net$weights[[1L]]))
  if (is.na(i) || nrow(net$weights[[1L]]) < 2L) {
    return(net)
  }
  net$biases[[1L]] <- net$biases[[1L]] + net$weights[[1L]][i, ]
  net$weights[[1L]] <- net$weights[[1L]][-i, , drop = FALSE]
  net$sizes[[1L]] <- net$sizes[[1L]] - 1L
  net
}

# ---- neuralnet -------------------------------------------------------------

#' @rdname as_network
#' @export
as_network.nn <- function(x, rep = "best", ...) {
  call <- sys.call()
  check_no_dots(..., fun = "as_network()", call = call)
  bad <- function(fmt, ...) {
    fwdprop_error(sprintf("`x` is not a valid neuralnet fit: %s.", sprintf(fmt, ...)), call = call)
  }
  reps <- x$weights
  if (!is.null(reps) && !is.list(reps)) {
    bad("`x$weights` must be a list with one list of weight matrices per repetition, not %s",
        describe_value(reps))
  }
  if (length(reps) == 0L || all(vapply(reps, is.null, logical(1L)))) {
    fwdprop_error(paste(
      "`x` holds no weights: none of its repetitions reached the threshold within `stepmax`.",
      "Refit it (a larger `stepmax` or `threshold`)."
    ), call = call)
  }
  r <- neuralnet_rep(x, rep, length(reps), call)
  w <- reps[[r]]
  if (is.null(w)) {
    fwdprop_error(sprintf(
      "`rep = %d` did not converge: `x` holds no weights for it. Use `rep = \"best\"` or another repetition.",
      r
    ), call = call)
  }
  if (!is.list(w) || length(w) == 0L ||
      !all(vapply(w, function(m) is.matrix(m) && is.numeric(m) && nrow(m) >= 2L, logical(1L)))) {
    bad("`x$weights[[%d]]` must be a list of numeric matrices, the biases in their first row", r)
  }
  act <- x$act.fct
  type <- attr(act, "type")
  if (!is.function(act) || !is.character(type) || length(type) != 1L || is.na(type)) {
    bad("`x$act.fct` must be neuralnet's activation function, with its \"type\"")
  }
  if (!(type %in% c("logistic", "tanh"))) {
    fwdprop_error(paste(
      "`x` was fitted with a custom activation function (`act.fct`), R code that fwdprop cannot",
      "run: it converts neuralnet fits with `act.fct = \"logistic\"` or `\"tanh\"`."
    ), call = call)
  }
  linear <- x$linear.output
  if (!is.logical(linear) || length(linear) != 1L || is.na(linear)) {
    bad("`x$linear.output` must be TRUE or FALSE")
  }
  if (anyNA(unlist(w))) {
    if (is.null(x$exclude)) bad("`x$weights[[%d]]` holds NA weights", r)
    w <- lapply(w, function(m) {
      m[is.na(m)] <- 0
      m
    })
  }
  if (!all(vapply(w, function(m) all(is.finite(m)), logical(1L)))) {
    bad("`x$weights[[%d]]` holds infinite weights, which is not a usable network", r)
  }
  act <- if (type == "logistic") "sigmoid" else "tanh"
  weights <- lapply(w, function(m) unname(m[-1L, , drop = FALSE]))
  biases <- lapply(w, function(m) as.vector(m[1L, ]))
  net <- tryCatch(
    network(weights = weights, biases = biases, activation = act,
            output = if (linear) "identity" else act),
    fwdprop_error = function(e) bad("its weight matrices do not chain (%s)", conditionMessage(e))
  )
  L <- length(net$weights)
  k <- net$sizes[[L + 1L]]
  ml <- x$model.list
  if (!is.null(ml) && !is.list(ml)) {
    bad("`x$model.list` must be a list of the formula's `response` and `variables`, not %s",
        describe_value(ml))
  }
  names_of <- function(field, n) {
    v <- ml[[field]]
    if (!is.character(v) || length(v) != n) return(NULL)
    if (anyNA(v)) bad("`x$model.list$%s` must be names, not NA", field)
    v
  }
  inputs <- names_of("variables", net$sizes[[1L]])
  if (!is.null(inputs)) rownames(net$weights[[1L]]) <- inputs
  responses <- names_of("response", k)
  if (!is.null(responses)) colnames(net$weights[[L]]) <- responses
  y <- x$response
  if (!linear && act == "sigmoid" && is.matrix(y) && ncol(y) == k &&
      (is.logical(y) || (is.numeric(y) && all(y %in% c(0, 1))))) {
    if (k == 1L && is.logical(y)) {
      net$levels <- c("FALSE", "TRUE")
    } else if (k > 1L && is.character(responses) && length(responses) == k &&
               !anyDuplicated(responses) && isTRUE(all(rowSums(y == 1) == 1L))) {
      net$levels <- responses
    }
  }
  net
}

neuralnet_rep <- function(x, rep, n_reps, call) {
  if (identical(rep, "best")) {
    rm <- x$result.matrix
    err <- if (is.numeric(rm)) tryCatch(as.numeric(rm["error", ]), error = function(e) NULL)
    if (length(err) != n_reps || all(is.na(err))) {
      fwdprop_error(paste(
        "`rep = \"best\"` needs the errors of the repetitions (`x$result.matrix[\"error\", ]`),",
        "which `x` does not have: give the number of a repetition."
      ), call = call)
    }
    return(which.min(err))
  }
  if (!is.numeric(rep) || length(rep) != 1L || is.na(rep) || rep < 1 || rep != floor(rep) ||
      rep > n_reps) {
    fwdprop_error(sprintf(
      "`rep` must be \"best\" or the number of a repetition, from 1 to %d, not %s.",
      n_reps, describe_value(rep)
    ), call = call)
  }
  as.integer(rep)
}

# ---- torch for R -----------------------------------------------------------

#' @rdname as_network
#' @export
as_network.nn_module <- function(x, ...) {
  call <- sys.call()
  check_no_dots(..., fun = "as_network()", call = call)
  if (!inherits(x, c("nn_sequential", "nn_linear"))) {
    fwdprop_error(sprintf(paste(
      "`x` is a torch module of class \"%s\": `as_network()` converts an `nn_sequential()`",
      "of `nn_linear()` and activation modules, or a lone `nn_linear()`."
    ), class(x)[[1L]]), call = call)
  }
  modules <- torch_modules(x)
  weights <- biases <- list()
  acts <- character(0)
  for (i in seq_along(modules)) {
    m <- modules[[i]]
    what <- sprintf("module %d (%s)", i, class(m)[[1L]])
    if (inherits(m, "nn_linear")) {
      w <- torch_values(m$weight, sprintf("%s's weight", what), call)
      b <- m$bias
      if (!is.matrix(w)) {
        fwdprop_error(sprintf("`x`'s %s has a weight that is not a matrix.", what), call = call)
      }
      weights[[length(weights) + 1L]] <- t(w)
      biases[length(weights)] <- list(if (is.null(b)) NULL else {
        as.vector(torch_values(b, sprintf("%s's bias", what), call))
      })
      acts[[length(weights)]] <- "identity"
      next
    }
    act <- torch_activation(m)
    if (is.na(act)) {
      if (inherits(m, "nn_softmax")) {
        fwdprop_error(sprintf(
          "`x`'s %s is a softmax over dimension %s; fwdprop's softmax is over each row's outputs (`nn_softmax(dim = 2)` or `-1`).",
          what, describe_value(m$dim)
        ), call = call)
      }
      fwdprop_error(sprintf(paste(
        "`x`'s %s is not a layer fwdprop has: it converts `nn_linear()` followed by",
        "`nn_sigmoid()`, `nn_tanh()`, `nn_relu()`, `nn_softmax(dim = 2)` or `nn_identity()`",
        "(and skips `nn_dropout()`)."
      ), what), call = call)
    }
    if (act == "skip") next
    if (length(weights) == 0L || acts[[length(weights)]] != "identity") {
      fwdprop_error(sprintf(
        "`x`'s %s does not follow an `nn_linear()` layer: fwdprop networks apply one activation after each dense layer.",
        what
      ), call = call)
    }
    acts[[length(weights)]] <- act
  }
  if (length(weights) == 0L) {
    fwdprop_error("`x` has no `nn_linear()` layer.", call = call)
  }
  L <- length(weights)
  tryCatch(
    network(weights = weights, biases = biases,
            activation = if (L > 1L) acts[-L] else acts[[L]], output = acts[[L]]),
    fwdprop_error = function(e) {
      fwdprop_error(sprintf("`x`'s layers do not chain: %s", conditionMessage(e)), call = call)
    }
  )
}

# The modules of a torch module in order, nested nn_sequential() flattened.
torch_modules <- function(x) {
  if (!inherits(x, "nn_sequential")) {
    return(list(x))
  }
  out <- list()
  for (m in unname(x$children)) {
    out <- c(out, torch_modules(m))
  }
  out
}

# fwdprop's name for a torch activation module, "skip" for a module that
# is the identity when predicting, NA for anything else.
torch_activation <- function(m) {
  if (inherits(m, "nn_sigmoid")) return("sigmoid")
  if (inherits(m, "nn_tanh")) return("tanh")
  if (inherits(m, "nn_relu")) return("relu")
  if (inherits(m, "nn_identity")) return("identity")
  if (inherits(m, "nn_dropout")) return("skip")
  if (inherits(m, "nn_softmax")) {
    d <- m$dim
    return(if (is.numeric(d) && length(d) == 1L && !is.na(d) && d %in% c(2, -1)) "softmax" else NA_character_)
  }
  NA_character_
}

# A torch tensor (a weight or bias) as a double matrix or vector.
torch_values <- function(t, what, call) {
  if (inherits(t, "torch_tensor")) {
    if (!torch_available()) {
      fwdprop_error(sprintf("`x`'s %s is a torch tensor, but the torch package is not installed.", what),
                    call = call)
    }
    t <- torch::as_array(t$detach()$cpu()$to(dtype = torch::torch_float64()))
  }
  if (!is.numeric(t) || length(dim(t)) > 2L) {
    fwdprop_error(sprintf("`x`'s %s must be a numeric tensor, not %s.", what, describe_object(t)),
                  call = call)
  }
  storage.mode(t) <- "double"
  t
}

# ---- safetensors -----------------------------------------------------------

#' Read and write networks as safetensors files (PyTorch)
#'
#' `write_safetensors()` saves a network in the safetensors format, the way
#' PyTorch saves an `nn.Sequential`'s `state_dict()`: tensors `0.weight`,
#' `0.bias`, `2.weight`, ... (the positions of the `nn.Linear` modules in an
#' `nn.Sequential` with one activation module after each layer, none after
#' an `"identity"` layer), weights in PyTorch's `out_features x
#' in_features` layout (the transpose of fwdprop's), in float64.
#' `read_safetensors()` reads such a file, written by fwdprop or by PyTorch
#' (`safetensors.torch.save_file(model.state_dict(), path)`), into a
#' network. Both go through Hugging Face's reference implementation of the
#' format (the Rust `safetensors` crate).
#'
#' A state_dict holds the weights but not the activations: they come from
#' `activation` and `output` (as in [network()]), or, in files written by
#' `write_safetensors()`, from the file's metadata. `write_safetensors()`
#' stores in the metadata (`__metadata__`, JSON strings under the keys
#' `fwdprop.sizes`, `fwdprop.activations`, `fwdprop.inputs`,
#' `fwdprop.outputs`, `fwdprop.levels`, `fwdprop.scaling`,
#' `fwdprop.target_scaling`, `fwdprop.init`, `fwdprop.dimnames`) whatever
#' `predict()` needs, so that reading the file back gives the identical
#' network, and PyTorch users can rebuild the `nn.Sequential` from it (see
#' the article "Bring your own weights" on the package website). Not stored:
#' the formula of a network fitted with one (`$terms`: a file holds numbers
#' and names, never R code) and its training record and history; a network read back
#' takes its inputs by name, as the columns of the model matrix.
#'
#' `read_safetensors()` reads F64 tensors, and F32 tensors converted to
#' double exactly. It checks everything a file declares before using it:
#' the header's length against the file's size, the bytes its tensors
#' declare against the bytes the file holds (before reading any data), then
#' the whole file with the crate's validation (offsets, shapes, dtypes);
#' tensor names that are not an `nn.Sequential`'s weights and biases,
#' shapes that do not chain, non-finite values and metadata that does not
#' fit the tensors are errors. A file is read once into memory, so reading
#' needs about twice the file's size (the file, and the network's
#' matrices).
#'
#' @param path File name of the `.safetensors` file.
#' @param activation,output Activations of the hidden layers and of the
#'   output layer, as in [network()]. When both are `NULL`, they come from
#'   the file's metadata (files written by `write_safetensors()`); `output`
#'   alone replaces the output activation of the metadata.
#' @param net A network from [network()], [mlp()], [as_network()], ...
#' @return `read_safetensors()`: a `fwdprop_network`.
#'   `write_safetensors()`: `path`, invisibly.
#' @seealso [as_network()] for nnet, neuralnet and torch for R.
#' @export
#' @examples
#' net <- network(c(4, 5, 3), activation = "relu", output = "softmax",
#'                bias = TRUE, seed = 1)
#' path <- tempfile(fileext = ".safetensors")
#' write_safetensors(net, path)
#' identical(read_safetensors(path), net)
#'
#' # a fitted classifier keeps its input names, scaling and classes
#' m <- mlp(Species ~ ., data = iris, hidden = 4, epochs = 20, seed = 1)
#' write_safetensors(m, path)
#' m2 <- read_safetensors(path)
#' m2
#' all(predict(m2, iris, type = "class") == predict(m, iris, type = "class"))
#'
#' # In Python, PyTorch loads it into the matching nn.Sequential:
#' #   from safetensors.torch import load_file
#' #   model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Sigmoid(),
#' #                               torch.nn.Linear(4, 3), torch.nn.Softmax(dim=1))
#' #   model.double().load_state_dict(load_file(path))
#' unlink(path)
read_safetensors <- function(path, activation = NULL, output = NULL) {
  call <- sys.call()
  path <- check_readable_path(path, call)
  header <- safetensors_header_impl(path)
  if (!is.null(header$error)) file_error(path, header$error, call)
  layout <- sequential_layout(header, path, call)
  L <- length(layout$weights)
  meta <- fwdprop_metadata(header$metadata, layout, path, call)
  acts <- resolve_activations(activation, output, meta$activations, L, path, call)
  wanted <- c(layout$weights, layout$biases[!is.na(layout$biases)])
  tensors <- safetensors_read_impl(path, wanted)
  if (!identical(names(tensors), wanted)) file_error(path, tensors$error, call)
  # by position, never by name: looking a name up in a list is linear
  finite <- vapply(tensors, function(t) all(is.finite(t)), logical(1L), USE.NAMES = FALSE)
  if (!all(finite)) {
    i <- which(!finite)[[1L]]
    bad <- sum(!is.finite(tensors[[i]]))
    file_error(path, sprintf(
      "holds %d NA, NaN or infinite value%s in tensor \"%s\": that is not a usable network",
      bad, if (bad == 1L) "" else "s", wanted[[i]]
    ), call)
  }
  has_bias <- !is.na(layout$biases)
  weights <- unname(tensors[seq_len(L)])
  biases <- vector("list", L)
  biases[has_bias] <- unname(tensors[L + seq_len(sum(has_bias))])
  net <- network(weights = weights, biases = biases,
                 activation = if (L > 1L) acts[-L] else acts[[L]], output = acts[[L]])
  apply_metadata(net, meta, path, call)
}

#' @rdname read_safetensors
#' @export
write_safetensors <- function(net, path) {
  call <- sys.call()
  net <- check_network(net, "net", call = call)
  path <- check_path(path, "path", call = call)
  if (dir.exists(path)) {
    fwdprop_error(sprintf("`path` (\"%s\") is a directory; give a file name.", path), call = call)
  }
  if (!dir.exists(dirname(path))) {
    fwdprop_error(sprintf("`path` (\"%s\") is in a directory that does not exist.", path), call = call)
  }
  check_finite_parameters(net, "net", "a safetensors file holds finite weights only", call = call)
  L <- length(net$weights)
  # positions in the nn.Sequential: each nn.Linear is followed by its
  # activation module, except for "identity" layers, which have none
  pos <- cumsum(c(0L, 1L + (net$activations[-L] != "identity")))[seq_len(L)]
  # the weights, then the biases (the file orders its tensors itself),
  # built whole: growing the lists layer by layer would be quadratic
  # (the Rust side reads the matrices' values in place: no copies)
  has_bias <- lengths(net$biases) > 0L
  names <- c(sprintf("%d.weight", pos), sprintf("%d.bias", pos[has_bias]))
  tensors <- c(net$weights, net$biases[has_bias])
  dims <- matrix(unlist(lapply(net$weights, dim), use.names = FALSE), 2L)
  shapes <- c(.mapply(c, list(dims[2L, ], dims[1L, ]), NULL), # [out, in]
              as.list(lengths(net$biases[has_bias])))
  res <- safetensors_write_impl(path, names, tensors, shapes, network_metadata(net, call))
  if (!is.null(res$error)) file_error(path, res$error, call)
  invisible(path)
}

# A path to an existing regular file, for reading.
check_readable_path <- function(path, call) {
  path <- check_path(path, "path", call = call)
  if (!file.exists(path)) {
    fwdprop_error(sprintf("`path` (\"%s\") does not exist.", path), call = call)
  }
  if (dir.exists(path)) {
    fwdprop_error(sprintf("`path` (\"%s\") is a directory, not a safetensors file.", path), call = call)
  }
  path
}

file_error <- function(path, what, call) {
  fwdprop_error(sprintf("`path` (\"%s\") %s.", path, what), call = call)
}

# The layers of an nn.Sequential's state_dict from the header: tensors
# named "<position>.weight" ([out, in]) and "<position>.bias" ([out]),
# F64 or F32, in the order of the positions, whose shapes chain. Returns
# the weight and bias names (NA for a layer without bias) and the sizes.
# Every check is vectorised over the tensors (a file may hold 100,000 of
# them); the first problem, in the order of the positions, is reported.
sequential_layout <- function(header, path, call) {
  nm <- header$names
  if (length(nm) == 0L) {
    file_error(path, "holds no tensors", call)
  }
  odd <- nm[!grepl("^(0|[1-9][0-9]*)\\.(weight|bias)$", nm)]
  if (length(odd) > 0L) {
    file_error(path, sprintf(paste(
      "holds %s not the weights and biases of an nn.Sequential of nn.Linear layers",
      "(named like `0.weight`, `0.bias`, `2.weight`): %s"
    ), if (length(odd) == 1L) "a tensor that is" else sprintf("%d tensors that are", length(odd)),
    paste0("\"", utils::head(odd, 5L), "\"", collapse = ", ")), call)
  }
  bad_dtype <- !(header$dtypes %in% c("F64", "F32"))
  if (any(bad_dtype)) {
    i <- which(bad_dtype)[[1L]]
    file_error(path, sprintf("holds tensor \"%s\" of dtype %s; fwdprop reads F64 and F32 tensors",
                             nm[[i]], header$dtypes[[i]]), call)
  }
  # positions as the digits of the names: numerals without leading zeros
  # are in numeric order by length, then digit by digit (exact at any
  # size, where doubles are not beyond 2^53)
  dot <- regexpr(".", nm, fixed = TRUE)
  position <- substr(nm, 1L, dot - 1L)
  is_weight <- substr(nm, dot + 1L, nchar(nm)) == "weight"
  in_order <- function(i) i[order(nchar(position[i]), position[i], method = "radix")]
  w <- in_order(which(is_weight)) # the layers, one weight each (the names are distinct)
  b <- which(!is_weight)
  layer_of_b <- match(position[b], position[w])
  orphan <- in_order(b[is.na(layer_of_b)])
  L <- length(w)
  bias <- rep(NA_integer_, L)
  bias[layer_of_b[!is.na(layer_of_b)]] <- b[!is.na(layer_of_b)]
  has_bias <- !is.na(bias)
  # shapes [out, in] of the weights (NA for those that are not matrices)
  ws <- header$shapes[w]
  matrix_shape <- lengths(ws) == 2L
  n_out <- n_in <- rep(NA_real_, L)
  if (any(matrix_shape)) {
    dims <- matrix(unlist(ws[matrix_shape], use.names = FALSE), 2L)
    n_out[matrix_shape] <- dims[1L, ]
    n_in[matrix_shape] <- dims[2L, ]
  }
  bad_shape <- !matrix_shape | n_out < 1 | n_in < 1
  too_large <- n_in * n_out > .Machine$integer.max
  no_chain <- c(FALSE, n_in[-1L] != n_out[-L])
  bs <- header$shapes[bias[has_bias]]
  bad_bias <- rep(FALSE, L)
  bad_bias[has_bias] <- lengths(bs) != 1L |
    vapply(bs, function(s) s[1L], numeric(1L)) != n_out[has_bias]
  bad <- bad_shape | too_large | no_chain | bad_bias
  first <- match(TRUE, bad | is.na(bad)) # NA only after a weight that is not a matrix
  if (length(orphan) > 0L) {
    o <- orphan[[1L]]
    if (is.na(first) || in_order(c(o, w[[first]]))[[1L]] == o) {
      file_error(path, sprintf("has a bias \"%s\" without the weight \"%s.weight\" of its layer",
                               nm[[o]], position[[o]]), call)
    }
  }
  if (!is.na(first)) {
    layer_error(first, nm[w], ws, nm[bias], bs = header$shapes[bias], path, call)
  }
  list(weights = nm[w], biases = nm[bias], sizes = as.integer(c(n_in[[1L]], n_out)))
}

# The error for the first layer that sequential_layout() finds wrong:
# layer `l` of the weights `wn` of shapes `ws` and biases `bn` (NA for
# none) of shapes `bs`.
layer_error <- function(l, wn, ws, bn, bs, path, call) {
  shape_text <- function(s) sprintf("[%s]", paste(format(s, scientific = FALSE, trim = TRUE), collapse = ", "))
  s <- ws[[l]]
  if (length(s) != 2L || any(s < 1)) {
    file_error(path, sprintf(
      "has a weight \"%s\" of shape %s; a layer's weight is a matrix [out_features, in_features] of at least one of each",
      wn[[l]], shape_text(s)
    ), call)
  }
  check_matrix_size(s[[2L]], s[[1L]], sprintf("`path`'s tensor \"%s\"", wn[[l]]), call = call)
  if (l > 1L && s[[2L]] != ws[[l - 1L]][[1L]]) {
    n_in <- s[[2L]]
    n_prev <- ws[[l - 1L]][[1L]]
    file_error(path, sprintf(
      "has layers that do not chain: \"%s\" takes %s input%s but \"%s\" gives %s output%s",
      wn[[l]], format(n_in, scientific = FALSE), if (n_in == 1) "" else "s", wn[[l - 1L]],
      format(n_prev, scientific = FALSE), if (n_prev == 1) "" else "s"
    ), call)
  }
  if (!is.na(bn[[l]]) && !identical(bs[[l]], s[[1L]])) {
    file_error(path, sprintf("has a bias \"%s\" of shape %s for a layer of %s output%s (\"%s\" is %s)",
                             bn[[l]], shape_text(bs[[l]]), format(s[[1L]], scientific = FALSE),
                             if (s[[1L]] == 1) "" else "s", wn[[l]], shape_text(s)), call)
  }
  file_error(path, sprintf("has a layer \"%s\" that fwdprop cannot read", wn[[l]]), call) # nocov
}

# The "fwdprop.*" entries of a file's metadata, decoded from JSON and
# checked against the tensors (`layout`). Other entries are ignored.
fwdprop_metadata <- function(raw, layout, path, call) {
  keys <- names(raw)
  out <- list()
  sizes <- layout$sizes
  L <- length(sizes) - 1L
  bad <- function(key, what) {
    file_error(path, sprintf("has metadata \"fwdprop.%s\" that %s", key, what), call)
  }
  for (key in c("sizes", "activations", "inputs", "outputs", "levels", "scaling",
                "target_scaling", "init", "dimnames")) {
    full <- paste0("fwdprop.", key)
    if (!(full %in% keys)) next
    res <- json_decode_impl(raw[[full]])
    if (!is.null(res$error)) bad(key, sprintf("cannot be read as JSON (%s)", res$error))
    out[key] <- list(res$value)
  }
  if (!is.null(s <- out$sizes)) {
    if (!is.numeric(s) || anyNA(s) || length(s) != length(sizes) || any(s != sizes)) {
      bad("sizes", sprintf(
        "says the network is %s, but its tensors make a network %s: a layer is missing or the file is not the network the metadata describes",
        if (is.numeric(s)) paste(s, collapse = "-") else describe_value(s), paste(sizes, collapse = "-")
      ))
    }
  }
  if (!is.null(a <- out$activations)) {
    if (!is.character(a) || anyNA(a) || !all(a %in% activation_names) || length(a) != L) {
      bad("activations", sprintf(
        "must name one activation per layer (%d) out of %s, not %s", L,
        paste0("\"", activation_names, "\"", collapse = ", "),
        if (is.character(a) && length(a) > 1L) sprintf("c(%s)", paste0("\"", a, "\"", collapse = ", ")) else describe_value(a)
      ))
    }
  }
  for (key in c("inputs", "outputs")) {
    v <- out[[key]]
    n <- if (key == "inputs") sizes[[1L]] else sizes[[L + 1L]]
    if (!is.null(v) && (!is.character(v) || length(v) != n)) {
      bad(key, sprintf("must be %d name%s, one per %s, not %s", n, if (n == 1L) "" else "s",
                       substr(key, 1L, nchar(key) - 1L), describe_value(v)))
    }
  }
  for (key in c("scaling", "target_scaling")) {
    sc <- out[[key]]
    if (is.null(sc)) next
    if (!is.list(sc) || !is.numeric(sc$center) || !is.numeric(sc$scale)) {
      bad(key, "must be an object with numeric arrays \"center\" and \"scale\"")
    }
    res <- list(center = as.double(sc$center), scale = as.double(sc$scale))
    for (part in c("center", "scale")) {
      nms <- sc[[paste0(part, "_names")]]
      if (!is.null(nms)) {
        if (!is.character(nms) || length(nms) != length(res[[part]])) {
          bad(key, sprintf("has \"%s_names\" that are not one name per value", part))
        }
        names(res[[part]]) <- nms
      }
    }
    out[[key]] <- res
  }
  if (!is.null(init <- out$init)) {
    if (!is.list(init) || !is.character(init$method) || length(init$method) != 1L ||
        !(init$method %in% init_methods) || !is.numeric(init$seed) || length(init$seed) != 1L) {
      bad("init", "must be an object with the \"method\" and \"seed\" of `init_weights()`")
    }
    out$init <- list(method = init$method, seed = as.double(init$seed))
  }
  if (!is.null(dn <- out$dimnames)) {
    ok <- is.list(dn) && length(dn) == L && all(vapply(seq_len(L), function(l) {
      d <- dn[[l]]
      is.list(d) && all(names(d) %in% c("rows", "cols")) &&
        (is.null(d$rows) || (is.character(d$rows) && length(d$rows) == sizes[[l]])) &&
        (is.null(d$cols) || (is.character(d$cols) && length(d$cols) == sizes[[l + 1L]]))
    }, logical(1L)))
    if (!ok) bad("dimnames", "must hold each layer's row and column names, matching its shape")
  }
  out
}

# The activations of a file's network: from the arguments (as network()
# takes them), or from its metadata.
resolve_activations <- function(activation, output, meta, L, path, call) {
  hidden <- activation
  if (is.null(hidden) && !is.null(meta)) hidden <- if (L > 1L) meta[-L] else meta[[L]]
  if (is.null(output) && is.null(activation) && !is.null(meta)) output <- meta[[L]]
  if (is.null(hidden) && L == 1L) hidden <- output
  if (is.null(hidden)) {
    fwdprop_error(sprintf(paste(
      "`activation` is needed: `path` (\"%s\") holds the weights of %d layers but no fwdprop",
      "metadata saying which activations follow them (a PyTorch state_dict holds only",
      "parameters). Give them as in `network()`, e.g. `activation = \"relu\", output = \"identity\"`."
    ), path, L), call = call)
  }
  check_activations(hidden, output, L, call = call)
}

# The metadata's names, classes, scaling and initialisation added to the
# network built from a file's tensors, and checked as check_network() does.
apply_metadata <- function(net, meta, path, call) {
  L <- length(net$weights)
  if (!is.null(meta$inputs)) rownames(net$weights[[1L]]) <- meta$inputs
  if (!is.null(meta$outputs)) colnames(net$weights[[L]]) <- meta$outputs
  if (!is.null(dn <- meta$dimnames)) {
    for (l in seq_len(L)) {
      d <- list(dn[[l]]$rows, dn[[l]]$cols)
      dimnames(net$weights[[l]]) <- if (is.null(d[[1L]]) && is.null(d[[2L]])) NULL else d
    }
  }
  if (!is.null(meta$init)) net$init <- meta$init
  for (field in c("levels", "scaling", "target_scaling")) {
    if (!is.null(meta[[field]])) net[[field]] <- meta[[field]]
  }
  check_network_extras(net, "path", call,
                       prefix = sprintf("`path` (\"%s\") has metadata that does not fit its network", path),
                       field = function(f) sprintf("\"fwdprop.%s\"", f))
  net
}

# The metadata write_safetensors() stores: JSON strings that
# read_safetensors() turns back into the identical network.
network_metadata <- function(net, call) {
  L <- length(net$weights)
  json <- function(x) json_encode_impl(as_utf8(x, "`net`", call = call))
  meta <- c(
    format = "pt",
    fwdprop.version = as.character(utils::packageVersion("fwdprop")),
    fwdprop.sizes = json(as.integer(net$sizes)),
    fwdprop.activations = json(net$activations)
  )
  inputs <- rownames(net$weights[[1L]])
  outputs <- colnames(net$weights[[L]])
  if (!is.null(inputs)) meta[["fwdprop.inputs"]] <- json(inputs)
  if (!is.null(outputs)) meta[["fwdprop.outputs"]] <- json(outputs)
  # names anywhere else (hidden units): every layer's row and column names
  dn <- lapply(net$weights, dimnames)
  has_rows <- lengths(lapply(dn, `[[`, 1L)) > 0L
  has_cols <- lengths(lapply(dn, `[[`, 2L)) > 0L
  if (any(has_rows[-1L]) || any(has_cols[-L])) {
    meta[["fwdprop.dimnames"]] <- json(lapply(net$weights, function(w) {
      d <- list(rows = rownames(w), cols = colnames(w))
      d[!vapply(d, is.null, logical(1L))]
    }))
  }
  if (!is.null(net[["levels"]])) meta[["fwdprop.levels"]] <- json(as.character(net$levels))
  for (field in c("scaling", "target_scaling")) {
    sc <- net[[field]]
    if (is.null(sc)) next
    value <- list(center = unname(as.double(sc$center)), scale = unname(as.double(sc$scale)))
    if (!is.null(names(sc$center))) value$center_names <- names(sc$center)
    if (!is.null(names(sc$scale))) value$scale_names <- names(sc$scale)
    meta[[paste0("fwdprop.", field)]] <- json(value)
  }
  init <- net[["init"]]
  if (is.list(init) && !is.null(init$method) && !is.null(init$seed)) {
    meta[["fwdprop.init"]] <- json(list(method = init$method, seed = init$seed))
  }
  meta
}
