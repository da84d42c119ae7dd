# mlp(): a network built, scaled and fitted from a formula or from x and y,
# and what a fitted model remembers of its data.

#' Build, scale and fit a multilayer perceptron in one call
#'
#' `mlp()` does for a dense network what [nnet::nnet()] does with a formula:
#' it builds the design matrix (factor predictors expanded as
#' [model.matrix()] does), centres and scales the inputs, encodes the
#' response, builds a network of the right shape with [network()] and
#' trains it with [fit()]. The fitted network remembers all of it, so
#' [predict()][predict.fwdprop_network()] takes new data as it comes
#' (a data frame with the same columns) and returns predictions on the
#' response's scale, or classes as a factor with the response's levels.
#'
#' The response decides the output layer and the loss:
#' * a factor (or character or logical vector) with more than two classes:
#'   one softmax output per class, `"cross_entropy"`;
#' * a factor with two classes: one sigmoid output (the probability of the
#'   second level), `"bce"`;
#' * numbers (a vector, or a matrix for several outputs): identity outputs,
#'   `"mse"`; with `scale = TRUE` the response is centred and scaled for
#'   training, and predictions are returned on its original scale.
#'
#' @param x A formula (`y ~ x1 + x2`, `Species ~ .`) or, for the default
#'   method, a numeric matrix or a data frame of predictors.
#' @param data A data frame holding the formula's variables.
#' @param y The response, for the default method.
#' @param hidden Widths of the hidden layers (`c(10, 5)` for two); 0 for
#'   none.
#' @param subset,na.action As in [lm()]: rows to use, and what to do with
#'   missing values (by default [na.omit()]).
#' @param ... The network's settings, by name:
#'   * `activation`: activation of the hidden layers (default `"sigmoid"`);
#'   * `output`: activation of the output layer; by default from the
#'     response (see above);
#'   * `scale`: centre and scale the inputs (and a numeric response;
#'     default `TRUE`);
#'   * `init`: weight initialisation (see [init_weights()]); by default
#'     `"he"` for relu layers and `"xavier"` otherwise;
#'   * `seed`: `NULL` or a whole number: the seed of the initial weights and
#'     of the training (see [fit()]); drawn from R's generator when `NULL`;
#'
#'   and the arguments of [fit()]: `optimizer`, `epochs`, `batch_size`,
#'   `learn_rate`, `weight_decay`, `validation`, `patience`, `maxit`,
#'   `threads`, `verbose`, ...
#' @return A fitted `fwdprop_network`, with `$levels` (classifiers),
#'   `$scaling`, `$target_scaling` (a scaled numeric response), `$terms`
#'   (formula fits), `$history` and `$training` (see [fit()]).
#' @seealso [fit()], [predict.fwdprop_network()]
#' @export
#' @examples
#' set.seed(1)
#' train <- sample(nrow(iris), 100)
#' m <- mlp(Species ~ ., data = iris[train, ], hidden = 5, epochs = 60)
#' m
#' pred <- predict(m, iris[-train, ], type = "class")
#' table(pred, iris$Species[-train])
#'
#' # regression, fitted the way nnet fits (full-batch BFGS)
#' r <- mlp(mpg ~ wt + hp, data = mtcars, hidden = 3, optimizer = "bfgs", seed = 1)
#' head(cbind(predicted = predict(r, mtcars)[, 1], mpg = mtcars$mpg))
mlp <- function(x, ...) {
  UseMethod("mlp")
}

#' @rdname mlp
#' @export
mlp.formula <- function(x, data, hidden = 5, ..., subset, na.action = stats::na.omit) {
  call <- sys.call()
  formula <- x
  if (missing(data) || !is.data.frame(data)) {
    fwdprop_error("`data` must be a data frame holding the formula's variables.", call = call)
  }
  mf <- match.call(expand.dots = FALSE)
  mf <- mf[c(1L, match(c("x", "data", "subset", "na.action"), names(mf), 0L))]
  names(mf)[names(mf) == "x"] <- "formula"
  mf[[1L]] <- quote(stats::model.frame)
  mf$drop.unused.levels <- TRUE
  mf <- tryCatch(eval(mf, parent.frame()), error = function(e) {
    fwdprop_error(sprintf("the formula does not fit `data`: %s", conditionMessage(e)), call = call)
  })
  tt <- attr(mf, "terms")
  y <- stats::model.response(mf)
  if (is.null(y)) {
    fwdprop_error("the formula has no response: write it as `y ~ x1 + x2`.", call = call)
  }
  if (length(attr(tt, "term.labels")) == 0L) {
    fwdprop_error("the formula has no predictors: write it as `y ~ x1 + x2` (or `y ~ .` for all columns).",
                  call = call)
  }
  if (nrow(mf) == 0L) {
    fwdprop_error(sprintf(paste(
      "no rows are left to train on: each of the %d rows of `data` has a missing value in one of",
      "the formula's variables (or lies outside `subset`)."), nrow(data)), call = call)
  }
  if (!is.null(attr(tt, "offset"))) {
    fwdprop_error("the formula has an `offset()` term, which a network cannot use: remove it.", call = call)
  }
  check_predictors(mf[-attr(tt, "response")], call = call)
  xm <- stats::model.matrix(tt, mf)
  contr <- attr(xm, "contrasts")
  xm <- xm[, colnames(xm) != "(Intercept)", drop = FALSE]
  attr(xm, "assign") <- NULL
  attr(xm, "contrasts") <- NULL
  terms_info <- list(terms = stats::delete.response(tt),
                     xlevels = stats::.getXlevels(tt, mf), contrasts = contr)
  mlp_fit(xm, y, hidden, terms_info, call, ...)
}

