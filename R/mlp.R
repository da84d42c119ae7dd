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
#' @param weights Case weights, as in [lm()] and nnet: `NULL`, or a
#'   numeric vector (or a column of `data`) with one weight `>= 0` per row,
#'   taken with the rows that `subset` and `na.action` keep. The loss is the
#'   weighted mean of the rows' losses (see [fit()]).
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
#'   `learn_rate`, `decay` (nnet's meaning), `weight_decay` (torch's),
#'   `validation`, `patience`, `maxit`, `threads`, `verbose`, ...
#' @return A model of class `fwdprop_mlp`: a fitted `fwdprop_network`
#'   (everything that takes a network takes it) with `$levels`
#'   (classifiers), `$scaling`, `$target_scaling` (a scaled numeric
#'   response), `$terms` (formula fits), `$history` and `$training` (see
#'   [fit()]), and what the model functions of R use: `$call` (with the
#'   seed used, so that [update()][update.fwdprop_mlp()] fits from the same
#'   start), and the training data: `$model`, the model frame (formula
#'   fits), or `$x` and `$y`. Its methods: [predict()][predict.fwdprop_mlp()]
#'   (`type = "response"`, `"prob"`, `"class"`, `"raw"`),
#'   [fitted()][fitted.fwdprop_mlp()], `residuals()`, `coef()`, `nobs()`,
#'   `formula()`, `terms()`, `model.frame()`, `update()`,
#'   [print()][print.fwdprop_mlp()], `summary()`, `glance()`, `tidy()` and,
#'   in R Markdown, `knit_print()`. A saved model ([saveRDS()]) holds no
#'   environment of the session that fitted it: it is small, and predicts
#'   in another session once fwdprop is loaded.
#'
#'   Arguments that are not mlp()'s or [fit()]'s are errors that name the
#'   argument meant, also for nnet's names (`size` is `hidden`; `decay`
#'   means what it means in nnet; `linout`, `entropy` and `softmax` are not
#'   needed).
#' @seealso [fit()], [predict.fwdprop_mlp()], [summary.fwdprop_mlp()], [fitted.fwdprop_mlp()]
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
mlp.formula <- function(x, data, hidden = 5, ..., weights, subset, na.action = stats::na.omit) {
  call <- mlp_call(sys.call())
  record <- match.call()
  mlp_check_dots(..., call = call)
  formula <- x
  if (missing(data) || !is.data.frame(data)) {
    fwdprop_error("`data` must be a data frame holding the formula's variables.", call = call)
  }
  mf <- match.call(expand.dots = FALSE)
  mf <- mf[c(1L, match(c("x", "data", "weights", "subset", "na.action"), names(mf), 0L))]
  names(mf)[names(mf) == "x"] <- "formula"
  mf[[1L]] <- quote(stats::model.frame)
  mf$drop.unused.levels <- TRUE
  frame_call <- mf
  mf <- tryCatch(eval(mf, parent.frame()), error = function(e) {
    fwdprop_error(sprintf("the formula does not fit `data`: %s", conditionMessage(e)), call = call)
  })
  tt <- attr(mf, "terms")
  y <- stats::model.response(mf)
  if (is.null(y)) {
    fwdprop_error("the formula has no response: write it as `y ~ x1 + x2`.", call = call)
  }
  response <- deparse1(attr(tt, "variables")[[attr(tt, "response") + 1L]])
  if (!is.null(attr(tt, "offset"))) {
    fwdprop_error("the formula has an `offset()` term, which a network cannot use: remove it.", call = call)
  }
  if (length(attr(tt, "term.labels")) == 0L) {
    fwdprop_error(sprintf(paste(
      "the formula `%s` has no predictors: a network needs inputs. Write it as `%s ~ x1 + x2`",
      "(or `%s ~ .` for all columns)."), deparse1(formula), response, response), call = call)
  }
  if (nrow(mf) == 0L) {
    check_response_not_all_na(frame_call, response, parent.frame(), call)
    fwdprop_error(sprintf(paste(
      "no rows are left to train on: each of the %d rows of `data` has a missing value in one of",
      "the formula's variables (or lies outside `subset`)."), nrow(data)), call = call)
  }
  check_predictors(mf[-c(attr(tt, "response"), match("(weights)", names(mf), 0L))], call = call)
  xm <- stats::model.matrix(tt, mf)
  contr <- attr(xm, "contrasts")
  xm <- xm[, colnames(xm) != "(Intercept)", drop = FALSE]
  attr(xm, "assign") <- NULL
  attr(xm, "contrasts") <- NULL
  terms_info <- list(terms = strip_environment(stats::delete.response(tt)),
                     xlevels = stats::.getXlevels(tt, mf), contrasts = contr)
  attr(mf, "terms") <- strip_environment(tt)
  # case weights, as lm() and nnet() take them: a column of `data` or a
  # vector, subset and NA-filtered with the rows
  w <- stats::model.weights(mf)
  m <- if (is.null(w)) {
    mlp_fit(xm, y, hidden, terms_info, call, response = response, ...)
  } else {
    mlp_fit(xm, y, hidden, terms_info, call, response = response, weights = as.vector(w), ...)
  }
  mlp_record(m, record, call, model = mf)
}

