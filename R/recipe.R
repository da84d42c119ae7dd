# mlp() with a recipe (the recipes package) as its preprocessing: the
# recipe is prepared on the training data and kept with the model, and
# predict() and importance() apply it to new data.

#' Fit a multilayer perceptron with a recipe's preprocessing
#'
#' `mlp()` takes a recipe from the recipes package in place of a formula,
#' as brulee's models do: the recipe names the outcome and the predictors
#' and says how the predictors are prepared (normalised, dummy-coded,
#' imputed, ...). `mlp()` prepares the recipe on `data` (unless it is
#' already prepared), fits the network on the processed training data and
#' keeps the prepared recipe with the model, so that
#' [predict()][predict.fwdprop_network()] and [importance()] take new data
#' as it comes and process it the same way (with [recipes::bake()]).
#'
#' The processed predictors go to [mlp()] as a data frame (any factor
#' left unprocessed is expanded into dummy columns as [model.matrix()]
#' does), and its own centring and scaling (`scale = TRUE`) still applies.
#' A single outcome gives a classifier (a factor) or a regression (numbers);
#' several numeric outcomes give one output each.
#'
#' @param x A recipe ([recipes::recipe()]), prepared or not.
#' @param data A data frame to prepare the recipe on and to train with.
#' @inheritParams mlp
#' @param ... The settings of [mlp()] and [fit()] (`epochs`, `seed`,
#'   `optimizer`, ...).
#' @return A fitted network, as from [mlp()], of class
#'   `fwdprop_mlp_recipe` as well, with the prepared recipe as `$recipe`.
#' @seealso [mlp()]
#' @name mlp.recipe
#' @examples
#' if (requireNamespace("recipes", quietly = TRUE)) {
#'   d <- mtcars
#'   d$cyl <- factor(d$cyl)
#'   rec <- recipes::recipe(mpg ~ wt + hp + cyl, data = d)
#'   rec <- recipes::step_normalize(rec, recipes::all_numeric_predictors())
#'   rec <- recipes::step_dummy(rec, recipes::all_nominal_predictors())
#'   m <- mlp(rec, data = d, hidden = 3, optimizer = "bfgs", seed = 1)
#'   predict(m, d[1:3, c("wt", "hp", "cyl")])
#' }
NULL

#' @rdname mlp.recipe
#' @export
mlp.recipe <- function(x, data, hidden = 5, ...) {
  call <- sys.call()
  call[[1L]] <- as.name("mlp")
  check_recipes(call)
  if (missing(data) || !is.data.frame(data)) {
    fwdprop_error("`data` must be a data frame to prepare the recipe on and to train with.", call = call)
  }
  rec <- x
  prepared <- recipes::fully_trained(rec)
  if (!prepared) {
    rec <- recipe_step(recipes::prep(rec, training = data, retain = TRUE), "prepared", call)
  }
  baked <- recipe_step(recipes::bake(rec, new_data = if (prepared) data else NULL), "applied to `data`", call)
  baked <- as.data.frame(baked, stringsAsFactors = FALSE)
  roles <- recipe_roles(rec)
  outcome <- intersect(roles$variable[roles$role == "outcome"], names(baked))
  predictors <- intersect(names(baked), roles$variable[roles$role == "predictor"])
  if (length(outcome) == 0L) {
    fwdprop_error("the recipe has no outcome: write it as `recipe(y ~ x1 + x2, data)`.", call = call)
  }
  if (length(predictors) == 0L) {
    fwdprop_error("the recipe leaves no predictors for the network.", call = call)
  }
  y <- if (length(outcome) == 1L) baked[[outcome]] else as.matrix(baked[outcome])
  fitted <- withCallingHandlers(
    mlp(baked[predictors], y, hidden = hidden, ...),
    fwdprop_error = function(e) {
      # errors of the arguments, reported as the user's call's
      e$call <- call
      stop(e)
    }
  )
  fitted$recipe <- rec
  # the user's call, with the seed used, for print(), summary() and update()
  record <- match.call()
  record[[1L]] <- as.name("mlp")
  names(record)[names(record) == "x"] <- ""
  record$seed <- fitted$training$seed
  fitted$call <- record
  class(fitted) <- c("fwdprop_mlp_recipe", class(fitted))
  fitted
}

#' @rdname mlp.recipe
#' @param object A model from `mlp()` with a recipe.
#' @param newdata A data frame with the columns the recipe takes (the
#'   outcome may be left out).
#' @export
predict.fwdprop_mlp_recipe <- function(object, newdata, ...) {
  call <- sys.call()
  if (missing(newdata)) {
    fwdprop_error("`newdata` is missing: give a data frame with the columns the recipe takes.", call = call)
  }
  # the next method is called with the baked `newdata` (NextMethod() passes
  # the current values of the arguments)
  newdata <- recipe_bake(object, newdata, "newdata", call)
  NextMethod()
}

#' @export
importance.fwdprop_mlp_recipe <- function(model, data, y = NULL, repeats = 5L, metric = "loss",
                                          seed = NULL, ...) {
  call <- sys.call()
  check_no_dots(..., fun = "importance()", call = call,
                choices = c("data", "y", "repeats", "metric", "seed"))
  check_recipes(call)
  data <- importance_data(data, call)
  roles <- model$recipe$var_info
  if (is.null(y)) {
    y <- roles$variable[roles$role %in% "outcome"]
    if (length(y) != 1L) {
      fwdprop_error("`y` is missing: give the response, or the name of its column in `data`.", call = call)
    }
  }
  truth <- importance_response(y, data, call)
  vars <- roles$variable[roles$role %in% "predictor"]
  missing <- setdiff(vars, names(data))
  if (length(missing)) {
    fwdprop_error(sprintf("`data` lacks the predictor%s %s.", if (length(missing) == 1L) "" else "s",
                          paste0("`", missing, "`", collapse = ", ")), call = call)
  }
  predict_fun <- function(d) network_response(model, recipe_bake(model, d, "data", call), call)
  importance_run(model, data, truth, stats::setNames(vars, vars), predict_fun, repeats, metric, seed, call)
}

# `data` processed by the model's prepared recipe: its predictors.
recipe_bake <- function(model, data, arg, call) {
  check_recipes(call)
  if (!is.data.frame(data)) {
    fwdprop_error(sprintf("`%s` must be a data frame with the columns the recipe takes, not %s.",
                          arg, describe_object(data)), call = call)
  }
  baked <- recipe_step(recipes::bake(model$recipe, new_data = data, recipes::all_predictors()),
                       sprintf("applied to `%s`", arg), call)
  as.data.frame(baked, stringsAsFactors = FALSE)
}

# The roles of the variables of a prepared recipe (after its steps).
recipe_roles <- function(rec) {
  info <- rec$term_info %||% rec$var_info
  data.frame(variable = info$variable, role = info$role, stringsAsFactors = FALSE)
}

# A step of the recipes package, its errors reported as the user's call's.
recipe_step <- function(expr, what, call) {
  tryCatch(expr, error = function(e) {
    fwdprop_error(sprintf("the recipe could not be %s: %s", what, conditionMessage(e)), call = call)
  })
}

check_recipes <- function(call) {
  if (!requireNamespace("recipes", quietly = TRUE)) {
    fwdprop_error("a recipe needs the recipes package: install it with `install.packages(\"recipes\")`.",
                  call = call)
  }
}
