# caret_mlp(): mlp() as a custom model of the caret package, tuned over
# the hidden layer's width and the weight decay.

# The argument of mlp() that takes the grid's `decay`.
caret_decay_arg <- "decay"

#' mlp() as a model for caret
#'
#' `caret_mlp()` returns the description of [mlp()] that [caret::train()]
#' takes as its `method`, so that caret tunes, resamples and compares
#' fwdprop networks as it does its built-in models. The tuning parameters
#' are those of caret's `"nnet"` model: `hidden`, the width of the single
#' hidden layer, and `decay`, the weight decay in nnet's meaning (the
#' `decay` argument of [mlp()] and [fit()]). The default grid is
#' caret's for `"nnet"` too (widths 1, 3, 5, ... and decays 0 and
#' 10^-1 ... 10^-4).
#'
#' Each model is fitted by [mlp()] with full-batch BFGS (`optimizer =
#' "bfgs"`), as [nnet::nnet()] fits; further arguments of
#' [caret::train()] (`optimizer`, `maxit`, `epochs`, `activation`, `seed`,
#' ...) are passed to [mlp()]. Without `seed`, each fit draws its starting
#' weights from R's generator, which caret seeds (`trainControl(seeds =)`).
#' Classification models give class probabilities (`classProbs = TRUE` in
#' [caret::trainControl()]). Case weights are not supported.
#'
#' @return A list with the elements caret's custom models have: `label`,
#'   `library`, `type`, `parameters`, `grid`, `fit`, `predict`, `prob`,
#'   `sort`, `levels`, `loop` and `tags`.
#' @seealso [mlp()]; caret's documentation of custom models,
#'   <https://topepo.github.io/caret/using-your-own-model-in-train.html>
#' @export
#' @examples
#' if (requireNamespace("caret", quietly = TRUE)) {
#'   set.seed(1)
#'   tuned <- caret::train(
#'     iris[, 1:4], iris$Species, method = caret_mlp(),
#'     tuneGrid = expand.grid(hidden = c(2, 4), decay = 0.01),
#'     trControl = caret::trainControl(method = "cv", number = 2),
#'     maxit = 50
#'   )
#'   tuned$results
#'   predict(tuned, iris[c(1, 51, 101), 1:4])
#' }
caret_mlp <- function() {
  list(
    label = "Multilayer perceptron (fwdprop)",
    library = "fwdprop",
    loop = NULL,
    type = c("Regression", "Classification"),
    parameters = data.frame(parameter = c("hidden", "decay"), class = c("numeric", "numeric"),
                            label = c("#Hidden Units", "Weight Decay"), stringsAsFactors = FALSE),
    grid = caret_grid,
    fit = caret_fit,
    predict = caret_predict,
    prob = caret_prob,
    sort = function(x) x[order(x$hidden, -x$decay), , drop = FALSE],
    levels = function(x) x$levels,
    tags = c("Neural Network", "L2 Regularization")
  )
}

caret_grid <- function(x, y, len = NULL, search = "grid") {
  if (search == "grid") {
    expand.grid(hidden = ((1:len) * 2) - 1, decay = c(0, 10^seq(-1, -4, length.out = len - 1)))
  } else {
    data.frame(hidden = sample(1:20, size = len, replace = TRUE), decay = 10^stats::runif(len, min = -5, max = 1))
  }
}

caret_fit <- function(x, y, wts, param, lev, last, classProbs, ...) {
  call <- quote(caret::train())
  if (!is.null(wts)) {
    fwdprop_error("`weights`: case weights are not supported by fwdprop's mlp().", call = call)
  }
  args <- list(...)
  if (is.null(args$optimizer)) args$optimizer <- "bfgs"
  args[[caret_decay_arg]] <- param$decay
  if (!is.data.frame(x)) x <- as.matrix(x)
  do.call(mlp, c(list(x, y, hidden = param$hidden), args))
}

# The model's outputs for `newdata` on the response's scale (class
# probabilities for a classifier).
caret_output <- function(modelFit, newdata) {
  if (!is.data.frame(newdata)) newdata <- as.matrix(newdata)
  network_response(modelFit, newdata, call = quote(predict()))
}

caret_predict <- function(modelFit, newdata, preProc = NULL, submodels = NULL) {
  out <- caret_output(modelFit, newdata)
  lev <- modelFit$levels
  if (is.null(lev)) {
    return(out[, 1L])
  }
  cls <- if (ncol(out) == 1L) ifelse(out[, 1L] > 0.5, 2L, 1L) else max.col(out, ties.method = "first")
  factor(lev[cls], levels = lev)
}

caret_prob <- function(modelFit, newdata, preProc = NULL, submodels = NULL) {
  out <- caret_output(modelFit, newdata)
  if (ncol(out) == 1L) out <- cbind(1 - out, out)
  out <- as.data.frame(unname(out))
  names(out) <- modelFit$levels
  out
}
