# importance(): permutation importance of a fitted network's predictors
# (each original column of the data, not each dummy column of a factor),
# with its print() and plot() methods.

#' Permutation importance of a model's predictors
#'
#' How much worse a fitted model predicts when the values of one predictor
#' are shuffled among the rows, breaking its link with the response while
#' keeping its distribution: for each predictor, the loss on `data` with
#' that predictor's column permuted, minus the loss on `data` as it is,
#' averaged over `repeats` permutations. A predictor the model does not use
#' scores about 0; the more the model relies on a predictor, the larger its
#' score.
#'
#' Predictors are the original columns of the data: a factor is permuted
#' as one column (all its dummy columns together), and a variable that a
#' formula uses in several terms (`x + I(x^2)`) is permuted once. For a
#' network fitted on a matrix, each input column is a predictor.
#'
#' Losses are computed on the response's scale (predictions as
#' [predict()][predict.fwdprop_network()] returns them, not on the scaled
#' response the network was trained on):
#' * `"loss"` (the default): the model's own loss, `"mse"` for regression,
#'   `"cross_entropy"` for a classifier (`"bce"` for a single sigmoid
#'   output);
#' * `"mse"`, `"rmse"`, `"mae"`: mean squared error, its square root, mean
#'   absolute error (over all outputs);
#' * `"cross_entropy"`: the mean over rows of `-log(p)`, `p` the probability
#'   given to the true class; `"bce"` the mean over outputs of the binary
#'   cross-entropy (in both, probabilities below 1e-15 count as 1e-15);
#' * `"accuracy"`: the share of rows classified correctly; its importance
#'   is the drop in accuracy (baseline minus permuted), so that larger is
#'   more important here too;
#' * a function `function(truth, predicted)` returning one number, a loss
#'   (smaller is better): `truth` is the response as given, `predicted` the
#'   model's predictions (a matrix of probabilities for a classifier).
#'
#' The permutations are drawn with R's generator ([sample.int()]): for each
#' predictor in turn, `repeats` permutations of the rows. With `seed`, the
#' generator is seeded with [set.seed()] for the call and put back as it
#' was afterwards; without it, the draws continue R's stream (so
#' `set.seed()` before the call makes it reproducible).
#'
#' @param model A fitted model: a network from [mlp()] or [fit()] (or
#'   imported with [as_network()]).
#' @param data The data to score the model on (held-out data shows what
#'   the model relies on for new data): a data frame with the columns the
#'   model was fitted on (for models from a formula or a recipe), or a
#'   matrix or data frame of the inputs.
#' @param y The response: a vector (or matrix) with one element (row) per
#'   row of `data`, or the name of its column in `data`. For models from
#'   [mlp()] with a formula or a recipe it can be left out: the response
#'   is then taken from `data` as the model's formula (or recipe) names it.
#' @param repeats The number of permutations per predictor (a whole
#'   number, at least 1).
#' @param metric The loss to compare: `"loss"` (the default), `"mse"`,
#'   `"rmse"`, `"mae"`, `"cross_entropy"`, `"bce"`, `"accuracy"`, or a
#'   function (see Details).
#' @param seed `NULL`, or a whole number to seed R's generator with for
#'   the call.
#' @param ... Not used; for methods.
#' @return A data frame of class `fwdprop_importance`, one row per
#'   predictor, most important first: `variable`, `importance` (the mean
#'   increase in the loss), `sd` (its standard deviation over the
#'   permutations; `NA` for one) and `repeats`. The attributes `increases`
#'   (a matrix: one row per predictor, one column per permutation),
#'   `baseline` (the loss on `data`) and `metric` (its name) keep the rest.
#'   `plot()` draws the importances as horizontal bars with +/- one
#'   standard deviation.
#' @export
#' @examples
#' set.seed(1)
#' d <- data.frame(x1 = runif(200), x2 = runif(200), g = factor(sample(c("a", "b"), 200, TRUE)))
#' d$y <- sin(4 * d$x1) + (d$g == "b") + rnorm(200, sd = 0.1)
#' m <- mlp(y ~ x1 + x2 + g, data = d, hidden = 4, optimizer = "bfgs", seed = 1)
#' imp <- importance(m, d, seed = 1) # the response `y` taken from `d`
#' imp
#' plot(imp)
#'
#' # a classifier, by its drop in accuracy
#' iris_m <- mlp(Species ~ ., data = iris, hidden = 3, optimizer = "bfgs", seed = 1)
#' importance(iris_m, iris, metric = "accuracy", seed = 1)
importance <- function(model, ...) {
  UseMethod("importance")
}

