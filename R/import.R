# Networks fitted by other tools (nnet, neuralnet, torch for R) as fwdprop
# networks (safetensors files are in safetensors.R). Imported networks
# carry the optional fields R/inputs.R describes (input names, class
# levels, formula terms), so predict() takes the data the source tool's
# predict() takes.

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
#' activations) is an error naming the module. fwdprop's own torch-style
#' modules ([nn_sequential()] of [nn_linear()] and [nn_sigmoid()],
#' [nn_tanh()], [nn_relu()]) convert the same way, without torch.
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
  if (is_tensor(t)) {
    t <- to_r_array(.subset2(t, "data"), .subset2(t, "shape"))
  }
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
