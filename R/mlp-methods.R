# The methods of a model from mlp() (class `fwdprop_mlp`, a fitted
# `fwdprop_network` that also keeps its call and training data): what R
# users expect of lm(), glm() and nnet() models.

#' @rdname predict.fwdprop_network
#' @export
predict.fwdprop_mlp <- function(object, newdata, type = c("response", "prob", "class", "raw", "link"),
                                trace = FALSE, threads = NULL, ..., threshold = 0.5) {
  call <- sys.call()
  check_no_dots(..., fun = "predict()", call = call,
                choices = c("newdata", "type", "threshold", "trace", "threads"))
  if (!missing(newdata)) {
    return(predict_network(object, newdata, type, threshold, trace, threads, call))
  }
  res <- predict_network(object, mlp_train_x(object, call), type, threshold, trace, threads, call)
  if (!identical(trace, FALSE)) {
    return(res)
  }
  stats::napredict(mlp_na_action(object), res)
}

# The training rows' inputs as the network's input names (before scaling):
# the model matrix of the model frame (formula fits) or `x` as given.
mlp_train_x <- function(m, call) {
  mf <- m[["model"]]
  if (!is.null(mf)) {
    tt <- m[["terms"]]
    if (!is.data.frame(mf) || !inherits(attr(mf, "terms"), "terms") || is.null(tt)) {
      fwdprop_error(sprintf("`object$model` must be the model frame mlp() stored, not %s.", describe_object(mf)),
                    call = call)
    }
    x <- tryCatch(stats::model.matrix(tt$terms, mf, contrasts.arg = tt$contrasts), error = function(e) {
      fwdprop_error(sprintf("`object$model` does not fit the model's formula: %s", conditionMessage(e)), call = call)
    })
    x <- x[, colnames(x) != "(Intercept)", drop = FALSE]
    attr(x, "assign") <- NULL
    attr(x, "contrasts") <- NULL
    return(x)
  }
  if (!is.matrix(m[["x"]]) && !is.data.frame(m[["x"]])) {
    fwdprop_error("`object` holds no training data (it was edited, or not made by `mlp()`).", call = call)
  }
  m$x
}

# The training response: a factor with the model's classes, or numbers (a
# matrix for several responses).
mlp_train_y <- function(m) {
  mf <- m[["model"]]
  y <- if (is.null(mf)) m[["y"]] else stats::model.response(mf)
  if (!is.null(m[["levels"]])) y <- factor(as.character(y), levels = m$levels)
  y
}

mlp_na_action <- function(m) {
  mf <- m[["model"]]
  if (is.null(mf)) NULL else attr(mf, "na.action")
}

#' Fitted values, residuals and other parts of a model from mlp()
#'
#' The methods R's model functions offer, for a model fitted by [mlp()]:
#' * `fitted()`: the predictions of the training rows, as
#'   [predict(object)][predict.fwdprop_mlp()] (a matrix: for a regression
#'   on the response's scale, one column per response; for two classes the
#'   probability of the second; otherwise one probability per class);
#' * `residuals()`: `"response"` residuals `y - fitted(object)` (for
#'   classes, the indicator of the observed class minus the fitted
#'   probability, as nnet computes them); for a regression `"pearson"` and
#'   `"deviance"` residuals equal them (the squared-error loss is the
#'   Gaussian deviance); for two classes they are the binomial ones of
#'   [glm()];
#' * `coef()`: every weight and bias as one named vector in nnet's order
#'   and names (`"b->h1"`, `"i1->h1"`, ..., `"h1->o"`), see
#'   [coef.fwdprop_network()];
#' * `nobs()`: the number of rows used in the fit (training and validation
#'   rows);
#' * `formula()`, `terms()`, `model.frame()`: the formula with its
#'   response, its terms and the model frame of a formula fit;
#' * `update()`: fits again, from the stored call with the changed
#'   arguments (and the seed of the first fit, unless `seed` is changed).
#'
#' Rows dropped for missing values with `na.action = na.exclude` are
#' padded with `NA` in `fitted()`, `residuals()` and
#' `predict(object)`, as for [lm()].
#'
#' @param object A model from [mlp()].
#' @param type For `residuals()`: `"response"`, `"pearson"` or
#'   `"deviance"`.
#' @param formula. For `update()`: changes to the formula, as in
#'   [update.formula()] (`. ~ . - Sepal.Width`).
#' @param evaluate For `update()`: `FALSE` returns the new call instead of
#'   fitting it.
#' @param x,formula A model from [mlp()] (`formula` is the name `model.frame()` gives it).
#' @param ... For `update()`, arguments of [mlp()] to change (`hidden =
#'   3`, `epochs = 50`); otherwise not used.
#' @return `fitted()` and `residuals()`: a matrix, one row per training
#'   row (with its name); `nobs()`: a count; `formula()`, `terms()`,
#'   `model.frame()`: as for [lm()]; `update()`: a new model.
#' @seealso [summary.fwdprop_mlp()], [predict.fwdprop_mlp()]
#' @name fitted.fwdprop_mlp
#' @examples
#' m <- mlp(mpg ~ wt + hp, data = mtcars, hidden = 2, optimizer = "bfgs", seed = 1)
#' head(fitted(m))
#' head(residuals(m))
#' coef(m)
#' nobs(m)
#' formula(m)
#' m2 <- update(m, . ~ . + qsec)
#' formula(m2)
NULL

