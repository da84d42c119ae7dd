iris_split <- function() {
  set.seed(10)
  train <- sample(nrow(iris), 100)
  list(train = iris[train, ], test = iris[-train, ])
}

test_that("mlp() classifies iris held out as well as nnet fitted on the same split", {
  s <- iris_split()
  m <- mlp(Species ~ ., data = s$train, hidden = 5, optimizer = "bfgs", maxit = 200, seed = 1)
  expect_identical(m$levels, levels(iris$Species))
  expect_identical(rownames(m$weights[[1]]), names(iris)[1:4])
  pred <- predict(m, s$test, type = "class")
  expect_s3_class(pred, "factor")
  expect_identical(levels(pred), levels(iris$Species))
  expect_identical(names(pred), rownames(s$test))
  acc <- mean(pred == s$test$Species)
  set.seed(1)
  nn <- nnet::nnet(Species ~ ., data = s$train, size = 5, maxit = 200, trace = FALSE)
  acc_nnet <- mean(predict(nn, s$test, type = "class") == s$test$Species)
  expect_gte(acc, 0.9)
  expect_gte(acc, acc_nnet - 0.04) # within two of the 50 held-out flowers
  # probabilities: one column per class, rows sum to 1
  p <- predict(m, s$test)
  expect_identical(colnames(p), levels(iris$Species))
  expect_equal(unname(rowSums(p)), rep(1, 50), tolerance = 1e-14)
  # the same with adam
  a <- mlp(Species ~ ., data = s$train, hidden = 5, epochs = 150, seed = 1)
  expect_gte(mean(predict(a, s$test, type = "class") == s$test$Species), 0.9)
})

test_that("mlp() predictions apply the stored scaling: equal to forward() on scaled inputs", {
  s <- iris_split()
  m <- mlp(Species ~ Petal.Length + Petal.Width, data = s$train, hidden = 3, epochs = 5, seed = 2)
  x <- as.matrix(s$test[, c("Petal.Length", "Petal.Width")])
  sc <- scale(as.matrix(s$train[, c("Petal.Length", "Petal.Width")]))
  z <- scale(x, attr(sc, "scaled:center"), attr(sc, "scaled:scale"))
  plain <- m
  plain$scaling <- plain$terms <- NULL
  expect_equal(unname(predict(m, s$test)), unname(forward(plain, unname(z))), tolerance = 1e-14)
  # a matrix with the right column names works too, in any column order
  expect_identical(predict(m, x[, 2:1]), predict(m, x))
  expect_identical(predict(m, as.data.frame(x)), predict(m, s$test))
})

test_that("mlp() regression predicts on the response's scale", {
  r <- mlp(mpg ~ wt + hp, data = mtcars, hidden = 3, optimizer = "bfgs", maxit = 500, seed = 1)
  expect_null(r$levels)
  expect_false(is.null(r$target_scaling))
  p <- predict(r, mtcars)
  expect_identical(dim(p), c(32L, 1L))
  expect_identical(rownames(p), rownames(mtcars))
  # better than the linear model on the training data
  expect_lt(mean((p - mtcars$mpg)^2), mean(residuals(lm(mpg ~ wt + hp, mtcars))^2))
  expect_error(predict(r, mtcars, type = "class"), class = "fwdprop_error", regexp = "classifier")
})

test_that("factor predictors are expanded as model.matrix() does, also in new data", {
  set.seed(3)
  d <- data.frame(g = factor(sample(c("a", "b", "c"), 120, TRUE)), u = rnorm(120))
  d$y <- factor(ifelse((d$g == "b") | (d$u > 1), "yes", "no"))
  m <- mlp(y ~ g + u, data = d, hidden = 4, optimizer = "bfgs", maxit = 300, seed = 1)
  expect_identical(rownames(m$weights[[1]]), c("gb", "gc", "u"))
  expect_identical(m$levels, c("no", "yes"))
  expect_identical(m$sizes[[3]], 1L) # one sigmoid output for two classes
  expect_gte(mean(predict(m, d, type = "class") == d$y), 0.95)
  # new data with only some levels present
  nd <- data.frame(g = factor("b", levels = c("b")), u = 0)
  expect_identical(as.character(predict(m, nd, type = "class")), "yes")
  # the x/y interface expands data frames the same way
  m2 <- mlp(d[, c("g", "u")], d$y, hidden = 4, optimizer = "bfgs", maxit = 300, seed = 1)
  expect_equal(predict(m2, d), predict(m, d), tolerance = 1e-12)
  # a level unseen in training is an error naming newdata
  expect_error(predict(m, data.frame(g = "z", u = 0)), class = "fwdprop_error", regexp = "`newdata`")
})