#' @rdname importance
#' @export
importance.fwdprop_network <- function(model, data, y = NULL, repeats = 5L, metric = "loss",
                                       seed = NULL, ...) {
  call <- sys.call()
  check_no_dots(..., fun = "importance()", call = call,
                choices = c("data", "y", "repeats", "metric", "seed"))
  model <- check_network(model, "model", call = call)
  data <- importance_data(data, call)
  if (is.null(y)) y <- formula_response(model, data, call)
  truth <- importance_response(y, data, call)
  vars <- importance_variables(model, data, call)
  predict_fun <- function(d) network_response(model, d, call)
  importance_run(model, data, truth, vars, predict_fun, repeats, metric, seed, call)
}

#' @export
importance.default <- function(model, ...) {
  fwdprop_error(sprintf(
    "`model` must be a fitted network (from `mlp()` or `fit()`), not %s.",
    describe_object(if (is.object(model)) unclass(model) else model)
  ), call = sys.call())
}

# The data to score on: a data frame or a matrix with rows.
importance_data <- function(data, call) {
  if (missing(data) || !(is.data.frame(data) || is.matrix(data))) {
    fwdprop_error(sprintf("`data` must be a data frame or a matrix of the predictors, not %s.",
                          if (missing(data)) "missing" else describe_object(data)), call = call)
  }
  if (nrow(data) < 2L) {
    fwdprop_error(sprintf("`data` has %d row%s: permuting a column needs at least two.",
                          nrow(data), if (nrow(data) == 1L) "" else "s"), call = call)
  }
  data
}

# The response of a model fitted from a formula (mlp(y ~ ., data)), taken
# from `data` as the formula takes it; NULL for other models.
formula_response <- function(model, data, call) {
  mf <- model[["model"]]
  tt <- if (is.data.frame(mf)) attr(mf, "terms")
  r <- if (inherits(tt, "terms")) attr(tt, "response") else 0L
  if (!is.data.frame(data) || r == 0L) return(NULL)
  expr <- attr(tt, "variables")[[r + 1L]]
  tryCatch(eval(expr, data, baseenv()), error = function(e) {
    fwdprop_error(sprintf("`data` lacks the model's response `%s`: give it as `y`.", deparse1(expr)),
                  call = call)
  })
}

# The response: a column of `data` named by `y`, or `y` itself.
importance_response <- function(y, data, call) {
  n <- nrow(data)
  if (is.null(y)) {
    fwdprop_error(paste(
      "`y` is missing: give the response, a vector with one element per row of `data`,",
      "or the name of its column in `data` (`y = \"Species\"`)."
    ), call = call)
  }
  if (is.character(y) && length(y) == 1L) {
    cn <- colnames(data)
    if (is.null(cn) || !(y %in% cn)) {
      fwdprop_error(sprintf("`y` names a column (\"%s\") that `data` does not have.", y), call = call)
    }
    y <- if (is.data.frame(data)) data[[y]] else data[, y]
  }
  len <- if (is.null(dim(y))) length(y) else nrow(y)
  if (!(is.atomic(y) || is.factor(y)) || len != n) {
    fwdprop_error(sprintf("`y` must have one value per row of `data` (%d), not %s.", n,
                          describe_value(y)), call = call)
  }
  y
}

# The predictors to permute: the variables of the model's formula, the
# model's input names, or the columns of a matrix by position.
importance_variables <- function(model, data, call) {
  cn <- colnames(data)
  tt <- model[["terms"]]
  vars <- if (!is.null(tt) && is.data.frame(data)) all.vars(tt$terms) else input_names(model)
  if (is.null(vars) || is.null(cn)) {
    p <- ncol(data)
    if (p != model$sizes[[1L]]) {
      fwdprop_error(sprintf("`data` has %d columns but the network takes %d inputs.", p, model$sizes[[1L]]),
                    call = call)
    }
    return(stats::setNames(seq_len(p), cn %||% vars %||% sprintf("x%d", seq_len(p))))
  }
  missing <- setdiff(vars, cn)
  if (length(missing)) {
    fwdprop_error(sprintf("`data` lacks the predictor%s %s.", if (length(missing) == 1L) "" else "s",
                          paste0("`", missing, "`", collapse = ", ")), call = call)
  }
  stats::setNames(vars, vars)
}