#' @rdname fitted.fwdprop_mlp
#' @export
fitted.fwdprop_mlp <- function(object, ...) {
  call <- sys.call()
  check_no_dots(..., fun = "fitted()", call = call)
  res <- predict_network(object, mlp_train_x(object, call), "response", 0.5, FALSE, NULL, call)
  stats::napredict(mlp_na_action(object), res)
}

#' @rdname fitted.fwdprop_mlp
#' @export
residuals.fwdprop_mlp <- function(object, type = c("response", "pearson", "deviance"), ...) {
  call <- sys.call()
  check_no_dots(..., fun = "residuals()", call = call, choices = "type")
  type <- check_choice(type, "type", c("response", "pearson", "deviance"), call = call)
  fit <- predict_network(object, mlp_train_x(object, call), "response", 0.5, FALSE, NULL, call)
  y <- mlp_train_y(object)
  lev <- object[["levels"]]
  if (is.null(lev)) {
    # Gaussian: the three kinds coincide
    res <- as.matrix(y) - fit
  } else if (length(lev) == 2L) {
    y01 <- as.double(y == lev[[2L]])
    p <- fit[, 1L]
    r <- switch(type,
      response = y01 - p,
      pearson = (y01 - p) / sqrt(p * (1 - p)),
      deviance = sign(y01 - p) * sqrt(-2 * ifelse(y01 == 1, log(p), log1p(-p)))
    )
    res <- matrix(r, ncol = 1L, dimnames = dimnames(fit))
  } else {
    if (type != "response") {
      fwdprop_error(sprintf(paste(
        "`type = \"%s\"` residuals are defined for a regression or two classes; this model has %d classes.",
        "Use `type = \"response\"` (class indicators minus probabilities)."), type, length(lev)), call = call)
    }
    ind <- outer(as.integer(y), seq_along(lev), "==") + 0
    res <- ind - fit
  }
  dimnames(res) <- dimnames(fit)
  stats::naresid(mlp_na_action(object), res)
}

#' @rdname fitted.fwdprop_mlp
#' @export
nobs.fwdprop_mlp <- function(object, ...) {
  rows <- object[["training"]][["rows"]]
  if (is.numeric(rows)) as.integer(sum(rows)) else nrow(mlp_train_x(object, sys.call()))
}

#' @rdname fitted.fwdprop_mlp
#' @export
formula.fwdprop_mlp <- function(x, ...) {
  stats::formula(terms.fwdprop_mlp(x))
}

#' @rdname fitted.fwdprop_mlp
#' @export
terms.fwdprop_mlp <- function(x, ...) {
  mf <- x[["model"]]
  if (is.null(mf)) {
    fwdprop_error(paste("`x` is a model fitted from `x` and `y`, not from a formula: it has no formula or terms.",
                        "Fit it with `mlp(y ~ ., data = )` to have them."), call = sys.call())
  }
  attr(mf, "terms")
}