test_that("mlp() with x/y matrices, logical and character responses, several hidden layers", {
  set.seed(4)
  x <- matrix(rnorm(600), 200, dimnames = list(NULL, c("a", "b", "c")))
  yl <- x[, 1] * x[, 2] > 0
  m <- mlp(x, yl, hidden = c(8, 4), activation = "tanh", optimizer = "bfgs", maxit = 300, seed = 5)
  expect_identical(m$sizes, c(3L, 8L, 4L, 1L))
  expect_identical(m$levels, c("FALSE", "TRUE"))
  expect_gte(mean(as.logical(predict(m, x, type = "class")) == yl), 0.9)
  mc <- mlp(x, ifelse(yl, "same", "other"), hidden = 0, epochs = 5, seed = 1)
  expect_identical(mc$sizes, c(3L, 1L)) # no hidden layer: logistic regression
  unnamed <- mlp(unname(x), yl, hidden = 2, epochs = 2, seed = 1)
  expect_identical(rownames(unnamed$weights[[1]]), c("x1", "x2", "x3"))
})

test_that("mlp() uses the seed for the weights and the training: reproducible", {
  a <- mlp(Species ~ ., data = iris, hidden = 3, epochs = 3, seed = 42)
  b <- mlp(Species ~ ., data = iris, hidden = 3, epochs = 3, seed = 42)
  expect_identical(a$weights, b$weights)
  set.seed(5)
  c1 <- mlp(Species ~ ., data = iris, hidden = 3, epochs = 3)
  set.seed(5)
  c2 <- mlp(Species ~ ., data = iris, hidden = 3, epochs = 3)
  expect_identical(c1$weights, c2$weights)
  expect_false(identical(c1$weights, a$weights))
})

test_that("a fitted network prints its classes, scaling and training", {
  m <- mlp(Species ~ ., data = iris, hidden = 2, epochs = 3, seed = 1)
  out <- capture.output(print(m, weights = FALSE))
  expect_true(any(grepl("classes: setosa, versicolor, virginica", out)))
  expect_true(any(grepl("inputs centred and scaled", out)))
  expect_true(any(grepl("trained: adam, cross_entropy loss, 3 epochs (completed)", out, fixed = TRUE)))
})

test_that("formulas and data that model.matrix() cannot use are fwdprop_errors naming the fix", {
  d <- data.frame(y = c(1.5, 2, 3.5, 4, 5, 7), a = c(1, 3, 2, 5, 4, 6), f = factor(rep("a", 6)),
                  z = complex(real = 1:6, imaginary = 1))
  d_na <- d
  d_na$y <- NA_real_
  expect_snapshot(error = TRUE, {
    mlp(y ~ 1, d)
    mlp(y ~ a + f, d)
    mlp(d[c("a", "f")], d$y)
    mlp(y ~ a + z, d)
    mlp(y ~ a, d_na)
    mlp(y ~ a + offset(a), d)
    mlp(y ~ a, d, activation = NA)
  })
  for (bad in list(quote(mlp(y ~ 1, d)), quote(mlp(y ~ a + f, d)), quote(mlp(y ~ a, d_na)))) {
    expect_error(eval(bad), class = "fwdprop_error")
  }
})

test_that("a network kept in an environment is refused by every method with a fwdprop_error", {
  net <- network(c(2, 3, 1), seed = 1)
  e <- list2env(unclass(net))
  class(e) <- "fwdprop_network"
  expect_error(forward(e, matrix(1, 1, 2)), class = "fwdprop_error", regexp = "an environment, not a list")
  expect_error(print(e), class = "fwdprop_error", regexp = "an environment, not a list")
  expect_error(fit(e, matrix(1, 2, 2), c(0, 1)), class = "fwdprop_error", regexp = "an environment")
})

test_that("mlp() takes case weights from data, subset and NA-filtered with the rows, as lm() does", {
  d <- mtcars
  d$w <- rep(c(1, 2, 3, 1), 8)
  d$hp[c(3, 10)] <- NA
  keep <- d$cyl != 6
  a <- mlp(mpg ~ wt + hp, data = d, weights = w, subset = keep, hidden = 2,
           optimizer = "bfgs", maxit = 30, seed = 1, verbose = FALSE)
  rows <- which(keep & !is.na(d$hp))
  b <- mlp(mpg ~ wt + hp, data = d[rows, ], weights = d$w[rows], hidden = 2,
           optimizer = "bfgs", maxit = 30, seed = 1, verbose = FALSE)
  expect_equal(a$weights, b$weights)
  expect_equal(unname(fitted(a)), unname(fitted(b)))
  # whole-number weights: the same fit as the rows repeated (unscaled: the
  # inputs' scaling is computed over the rows, not weighted)
  dd <- d[rep(rows, d$w[rows]), ]
  a0 <- update(a, scale = FALSE)
  r <- mlp(mpg ~ wt + hp, data = dd, hidden = 2, optimizer = "bfgs", maxit = 30, seed = 1, scale = FALSE,
           verbose = FALSE)
  expect_equal(a0$weights, r$weights, tolerance = 1e-6)
  # the weighted model keeps working as a model
  expect_equal(nobs(a), length(rows))
  expect_s3_class(update(a, hidden = 3), "fwdprop_mlp")
  expect_equal(predict(a), fitted(a))
  expect_error(mlp(mpg ~ wt, data = d, weights = rep(-1, 32), verbose = FALSE), class = "fwdprop_error")
})