#' @rdname mlp
#' @export
mlp.default <- function(x, y, hidden = 5, ...) {
  call <- mlp_call(sys.call())
  record <- match.call()
  mlp_check_dots(..., call = call)
  terms_info <- NULL
  x_train <- x
  if (is.data.frame(x) && !all(vapply(x, is_numeric_storage, logical(1L)))) {
    # factor predictors: expanded as model.matrix() does, and remembered
    check_predictors(x, call = call)
    tt <- stats::terms(~., data = x)
    mf <- stats::model.frame(tt, x, na.action = stats::na.pass, drop.unused.levels = TRUE)
    xm <- stats::model.matrix(tt, mf)
    terms_info <- list(terms = strip_environment(tt), xlevels = stats::.getXlevels(tt, mf),
                       contrasts = attr(xm, "contrasts"))
    x <- xm[, colnames(xm) != "(Intercept)", drop = FALSE]
    attr(x, "assign") <- NULL
    attr(x, "contrasts") <- NULL
  }
  m <- mlp_fit(x, y, hidden, terms_info, call, response = NULL, ...)
  if (is.character(y) || is.logical(y)) y <- factor(y)
  if (is.factor(y)) y <- droplevels(y)
  mlp_record(m, record, call, x = x_train, y = y)
}

# The call as the user wrote it, for messages and the model's record: a
# method's call names the method (mlp.formula), which the user did not call.
mlp_call <- function(call) {
  if (is.call(call) && identical(call[[1L]], quote(mlp.formula)) || identical(call[[1L]], quote(mlp.default))) {
    call[[1L]] <- quote(mlp)
  }
  call
}

# A formula's (or terms') environment replaced by the global one: what a
# model keeps of its formula must not hold on to the frame it was fitted
# in (saveRDS() would write everything that frame holds). Prediction needs
# only the variables of `newdata` and functions found from the global
# environment, as for a formula typed at the console.
strip_environment <- function(f) {
  if (!is.null(f)) environment(f) <- globalenv()
  f
}

# With no row left after `na.action`: is the response NA in every row? Then
# say so (rather than blame the predictors).
check_response_not_all_na <- function(frame_call, response, env, call) {
  frame_call$na.action <- quote(stats::na.pass)
  all_rows <- tryCatch(eval(frame_call, env), error = function(e) NULL)
  if (is.null(all_rows) || nrow(all_rows) == 0L) return(invisible())
  y <- stats::model.response(all_rows)
  if (all(is.na(y))) {
    fwdprop_error(sprintf(
      "the response `%s` is NA in every one of the %d rows of `data`: there is nothing to learn from.",
      response, nrow(all_rows)), call = call)
  }
  invisible()
}

# What a fitted model keeps beyond its network, for its methods (fitted(),
# residuals(), update(), model.frame(), summary(), ...): the call (with the
# seed that was used, so that update() fits again from the same start), and
# the training data: the model frame of a formula fit (as lm() keeps it),
# or `x` and `y`.
mlp_record <- function(m, record, call, model = NULL, x = NULL, y = NULL) {
  record[[1L]] <- call[[1L]]
  record$seed <- m$training$seed
  names(record)[names(record) == "x"] <- ""
  m$call <- record
  m$model <- model
  m$x <- x
  m$y <- y
  class(m) <- c("fwdprop_mlp", class(m))
  m
}

# Refuses predictors that model.matrix() would turn into an R error: complex
# columns, and factors (or strings) with a single level in the rows used;
# warns of a factor (or strings) with so many levels that it becomes
# hundreds of inputs, or one input per few rows (an identifier).
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
      n <- length(v)
      if (length(lv) > 100L || (length(lv) > 10L && length(lv) >= n / 2)) {
        warning(fwdprop_warning(sprintf(paste(
          "predictor `%s` has %d levels in %d rows: it becomes %d inputs (one per level but the first)%s.",
          "Drop it, or group its levels, unless that is what you mean."
        ), name, length(lv), n, length(lv) - 1L,
        if (length(lv) >= n / 2) ", and looks like an identifier" else ""), call = call))
      }
    }
  }
  invisible(df)
}