#' @rdname fitted.fwdprop_mlp
#' @export
model.frame.fwdprop_mlp <- function(formula, ...) {
  mf <- formula[["model"]]
  if (is.null(mf)) {
    fwdprop_error(paste("`formula` is a model fitted from `x` and `y`, not from a formula: it has no model frame",
                        "(its data are `formula$x` and `formula$y`)."), call = sys.call())
  }
  mf
}

#' @rdname fitted.fwdprop_mlp
#' @export
update.fwdprop_mlp <- function(object, formula., ..., evaluate = TRUE) {
  call <- object[["call"]]
  if (!is.call(call)) {
    fwdprop_error("`object` has no call to update (it was edited, or not made by `mlp()`).", call = sys.call())
  }
  if (!missing(formula.)) {
    call[[2L]] <- stats::update.formula(formula.fwdprop_mlp(object), formula.)
  }
  extras <- match.call(expand.dots = FALSE)$...
  for (name in names(extras)) {
    call[name] <- list(extras[[name]])
  }
  if (evaluate) eval(call, parent.frame()) else call
}

#' Weights and biases as one named vector, in nnet's order
#'
#' `coef()` returns the parameters of a network layer by layer and, within
#' a layer, unit by unit: the bias of a unit then the weights into it, as
#' [nnet::nnet()]'s `coef()` lists them, with its names: inputs `i1`,
#' `i2`, ..., hidden units `h1`, `h2`, ... (with several hidden layers,
#' `h1.1`, `h1.2`, ... for layer 1, `h2.1`, ... for layer 2), outputs `o`
#' (or `o1`, `o2`, ...) and the bias `b`. For a network imported from
#' nnet with [as_network()], `coef()` equals nnet's.
#'
#' @param object A network.
#' @param ... Not used.
#' @return A named numeric vector with one element per parameter.
#' @export
#' @examples
#' net <- network(c(2, 2, 1), bias = TRUE, seed = 1)
#' coef(net)
coef.fwdprop_network <- function(object, ...) {
  net <- check_network(object, "object", call = sys.call())
  L <- length(net$weights)
  out <- lapply(seq_len(L), function(l) {
    w <- net$weights[[l]]
    b <- net$biases[[l]]
    from <- c(if (!is.null(b)) "b", unit_names(net, l))
    to <- unit_names(net, l + 1L)
    v <- if (is.null(b)) w else rbind(b, w)
    stats::setNames(as.vector(v), paste0(rep(from, times = ncol(w)), "->", rep(to, each = length(from))))
  })
  unlist(out)
}

# The fit statistics of summary(), glance() and knit_print(): the rows
# trained on and held out, the recorded losses, the classes and their
# counts, and accuracy (classifiers) or RMSE (regression) of the returned
# network on the training and the validation rows.
mlp_statistics <- function(m, call) {
  tr <- m[["training"]]
  h <- m[["history"]]
  rows <- tr[["rows"]]
  n_val <- if (is.numeric(rows) && length(rows) == 2L) as.integer(rows[[2L]]) else 0L
  x <- mlp_train_x(m, call)
  y <- mlp_train_y(m)
  n <- nrow(x)
  val <- integer(0)
  if (n_val > 0L && is.numeric(tr[["seed"]])) {
    val <- as.integer(validation_split_impl(n, n_val, tr$seed)$validation)
  }
  is_val <- seq_len(n) %in% val
  best <- tr[["best_epoch"]]
  at <- if (is.numeric(best) && length(best) == 1L && best >= 1L && best <= nrow(h)) best else nrow(h)
  out <- list(
    rows = c(train = sum(!is_val), validation = sum(is_val)),
    loss_name = tr[["loss"]], optimizer = tr[["optimizer"]],
    epochs = nrow(h), best_epoch = if (length(best) == 1L) as.integer(best) else NA_integer_,
    stopped = tr[["stopped"]] %||% NA_character_,
    loss = if (at >= 1L) h$loss[[at]] else NA_real_,
    val_loss = if (at >= 1L && n_val > 0L) h$val_loss[[at]] else NA_real_
  )
  lev <- m[["levels"]]
  if (!is.null(lev)) {
    pred <- predict_network(m, x, "class", 0.5, FALSE, NULL, call)
    ok <- as.character(pred) == as.character(y)
    out$classes <- table(y, dnn = NULL)
    out$accuracy <- c(train = mean(ok[!is_val]), validation = if (any(is_val)) mean(ok[is_val]) else NA_real_)
  } else {
    err <- as.matrix(y) - predict_network(m, x, "response", 0.5, FALSE, NULL, call)
    rmse <- function(rows) if (any(rows)) sqrt(colMeans(err[rows, , drop = FALSE]^2, na.rm = TRUE)) else NA_real_
    out$rmse <- rbind(train = rmse(!is_val), validation = rmse(is_val))
    colnames(out$rmse) <- colnames(err) %||% colnames(m$weights[[length(m$weights)]])
  }
  out
}

