# caret_mlp() with caret::train(): caret's resampling runs, and the final
# model and its predictions are those of mlp() fitted directly.

# (loading caret can warn on machines without a time zone service)
suppressWarnings(requireNamespace("caret", quietly = TRUE))

# mlp() called directly with a grid point's decay, given to the argument
# caret_mlp() gives it to
mlp_decay <- function(x, y, hidden, decay, ...) {
  args <- list(x, y, hidden = hidden, ...)
  args[[fwdprop:::caret_decay_arg]] <- decay
  do.call(mlp, args)
}

test_that("caret::train() tunes a classifier with caret_mlp(), with class probabilities", {
  skip_if_not_installed("caret")
  grid <- expand.grid(hidden = c(2, 3), decay = c(0, 0.01))
  set.seed(1)
  tuned <- caret::train(iris[, 1:4], iris$Species, method = caret_mlp(), tuneGrid = grid,
                        trControl = caret::trainControl(method = "cv", number = 3, classProbs = TRUE),
                        maxit = 60, seed = 3)
  res <- tuned$results
  expect_identical(nrow(res), 4L)
  expect_true(all(is.finite(res$Accuracy)) && all(is.finite(res$Kappa)))
  expect_true(all(res$Accuracy > 0.8 & res$Accuracy <= 1))
  expect_identical(nrow(tuned$resample), 3L)
  best <- tuned$bestTune
  # the final model is mlp() fitted on all rows with the best parameters
  direct <- mlp_decay(iris[, 1:4], iris$Species, hidden = best$hidden, decay = best$decay,
                optimizer = "bfgs", maxit = 60, seed = 3)
  expect_equal(tuned$finalModel$weights, direct$weights, tolerance = 1e-12)
  new <- iris[c(1:5, 51:55, 101:105), 1:4]
  expect_identical(as.character(predict(tuned, new)), as.character(predict(direct, new, type = "class")))
  probs <- predict(tuned, new, type = "prob")
  expect_identical(names(probs), levels(iris$Species))
  expect_equal(unname(as.matrix(probs)), unname(predict(direct, new)), tolerance = 1e-12)
  expect_equal(rowSums(probs), rep(1, 15), tolerance = 1e-12, ignore_attr = TRUE)
  # the accuracy of a resample is that of its fold's predictions
  fold <- tuned$control$index[[1L]]
  m1 <- mlp_decay(iris[fold, 1:4], iris$Species[fold], hidden = best$hidden, decay = best$decay,
            optimizer = "bfgs", maxit = 60, seed = 3)
  held <- setdiff(seq_len(150), fold)
  acc <- mean(predict(m1, iris[held, 1:4], type = "class") == iris$Species[held])
  r1 <- tuned$resample[tuned$resample$Resample == names(tuned$control$index)[1L], ]
  expect_equal(r1$Accuracy, acc)
})

test_that("caret::train() tunes a regression and a two-class model with caret_mlp()", {
  skip_if_not_installed("caret")
  grid <- expand.grid(hidden = c(1, 3), decay = c(0, 0.1))
  x <- mtcars[, c("wt", "hp", "disp")]
  set.seed(2)
  tuned <- caret::train(x, mtcars$mpg, method = caret_mlp(), tuneGrid = grid,
                        trControl = caret::trainControl(method = "cv", number = 3),
                        maxit = 80, seed = 1)
  expect_true(all(is.finite(tuned$results$RMSE)) && all(is.finite(tuned$results$Rsquared)))
  expect_true(all(tuned$results$RMSE < 6)) # sd(mpg) is 6.03
  best <- tuned$bestTune
  expect_identical(best$RMSE, NULL)
  expect_identical(tuned$results$RMSE[tuned$results$hidden == best$hidden & tuned$results$decay == best$decay],
                   min(tuned$results$RMSE))
  direct <- mlp_decay(x, mtcars$mpg, hidden = best$hidden, decay = best$decay, optimizer = "bfgs",
                maxit = 80, seed = 1)
  expect_equal(unname(predict(tuned, x)), unname(predict(direct, x)[, 1L]), tolerance = 1e-12)

  # two classes: one sigmoid output, probabilities of both classes
  d <- mtcars
  am <- factor(d$am, labels = c("auto", "manual"))
  set.seed(3)
  two <- caret::train(d[, c("wt", "hp", "qsec")], am, method = caret_mlp(),
                      tuneGrid = data.frame(hidden = 2, decay = 0.01),
                      trControl = caret::trainControl(method = "cv", number = 3, classProbs = TRUE),
                      maxit = 50, seed = 1)
  expect_true(all(is.finite(two$results$Accuracy)))
  p <- predict(two, d[, c("wt", "hp", "qsec")], type = "prob")
  direct2 <- mlp_decay(d[, c("wt", "hp", "qsec")], am, hidden = 2, decay = 0.01, optimizer = "bfgs",
                 maxit = 50, seed = 1)
  p2 <- predict(direct2, d[, c("wt", "hp", "qsec")])[, 1L]
  expect_equal(p$manual, unname(p2), tolerance = 1e-12)
  expect_equal(p$auto, unname(1 - p2), tolerance = 1e-12)
})

test_that("caret_mlp() has caret's parts, the nnet model's grid, and refuses case weights", {
  info <- caret_mlp()
  expect_identical(info$parameters$parameter, c("hidden", "decay"))
  g <- info$grid(NULL, NULL, len = 3)
  expect_identical(sort(unique(g$hidden)), c(1, 3, 5))
  expect_equal(sort(unique(g$decay)), c(0, 1e-4, 1e-1))
  set.seed(1)
  r <- info$grid(NULL, NULL, len = 4, search = "random")
  expect_identical(nrow(r), 4L)
  expect_true(all(r$hidden %in% 1:20) && all(r$decay > 1e-5 & r$decay < 10))
  s <- info$sort(data.frame(hidden = c(3, 1, 1), decay = c(0, 0, 0.1)))
  expect_identical(s$hidden, c(1, 1, 3))
  expect_identical(s$decay, c(0.1, 0, 0))
  # the grid's decay reaches the fit: the same weights as mlp() with it
  # directly, not those without it
  fit_d <- info$fit(mtcars[c("wt", "hp")], mtcars$mpg, wts = NULL, param = data.frame(hidden = 2, decay = 0.1),
                    maxit = 30, seed = 1)
  expect_equal(fit_d$weights, mlp_decay(mtcars[c("wt", "hp")], mtcars$mpg, hidden = 2, decay = 0.1,
                                        optimizer = "bfgs", maxit = 30, seed = 1)$weights, tolerance = 1e-12)
  fit_0 <- info$fit(mtcars[c("wt", "hp")], mtcars$mpg, wts = NULL, param = data.frame(hidden = 2, decay = 0),
                    maxit = 30, seed = 1)
  expect_gt(max(abs(fit_d$weights[[1L]] - fit_0$weights[[1L]])), 1e-3)
  expect_error(info$fit(iris[1:4], iris$Species, wts = rep(1, 150), param = data.frame(hidden = 1, decay = 0)),
               class = "fwdprop_error", regexp = "case weights")
  skip_if_not_installed("caret")
  expect_error(caret::train(iris[1:4], iris$Species, method = caret_mlp(), weights = rep(1, 150),
                            tuneGrid = data.frame(hidden = 1, decay = 0),
                            trControl = caret::trainControl(method = "none")),
               regexp = "case weights")
})