#' @rdname mlp
#' @export
mlp.default <- function(x, y, hidden = 5, ...) {
  call <- sys.call()
  terms_info <- NULL
  if (is.data.frame(x) && !all(vapply(x, is_numeric_storage, logical(1L)))) {
    # factor predictors: expanded as model.matrix() does, and remembered
    check_predictors(x, call = call)
    tt <- stats::terms(~., data = x)
    mf <- stats::model.frame(tt, x, na.action = stats::na.pass, drop.unused.levels = TRUE)
    xm <- stats::model.matrix(tt, mf)
    terms_info <- list(terms = tt, xlevels = stats::.getXlevels(tt, mf),
                       contrasts = attr(xm, "contrasts"))
    x <- xm[, colnames(xm) != "(Intercept)", drop = FALSE]
    attr(x, "assign") <- NULL
    attr(x, "contrasts") <- NULL
  }
  mlp_fit(x, y, hidden, terms_info, call, ...)
}

# Refuses predictors that model.matrix() would turn into an R error: complex
# columns, and factors (or strings) with a single level in the rows used.
check_predictors <- function(df, call) {
  for (name in names(df)) {
    v <- df[[name]]
    if (is.complex(v)) {
      fwdprop_error(sprintf("predictor `%s` is complex; a network takes numbers, factors or logicals.", name),
                    call = call)
    }
    if (is.character(v) || is.factor(v)) {
      lv <- if (is.factor(v)) levels(droplevels(v)) else unique(v[!is.na(v)])
      if (length(lv) < 2L) {
        fwdprop_error(sprintf(paste(
          "predictor `%s` has %s in the rows used: a constant tells the network nothing.",
          "Drop it from the formula (or the data)."
        ), name, if (length(lv) == 1L) sprintf("a single level (\"%s\")", lv) else "no level"), call = call)
      }
    }
  }
  invisible(df)
}

mlp_fit <- function(x, y, hidden, terms_info, call, activation = "sigmoid", output = NULL,
                    loss = NULL, scale = TRUE, init = NULL, seed = NULL, ...) {
  if (is.data.frame(x)) {
    x <- as_input_matrix(x, ncol(x), "x", call = call)
  } else {
    x <- as_double_matrix(x, "x", call = call)
  }
  if (is.null(colnames(x))) colnames(x) <- paste0("x", seq_len(ncol(x)))
  if (!is.numeric(hidden) || anyNA(hidden) || any(hidden < 0) || any(hidden != floor(hidden)) ||
      (length(hidden) > 1L && any(hidden == 0))) {
    fwdprop_error(sprintf("`hidden` must be widths of hidden layers (whole numbers >= 1), or 0 for none; not %s.",
                          describe_value(hidden)), call = call)
  }
  hidden <- as.integer(hidden[hidden > 0])
  scale <- check_flag(scale, "scale", call = call)
  n <- nrow(x)
  levels <- NULL
  if (is.character(y) || is.logical(y)) y <- factor(y)
  if (is.factor(y)) {
    y <- droplevels(y)
    levels <- levels(y)
    if (length(levels) < 2L) {
      fwdprop_error(sprintf("`y` has %d class%s: a classifier needs at least two.", length(levels),
                            if (length(levels) == 1L) "" else "es"), call = call)
    }
    k <- if (length(levels) == 2L) 1L else length(levels)
    if (is.null(output)) output <- if (k == 1L) "sigmoid" else "softmax"
  } else {
    check_numeric(y, "y", call = call)
    k <- if (is.null(dim(y))) 1L else ncol(y)
    if (is.null(output)) output <- "identity"
  }
  seed <- check_seed(seed, call = call)
  if (is.null(init)) {
    init <- if (is.character(activation) && !anyNA(activation) && all(activation == "relu")) "he" else "xavier"
  }
  net <- network(c(ncol(x), hidden, k), activation = activation, output = output, bias = TRUE,
                 init = init, seed = seed)
  rownames(net$weights[[1L]]) <- colnames(x)
  if (!is.null(levels) && k > 1L) colnames(net$weights[[length(net$weights)]]) <- levels
  if (!is.null(levels)) net$levels <- levels
  if (scale) {
    center <- colMeans(x, na.rm = TRUE)
    sds <- apply(x, 2L, stats::sd, na.rm = TRUE)
    sds[!is.finite(sds) | sds == 0] <- 1
    center[!is.finite(center)] <- 0
    net$scaling <- list(center = center, scale = sds)
    if (is.null(levels) && output == "identity") {
      ym <- if (is.null(dim(y))) matrix(y, ncol = 1L) else y
      yc <- colMeans(ym, na.rm = TRUE)
      ys <- apply(ym, 2L, stats::sd, na.rm = TRUE)
      ys[!is.finite(ys) | ys == 0] <- 1
      yc[!is.finite(yc)] <- 0
      net$target_scaling <- list(center = unname(yc), scale = unname(ys))
    }
  }
  if (!is.null(terms_info)) net$terms <- terms_info
  fitted <- withCallingHandlers(
    fit(net, x, y, loss = loss, seed = seed, ...),
    fwdprop_error = function(e) {
      # report fit()'s argument errors as mlp()'s
      e$call <- call
      stop(e)
    }
  )
  fitted
}