#' Print and summarise a model from mlp()
#'
#' `print()` shows the call, the network (as for
#' [print.fwdprop_network()]) and how it was trained. `summary()` adds the
#' fit statistics: the rows trained on and held out for validation, the
#' training and validation loss (as recorded at the epoch whose weights
#' were kept), the epochs run and why training stopped, the classes and
#' their counts, and the accuracy (classifiers) or the root mean squared
#' error on the response's scale (regression) on the training and the
#' validation rows. `glance()` returns these statistics as a one-row data
#' frame (the generics package's convention, as broom's).
#'
#' @param x,object A model from [mlp()].
#' @param digits Digits of the numbers shown.
#' @param weights Whether `print()` shows the weight matrices (by default
#'   not).
#' @param ... Not used.
#' @return `print()` returns `x` invisibly. `summary()` a list of class
#'   `summary.fwdprop_mlp` with `call`, `formula` (`NULL` for fits from `x`
#'   and `y`), `layers` (as [summary.fwdprop_network()]), `rows`,
#'   `loss_name`, `optimizer`, `epochs`, `best_epoch`, `stopped`, `loss`,
#'   `val_loss`, and for classifiers `classes` (a table of counts) and
#'   `accuracy` (`train`, `validation`), for regressions `rmse` (a matrix,
#'   rows `train` and `validation`, one column per response). `glance()`:
#'   the columns of [glance.fwdprop_network()] and `nobs`, `epochs`,
#'   `stopped`, `loss`, `val_loss`, then `accuracy` and `val_accuracy`, or
#'   `rmse` and `val_rmse` (over all responses). `tidy()`: the weights as
#'   [tidy.fwdprop_network()] lists them, with a column `term`, the name
#'   [coef()][coef.fwdprop_network()] gives each.
#' @seealso [fitted.fwdprop_mlp()], [knit_print.fwdprop_mlp()]
#' @name summary.fwdprop_mlp
#' @examples
#' m <- mlp(Species ~ ., data = iris, hidden = 3, epochs = 40, validation = 0.2, seed = 1)
#' m
#' summary(m)
#' glance(m)
NULL

#' @rdname summary.fwdprop_mlp
#' @export
print.fwdprop_mlp <- function(x, digits = 4L, weights = FALSE, ...) {
  call <- sys.call()
  if (is.call(x[["call"]])) {
    cat("Call:\n")
    print(x$call)
    cat("\n")
  }
  net <- x
  class(net) <- setdiff(class(x), "fwdprop_mlp")
  print(net, digits = digits, weights = weights)
  invisible(x)
}

#' @rdname summary.fwdprop_mlp
#' @export
summary.fwdprop_mlp <- function(object, ...) {
  call <- sys.call()
  check_no_dots(..., fun = "summary()", call = call)
  net <- check_network(object, "object", call = call)
  s <- mlp_statistics(net, call)
  res <- c(list(call = object[["call"]],
                formula = if (is.null(object[["model"]])) NULL else formula.fwdprop_mlp(object),
                layers = layer_table(net), levels = object[["levels"]]), s)
  class(res) <- "summary.fwdprop_mlp"
  res
}