# The network's predictions for `d` on the response's scale (probabilities
# for a classifier), as predict() computes them.
network_response <- function(model, d, call) {
  x <- network_input(model, d, "data", call = call)
  out <- forward_checked(model, x, FALSE, NULL, call = call, net_arg = "model", x_arg = "data")
  network_output(model, out, "response", call = call)
}

# The permutations and their losses; `predict_fun(data)` gives the
# predictions compared with `truth`; `vars` the columns of `data` (names or
# positions, named by the variables) permuted one at a time.
importance_run <- function(model, data, truth, vars, predict_fun, repeats, metric, seed, call) {
  repeats <- check_count(repeats, "repeats", call = call)
  loss <- importance_metric(model, metric, truth, call)
  if (!is.null(seed)) {
    seed <- check_seed(seed, call = call)
    had <- exists(".Random.seed", envir = globalenv(), inherits = FALSE)
    if (had) old <- get(".Random.seed", envir = globalenv(), inherits = FALSE)
    on.exit({
      if (had) assign(".Random.seed", old, envir = globalenv()) else
        rm(".Random.seed", envir = globalenv())
    }, add = TRUE)
    set.seed(seed)
  }
  baseline <- loss$fun(predict_fun(data))
  if (!is.finite(baseline)) {
    fwdprop_error(sprintf("the %s on `data` is %s: check `y` and `data` for missing values.",
                          loss$name, format(baseline)), call = call)
  }
  n <- nrow(data)
  inc <- matrix(NA_real_, length(vars), repeats, dimnames = list(names(vars), NULL))
  for (j in seq_along(vars)) {
    v <- vars[[j]]
    for (r in seq_len(repeats)) {
      perm <- sample.int(n)
      d <- data
      if (is.data.frame(d)) d[[v]] <- d[[v]][perm] else d[, v] <- d[perm, v]
      inc[j, r] <- loss$sign * (loss$fun(predict_fun(d)) - baseline)
    }
  }
  out <- data.frame(variable = names(vars), importance = rowMeans(inc),
                    sd = if (repeats > 1L) apply(inc, 1L, stats::sd) else NA_real_,
                    repeats = repeats, stringsAsFactors = FALSE)
  ord <- order(-out$importance, seq_len(nrow(out)))
  out <- out[ord, , drop = FALSE]
  rownames(out) <- NULL
  structure(out, class = c("fwdprop_importance", "data.frame"), increases = inc[ord, , drop = FALSE],
            baseline = baseline, metric = loss$name)
}

importance_metrics <- c("loss", "mse", "rmse", "mae", "cross_entropy", "bce", "accuracy")

# The metric as list(fun = function(predicted) -> number, name, sign): sign
# -1 for a score (accuracy), whose importance is its drop.
importance_metric <- function(model, metric, truth, call) {
  if (is.function(metric)) {
    return(list(fun = function(p) {
      v <- metric(truth, p)
      if (!is.numeric(v) || length(v) != 1L) {
        fwdprop_error(sprintf("`metric` must return one number, not %s.", describe_value(v)), call = call)
      }
      as.double(v)
    }, name = "metric", sign = 1))
  }
  metric <- check_choice(metric, "metric", importance_metrics, call = call)
  act <- model$activations[[length(model$activations)]]
  if (metric == "loss") {
    metric <- model$training$loss %||% switch(act, softmax = "cross_entropy", sigmoid = "bce", "mse")
  }
  target <- importance_target(model, truth, act, metric, call)
  fun <- switch(metric,
    mse = function(p) mean((p - target)^2),
    rmse = function(p) sqrt(mean((p - target)^2)),
    mae = function(p) mean(abs(p - target)),
    bce = function(p) -mean(target * log(pmax(p, 1e-15)) + (1 - target) * log(pmax(1 - p, 1e-15))),
    cross_entropy = function(p) {
      if (ncol(p) == 1L) p <- cbind(1 - p, p)
      -mean(log(pmax(p[cbind(seq_len(nrow(p)), target)], 1e-15)))
    },
    accuracy = function(p) {
      cls <- if (ncol(p) == 1L) ifelse(p[, 1L] > 0.5, 2L, 1L) else max.col(p, ties.method = "first")
      mean(cls == target)
    }
  )
  list(fun = fun, name = metric, sign = if (metric == "accuracy") -1 else 1)
}