mlp_fit <- function(x, y, hidden, terms_info, call, response = NULL, activation = "sigmoid",
                    output = NULL, loss = NULL, scale = TRUE, init = NULL, seed = NULL, ...) {
  withCallingHandlers(
    mlp_fit_network(x, y, hidden, terms_info, call, response, activation, output, loss, scale, init, seed, ...),
    fwdprop_error = function(e) {
      # errors of network() and fit() reported as mlp()'s
      e$call <- call
      stop(e)
    }
  )
}

mlp_fit_network <- function(x, y, hidden, terms_info, call, response, activation, output, loss, scale,
                            init, seed, ...) {
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
  r <- mlp_response(y, response, call)
  y <- r$y
  levels <- r$levels
  k <- r$k
  if (is.null(output)) output <- r$output
  seed <- check_seed(seed, call = call)
  if (is.null(init)) {
    init <- if (is.character(activation) && !anyNA(activation) && all(activation == "relu")) "he" else "xavier"
  }
  net <- network(c(ncol(x), hidden, k), activation = activation, output = output, bias = TRUE,
                 init = init, seed = seed)
  rownames(net$weights[[1L]]) <- colnames(x)
  colnames(net$weights[[length(net$weights)]]) <- r$names
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
  fit(net, x, y, loss = loss, seed = seed, ...)
}

# The response as the network learns it: a factor (from characters or
# logicals) with its levels, the number of outputs, the output activation
# they call for and the names of the outputs (the classes; the second class
# for a single sigmoid output; the response's name or its columns' names).
# `response`: the response's name in a formula, NULL for `y`.
mlp_response <- function(y, response, call) {
  what <- if (is.null(response)) "`y`" else sprintf("the response `%s`", response)
  if (is.character(y) || is.logical(y)) y <- factor(y)
  if (length(y) > 0L && all(is.na(y))) {
    fwdprop_error(sprintf("%s is NA in every row: there is nothing to learn from.", what), call = call)
  }
  if (is.factor(y)) {
    y <- droplevels(y)
    levels <- levels(y)
    if (length(levels) < 2L) {
      fwdprop_error(sprintf("%s has %s in the rows used: a classifier needs at least two classes.", what,
                            if (length(levels) == 1L) sprintf("a single class (\"%s\")", levels) else "no class"),
                    call = call)
    }
    k <- if (length(levels) == 2L) 1L else length(levels)
    return(list(y = y, levels = levels, k = k, output = if (k == 1L) "sigmoid" else "softmax",
                names = if (k == 1L) levels[[2L]] else levels))
  }
  check_numeric(y, "y", call = call)
  k <- if (is.null(dim(y))) 1L else ncol(y)
  names <- if (k > 1L) colnames(y) else if (!is.null(response)) response else colnames(y)
  list(y = y, levels = NULL, k = k, output = "identity", names = names)
}

# mlp()'s settings are fit()'s arguments and mlp()'s own: any other name is
# an error naming mlp() (not fit(), which the user did not call), with the
# argument meant, also for the names nnet::nnet() gives its settings.
mlp_check_dots <- function(..., call) {
  if (...length() == 0L) return(invisible())
  dots <- ...names()
  if (is.null(dots)) dots <- rep("", ...length())
  if (!all(nzchar(dots))) {
    fwdprop_error(sprintf(paste(
      "mlp() takes its settings by name, but argument %d after `hidden` has none",
      "(write e.g. `epochs = 50`)."), which(!nzchar(dots))[[1L]]), call = call)
  }
  known <- c("hidden", "activation", "output", "loss", "scale", "init", "seed",
             setdiff(names(formals(fit.fwdprop_network)), c("object", "x", "y", "...")))
  bad <- setdiff(dots, known)
  if (length(bad) == 0L) return(invisible())
  bad <- bad[[1L]]
  automatic <- "mlp() chooses the output layer and the loss from the response (see ?mlp); to choose them yourself, use `output` and `loss`"
  hint <- switch(bad,
    size = , sizes = , units = , hidden_units = , layers = sprintf(
      " %s is `hidden` here: the widths of the hidden layers (`hidden = c(10, 5)` for two).",
      if (bad == "size") "nnet's `size`" else sprintf("`%s`", bad)),
    linout = , entropy = , softmax = , censored = sprintf(" nnet's `%s` is not needed: %s.", bad, automatic),
    trace = " nnet's `trace` is `verbose` here.",
    rang = , Wts = " The starting weights come from `init` and `seed` here.",
    skip = " A network from mlp() has no skip-layer connections.",
    MaxNWts = " mlp() has no limit on the number of weights.",
    {
      d <- utils::adist(bad, known, ignore.case = TRUE)[1L, ]
      if (min(d) <= max(2L, nchar(bad) %/% 3L)) sprintf(" Did you mean `%s`?", known[[which.min(d)]]) else ""
    }
  )
  fwdprop_error(sprintf("mlp() has no argument `%s`.%s", bad, hint), call = call)
}