#' @rdname summary.fwdprop_mlp
#' @export
print.summary.fwdprop_mlp <- function(x, digits = 4L, ...) {
  if (is.call(x$call)) {
    cat("Call:\n")
    print(x$call)
  }
  L <- nrow(x$layers)
  sizes <- c(x$layers$inputs[[1L]], x$layers$outputs)
  cat(sprintf("\nNetwork %s: %d layer%s (%s), %d parameters\n", paste(sizes, collapse = arrow()), L,
              if (L == 1L) "" else "s", paste(x$layers$activation, collapse = ", "),
              sum(x$layers$weights) + sum(x$layers$biases)))
  fmt <- function(v) if (length(v) == 0L || is.na(v)) "-" else format(v, digits = digits)
  cat(sprintf("Training: %s, %s loss, %d %s (%s; weights of %s %d kept)\n", x$optimizer, x$loss_name,
              x$epochs, if (identical(x$optimizer, "bfgs")) "iterations" else "epochs",
              gsub("_", " ", x$stopped), if (identical(x$optimizer, "bfgs")) "iteration" else "epoch",
              x$best_epoch))
  cat(sprintf("Rows: %d trained on, %d held out for validation\n", x$rows[["train"]], x$rows[["validation"]]))
  stat <- data.frame(row.names = c("train", "validation"), loss = c(x$loss, x$val_loss))
  if (!is.null(x$accuracy)) {
    stat$accuracy <- unname(x$accuracy)
  } else {
    rm <- x$rmse
    colnames(rm) <- if (ncol(rm) == 1L) "rmse" else paste0("rmse_", colnames(rm))
    stat <- cbind(stat, rm)
  }
  if (x$rows[["validation"]] == 0L) stat <- stat["train", , drop = FALSE]
  cat("\n")
  print(stat, digits = digits)
  if (!is.null(x$classes)) {
    cat("\nClasses (rows):\n")
    print(x$classes)
  }
  invisible(x)
}

#' @rdname summary.fwdprop_mlp
#' @export
glance.fwdprop_mlp <- function(x, ...) {
  call <- sys.call()
  check_no_dots(..., fun = "glance()", call = call)
  net <- check_network(x, "x", call = call)
  s <- mlp_statistics(net, call)
  out <- glance.fwdprop_network(net)
  out$nobs <- as.integer(sum(s$rows))
  out$epochs <- s$epochs
  out$stopped <- s$stopped
  out$loss <- s$loss
  out$val_loss <- s$val_loss
  if (!is.null(s$accuracy)) {
    out$accuracy <- s$accuracy[["train"]]
    out$val_accuracy <- s$accuracy[["validation"]]
  } else {
    overall <- function(r) sqrt(mean(r^2))
    out$rmse <- overall(s$rmse["train", ])
    out$val_rmse <- overall(s$rmse["validation", ])
  }
  out
}

# nnet's names of the units of layer `l` (1: the inputs, L + 1: the
# outputs): i1, i2, ...; h1, h2, ... (h1.1, h2.1, ... with several hidden
# layers); o (or o1, o2, ...).
unit_names <- function(net, l) {
  L <- length(net$weights)
  n <- net$sizes[[l]]
  if (l == 1L) return(paste0("i", seq_len(n)))
  if (l == L + 1L) return(if (n == 1L) "o" else paste0("o", seq_len(n)))
  if (L == 2L) paste0("h", seq_len(n)) else paste0("h", l - 1L, ".", seq_len(n))
}

#' @rdname summary.fwdprop_mlp
#' @export
tidy.fwdprop_mlp <- function(x, ...) {
  call <- sys.call()
  check_no_dots(..., fun = "tidy()", call = call)
  net <- check_network(x, "x", call = call)
  out <- tidy.fwdprop_network(net)
  # each parameter's name as coef() gives it
  from <- lapply(seq_along(net$weights), function(l) unit_names(net, l))
  to <- lapply(seq_along(net$weights), function(l) unit_names(net, l + 1L))
  src <- ifelse(out$type == "bias", "b", mapply(function(l, i) if (is.na(i)) NA_character_ else from[[l]][[i]],
                                                  out$layer, out$from))
  dst <- mapply(function(l, j) to[[l]][[j]], out$layer, out$to)
  out$term <- paste0(src, "->", dst)
  out
}