# The response in the shape the metric compares: class numbers for
# cross-entropy and accuracy, a 0/1 or numeric matrix for the others.
importance_target <- function(model, truth, act, metric, call) {
  k <- model$sizes[[length(model$sizes)]]
  lev <- model[["levels"]]
  classes <- NULL
  if (is.factor(truth) || is.character(truth) || is.logical(truth)) {
    if (is.null(lev)) lev <- if (is.factor(truth)) levels(truth) else sort(unique(as.character(truth)))
    classes <- match(as.character(truth), lev)
    if (anyNA(classes[!is.na(truth)]) || length(lev) != max(k, 2L)) {
      fwdprop_error(sprintf("`y` has classes the model does not know: the model's classes are %s.",
                            paste0("\"", lev, "\"", collapse = ", ")), call = call)
    }
  } else if (metric %in% c("cross_entropy", "accuracy") && is.null(dim(truth)) &&
             act %in% c("softmax", "sigmoid")) {
    # class numbers: 1..k for a softmax, 0/1 for a single sigmoid
    classes <- if (k == 1L) as.integer(truth) + 1L else as.integer(truth)
  }
  if (metric %in% c("cross_entropy", "accuracy")) {
    if (is.null(classes)) {
      if (is.null(dim(truth)) || ncol(truth) != k) {
        fwdprop_error(sprintf("`metric = \"%s\"` needs classes in `y`: a factor, or class numbers.", metric),
                      call = call)
      }
      classes <- max.col(truth, ties.method = "first")
    }
    return(classes)
  }
  if (!is.null(classes)) {
    return(if (k == 1L) matrix(as.double(classes == 2L)) else diag(k)[classes, , drop = FALSE])
  }
  check_numeric(truth, "y", call = call)
  m <- if (is.null(dim(truth))) matrix(as.double(truth)) else as.matrix(truth) + 0
  if (ncol(m) != k) {
    fwdprop_error(sprintf("`y` has %d column%s but the model has %d output%s.", ncol(m),
                          if (ncol(m) == 1L) "" else "s", k, if (k == 1L) "" else "s"), call = call)
  }
  unname(m)
}

#' @export
print.fwdprop_importance <- function(x, digits = 4L, ...) {
  metric <- attr(x, "metric")
  if (is.null(metric) || is.null(x$repeats)) return(NextMethod())
  what <- if (identical(metric, "accuracy")) "drop in accuracy" else sprintf("increase in %s", metric)
  cat(sprintf("<fwdprop importance> %s when each predictor is permuted (%d permutation%s each)\n",
              what, x$repeats[1L], if (x$repeats[1L] == 1L) "" else "s"))
  cat(sprintf("%s on the data as it is: %s\n", metric, format(attr(x, "baseline"), digits = digits)))
  df <- as.data.frame(unclass(x)[c("variable", "importance", "sd")], stringsAsFactors = FALSE)
  df$importance <- signif(df$importance, digits)
  df$sd <- signif(df$sd, digits)
  print(df, row.names = FALSE)
  invisible(x)
}

#' @rdname importance
#' @param x An importance table from `importance()`.
#' @param main,xlab The plot's title and axis label.
#' @param col The bars' colour.
#' @export
plot.fwdprop_importance <- function(x, main = "Permutation importance", xlab = NULL, col = "#8DA0CB", ...) {
  n <- nrow(x)
  imp <- rev(x$importance)
  sds <- rev(ifelse(is.na(x$sd), 0, x$sd))
  if (is.null(xlab)) {
    xlab <- if (identical(attr(x, "metric"), "accuracy")) "drop in accuracy" else
      sprintf("increase in %s", attr(x, "metric"))
  }
  lim <- range(0, imp - sds, imp + sds)
  old <- graphics::par(mar = c(4.5, max(4, 0.6 * max(nchar(x$variable)) + 1), 3, 1))
  on.exit(graphics::par(old), add = TRUE)
  mid <- graphics::barplot(imp, names.arg = rev(x$variable), horiz = TRUE, las = 1, col = col,
                           border = NA, xlim = lim, main = main, xlab = xlab, ...)
  has_sd <- sds > 0
  if (any(has_sd)) {
    # (arrows too short to draw are skipped, with a warning that says so)
    suppressWarnings(graphics::arrows(imp[has_sd] - sds[has_sd], mid[has_sd], imp[has_sd] + sds[has_sd],
                                      mid[has_sd], angle = 90, code = 3, length = 0.04))
  }
  graphics::abline(v = 0, col = "grey40")
  invisible(x)
}
