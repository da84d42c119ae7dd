# mlp() with a recipe: the same model as doing the recipe's steps by hand
# and fitting mlp() on the processed data.

# (loading recipes can warn on machines without a time zone service)
suppressWarnings(requireNamespace("recipes", quietly = TRUE))

rec_data <- function() {
  d <- mtcars
  d$cyl <- factor(d$cyl)
  d$am <- factor(d$am, labels = c("auto", "manual"))
  d
}

rec_recipe <- function(d) {
  rec <- recipes::recipe(mpg ~ wt + hp + cyl + am, data = d)
  rec <- recipes::step_normalize(rec, recipes::all_numeric_predictors())
  recipes::step_dummy(rec, recipes::all_nominal_predictors())
}

test_that("mlp() with a recipe fits and predicts as the recipe's steps done by hand", {
  skip_if_not_installed("recipes")
  d <- rec_data()
  train <- d[1:24, ]
  test <- d[25:32, ]
  rec <- rec_recipe(train)
  m <- mlp(rec, data = train, hidden = 3, optimizer = "bfgs", seed = 1, maxit = 80)
  expect_s3_class(m, "fwdprop_mlp_recipe")
  expect_s3_class(m, "fwdprop_network")
  expect_true(recipes::fully_trained(m$recipe))
  # by hand: normalise with the training means and sds, dummy-code, fit
  x_hand <- data.frame(wt = (train$wt - mean(train$wt)) / sd(train$wt),
                       hp = (train$hp - mean(train$hp)) / sd(train$hp),
                       cyl_X6 = as.numeric(train$cyl == "6"), cyl_X8 = as.numeric(train$cyl == "8"),
                       am_manual = as.numeric(train$am == "manual"))
  hand <- mlp(x_hand, train$mpg, hidden = 3, optimizer = "bfgs", seed = 1, maxit = 80)
  expect_equal(m$weights, hand$weights, tolerance = 1e-10)
  new_hand <- data.frame(wt = (test$wt - mean(train$wt)) / sd(train$wt),
                         hp = (test$hp - mean(train$hp)) / sd(train$hp),
                         cyl_X6 = as.numeric(test$cyl == "6"), cyl_X8 = as.numeric(test$cyl == "8"),
                         am_manual = as.numeric(test$am == "manual"))
  # predictions from new data as it comes, without the outcome column
  pred <- predict(m, test[c("wt", "hp", "cyl", "am")])
  expect_equal(pred, predict(hand, new_hand), tolerance = 1e-10)
  expect_equal(predict(m, test), predict(hand, new_hand), tolerance = 1e-10)
  # the same with the recipe prepared and baked by recipes itself
  prepped <- recipes::prep(rec, training = train)
  baked <- as.data.frame(recipes::bake(prepped, new_data = train))
  via_bake <- mlp(baked[setdiff(names(baked), "mpg")], baked$mpg, hidden = 3, optimizer = "bfgs",
                  seed = 1, maxit = 80)
  expect_equal(predict(m, test), predict(via_bake, as.data.frame(recipes::bake(prepped, test))),
               tolerance = 1e-12)
  # an already prepared recipe is used as it is
  m2 <- mlp(prepped, data = train, hidden = 3, optimizer = "bfgs", seed = 1, maxit = 80)
  expect_equal(predict(m2, test), pred, tolerance = 1e-12)
  # the model's methods: fitted values on the processed training data, the
  # user's call, update() through the recipe
  expect_equal(fitted(m), predict(hand, x_hand), tolerance = 1e-10, ignore_attr = TRUE)
  expect_identical(m$call[[2L]], quote(rec))
  expect_identical(m$call$seed, 1)
  m3 <- update(m, hidden = 2)
  expect_s3_class(m3, "fwdprop_mlp_recipe")
  expect_identical(m3$sizes, c(5L, 2L, 1L))
  expect_equal(predict(m3, test), predict(mlp(x_hand, train$mpg, hidden = 2, optimizer = "bfgs", seed = 1,
                                              maxit = 80), new_hand), tolerance = 1e-10)
})

test_that("mlp() with a recipe makes classifiers, and importance() permutes the original columns", {
  skip_if_not_installed("recipes")
  rec <- recipes::recipe(Species ~ ., data = iris)
  rec <- recipes::step_normalize(rec, recipes::all_numeric_predictors())
  m <- mlp(rec, data = iris, hidden = 3, optimizer = "bfgs", seed = 2, maxit = 100)
  expect_identical(m$levels, levels(iris$Species))
  cls <- predict(m, iris[1:4], type = "class")
  expect_s3_class(cls, "factor")
  expect_gt(mean(cls == iris$Species), 0.95)
  # importance: the outcome found from the recipe, the columns the recipe takes
  imp <- importance(m, iris, repeats = 2, seed = 1)
  expect_setequal(imp$variable, names(iris)[1:4])
  set.seed(1)
  p <- iris
  p$Sepal.Length <- p$Sepal.Length[sample.int(150)]
  ce <- function(dd) {
    pr <- predict(m, dd)
    -mean(log(pmax(pr[cbind(1:150, as.integer(iris$Species))], 1e-15))) # as documented
  }
  expect_equal(attr(imp, "increases")[["Sepal.Length", 1L]], ce(p) - ce(iris), tolerance = 1e-10)
  d <- rec_data()
  mf <- mlp(rec_recipe(d), data = d, hidden = 2, optimizer = "bfgs", seed = 1, maxit = 40)
  imp_f <- importance(mf, d, repeats = 1, seed = 1)
  expect_setequal(imp_f$variable, c("wt", "hp", "cyl", "am")) # not cyl_X6, cyl_X8
})

test_that("mlp() with a recipe refuses bad input with errors of the user's call", {
  skip_if_not_installed("recipes")
  d <- rec_data()
  rec <- rec_recipe(d)
  expect_error(mlp(rec, hidden = 2), class = "fwdprop_error", regexp = "`data`")
  expect_error(mlp(rec, data = d[c("wt", "hp")], hidden = 2), class = "fwdprop_error",
               regexp = "could not be prepared")
  err <- tryCatch(mlp(rec, data = d, hidden = -1), error = identity)
  expect_s3_class(err, "fwdprop_error")
  expect_match(conditionMessage(err), "`hidden`")
  expect_identical(deparse(err$call[[1L]]), "mlp")
  m <- mlp(rec, data = d, hidden = 2, optimizer = "bfgs", seed = 1, maxit = 10)
  expect_error(predict(m), class = "fwdprop_error", regexp = "`newdata`")
  expect_error(predict(m, d[c("wt", "hp")]), class = "fwdprop_error", regexp = "`newdata`")
  expect_error(predict(m, as.matrix(d[1:3])), class = "fwdprop_error", regexp = "`newdata`")
  no_outcome <- recipes::recipe(~ wt + hp, data = d)
  expect_error(mlp(no_outcome, data = d), class = "fwdprop_error", regexp = "no outcome")
})
