# Permutation importance, against the same permutations done by hand with
# predict() and base R's losses.

imp_data <- function(n = 300, seed = 11) {
  set.seed(seed)
  d <- data.frame(x1 = runif(n, -2, 2), x2 = runif(n, -2, 2))
  d$y <- 2 * d$x1 + rnorm(n, sd = 0.1)
  d
}

test_that("importance() finds the predictor the response depends on, and the noise at about 0", {
  d <- imp_data()
  m <- mlp(y ~ x1 + x2, data = d, hidden = 3, optimizer = "bfgs", seed = 1)
  imp <- importance(m, d, y = "y", repeats = 5, seed = 42)
  expect_s3_class(imp, "fwdprop_importance")
  expect_s3_class(imp, "data.frame")
  expect_identical(names(imp), c("variable", "importance", "sd", "repeats"))
  expect_identical(imp$variable, c("x1", "x2"))
  # permuting x1 destroys the fit: the mse rises by about 2 * var(2 * x1)
  expect_gt(imp$importance[1L], 5)
  expect_lt(abs(imp$importance[2L]), 0.01)
  expect_gt(imp$importance[1L], 500 * abs(imp$importance[2L]))
  expect_identical(imp$repeats, c(5L, 5L))
  expect_identical(attr(imp, "metric"), "mse")
  expect_equal(attr(imp, "baseline"), mean((predict(m, d)[, 1L] - d$y)^2))
  # the formula's response is found in `data`
  expect_identical(importance(m, d, repeats = 5, seed = 42), imp)
  ml <- mlp(log(y + 10) ~ x1 + x2, data = d, hidden = 2, optimizer = "bfgs", seed = 1, maxit = 30)
  expect_identical(importance(ml, d, seed = 1), importance(ml, d, y = log(d$y + 10), seed = 1))
  expect_error(importance(ml, d[c("x1", "x2")]), class = "fwdprop_error", regexp = "`log(y + 10)`", fixed = TRUE)
})

test_that("importance() equals the permutations done by hand, in the documented order", {
  d <- imp_data()
  m <- mlp(y ~ x1 + x2, data = d, hidden = 3, optimizer = "bfgs", seed = 1)
  imp <- importance(m, d, y = d$y, repeats = 3, seed = 7)
  base <- mean((predict(m, d)[, 1L] - d$y)^2)
  set.seed(7)
  hand <- matrix(NA_real_, 2L, 3L, dimnames = list(c("x1", "x2"), NULL))
  for (v in c("x1", "x2")) {
    for (r in 1:3) {
      p <- d
      p[[v]] <- p[[v]][sample.int(nrow(d))]
      hand[v, r] <- mean((predict(m, p)[, 1L] - d$y)^2) - base
    }
  }
  expect_equal(attr(imp, "increases")[c("x1", "x2"), ], hand, tolerance = 1e-12)
  expect_equal(imp$importance, unname(rowMeans(hand)[imp$variable]), tolerance = 1e-12)
  expect_equal(imp$sd, unname(apply(hand, 1L, sd)[imp$variable]), tolerance = 1e-12)
  # rmse and mae
  imp_r <- importance(m, d, y = "y", repeats = 3, seed = 7, metric = "mae")
  set.seed(7)
  p <- d
  p$x1 <- p$x1[sample.int(nrow(d))]
  expect_equal(attr(imp_r, "increases")[["x1", 1L]],
               mean(abs(predict(m, p)[, 1L] - d$y)) - mean(abs(predict(m, d)[, 1L] - d$y)))
})

test_that("importance() is reproducible with a seed, and leaves R's generator as it was", {
  d <- imp_data(100)
  m <- mlp(y ~ ., data = d, hidden = 2, optimizer = "bfgs", seed = 1, maxit = 50)
  set.seed(99)
  before <- .Random.seed
  a <- importance(m, d, y = "y", seed = 5)
  expect_identical(.Random.seed, before)
  b <- importance(m, d, y = "y", seed = 5)
  expect_identical(a, b)
  # without a seed, set.seed() governs it
  set.seed(3)
  c1 <- importance(m, d, y = "y")
  set.seed(3)
  c2 <- importance(m, d, y = "y")
  expect_identical(c1, c2)
  expect_false(identical(attr(c1, "increases"), attr(a, "increases")))
  # a seed when there was no generator state yet: none is left behind
  rm(".Random.seed", envir = globalenv())
  importance(m, d, y = "y", seed = 5)
  expect_false(exists(".Random.seed", envir = globalenv(), inherits = FALSE))
  set.seed(1)
})

test_that("a factor predictor is permuted as one variable; classifiers use cross-entropy or accuracy", {
  set.seed(4)
  n <- 240
  d <- data.frame(g = factor(sample(c("a", "b", "c"), n, TRUE)), x = rnorm(n))
  d$cls <- factor(ifelse(d$g == "a" | (d$g == "b" & d$x > 0), "yes", "no"))
  flip <- sample(n, 40) # noise: no probability near 0 or 1
  d$cls[flip] <- ifelse(d$cls[flip] == "yes", "no", "yes")
  m <- mlp(cls ~ g + x, data = d, hidden = 4, optimizer = "bfgs", seed = 2)
  imp <- importance(m, d, y = "cls", repeats = 2, seed = 1)
  expect_setequal(imp$variable, c("g", "x")) # not the dummies gb, gc
  expect_identical(attr(imp, "metric"), "bce")
  expect_identical(imp$variable[1L], "g")
  # cross-entropy by hand: -mean(log p(true class)) of the single sigmoid output
  ce <- function(dd) {
    p1 <- predict(m, dd)[, 1L] # P(second level, "yes")
    mean(-log(ifelse(d$cls == "yes", p1, 1 - p1)))
  }
  set.seed(1)
  p <- d
  p$g <- p$g[sample.int(n)]
  expect_equal(attr(imp, "increases")[["g", 1L]], ce(p) - ce(d), tolerance = 1e-10)
  imp_ce <- importance(m, d, y = "cls", repeats = 2, seed = 1, metric = "cross_entropy")
  expect_equal(attr(imp_ce, "increases"), attr(imp, "increases"), tolerance = 1e-10)

  # softmax: iris, accuracy drop by hand
  mi <- mlp(Species ~ ., data = iris, hidden = 3, optimizer = "bfgs", seed = 1)
  acc <- importance(mi, iris, y = "Species", repeats = 2, metric = "accuracy", seed = 3)
  expect_identical(attr(acc, "metric"), "accuracy")
  expect_setequal(acc$variable, names(iris)[1:4])
  set.seed(3)
  p <- iris
  p$Sepal.Length <- p$Sepal.Length[sample.int(150)]
  hit <- function(dd) mean(predict(mi, dd, type = "class") == iris$Species)
  expect_equal(attr(acc, "increases")[["Sepal.Length", 1L]], hit(iris) - hit(p))
  ce_i <- importance(mi, iris, y = "Species", repeats = 1, seed = 3)
  expect_identical(attr(ce_i, "metric"), "cross_entropy")
  pr <- predict(mi, iris)
  expect_equal(attr(ce_i, "baseline"), -mean(log(pr[cbind(1:150, as.integer(iris$Species))])))
  expect_true(all(is.na(ce_i$sd)))
})

test_that("importance() works on networks fitted on matrices, and with a metric function", {
  d <- imp_data(150)
  x <- as.matrix(d[c("x1", "x2")])
  m <- mlp(x, d$y, hidden = 2, optimizer = "bfgs", seed = 1, maxit = 60)
  imp <- importance(m, x, y = d$y, repeats = 2, seed = 1)
  expect_identical(imp$variable, c("x1", "x2"))
  # the inputs picked by name from a wider data frame
  imp_df <- importance(m, d, y = "y", repeats = 2, seed = 1)
  expect_equal(attr(imp_df, "increases"), attr(imp, "increases"))
  # a user's loss
  mad <- function(truth, pred) median(abs(truth - pred[, 1L]))
  imp_f <- importance(m, x, y = d$y, repeats = 1, seed = 1, metric = mad)
  set.seed(1)
  p <- x
  p[, "x1"] <- p[sample.int(150), "x1"]
  expect_equal(attr(imp_f, "increases")[["x1", 1L]], mad(d$y, predict(m, p)) - mad(d$y, predict(m, x)))
  # a plain network, columns by position
  net <- network(weights = list(matrix(c(1, 0), 2)))
  imp_p <- importance(net, unname(x), y = x[, 1], repeats = 1, seed = 1)
  expect_identical(imp_p$variable, c("x1", "x2"))
  expect_identical(imp_p$importance[2L], 0)
})

test_that("importance() refuses bad input with errors naming the argument", {
  d <- imp_data(60)
  m <- mlp(y ~ x1 + x2, data = d, hidden = 2, optimizer = "bfgs", seed = 1, maxit = 20)
  m_xy <- mlp(d[c("x1", "x2")], d$y, hidden = 2, optimizer = "bfgs", seed = 1, maxit = 20)
  expect_error(importance(m_xy, d), class = "fwdprop_error", regexp = "`y` is missing")
  expect_error(importance(m, d, y = "z"), class = "fwdprop_error", regexp = "does not have")
  expect_error(importance(m, d, y = 1:3), class = "fwdprop_error", regexp = "one value per row")
  expect_error(importance(m, d, y = "y", repeats = 0), class = "fwdprop_error", regexp = "`repeats`")
  expect_error(importance(m, d, y = "y", metric = "auc"), class = "fwdprop_error", regexp = "`metric`")
  expect_error(importance(m, d[c("x1", "y")], y = "y"), class = "fwdprop_error", regexp = "`x2`")
  expect_error(importance(m, d, y = "y", repets = 2), class = "fwdprop_error", regexp = "repeats")
  expect_error(importance(m, d, y = "y", seed = -1), class = "fwdprop_error", regexp = "`seed`")
  expect_error(importance(m, d, y = "y", metric = "accuracy"), class = "fwdprop_error", regexp = "classes")
  expect_error(importance(lm(y ~ x1, d), d), class = "fwdprop_error", regexp = "`model`")
  expect_error(importance(m, d[1, ], y = "y"), class = "fwdprop_error", regexp = "at least two")
})

test_that("print() and plot() show the importances", {
  d <- imp_data(100)
  m <- mlp(y ~ x1 + x2, data = d, hidden = 2, optimizer = "bfgs", seed = 1, maxit = 60)
  imp <- importance(m, d, y = "y", seed = 1)
  out <- capture.output(print(imp))
  expect_match(out[1L], "increase in mse when each predictor is permuted (5 permutations each)", fixed = TRUE)
  expect_match(out[4L], "^\\s*x1\\s")
  expect_match(out[5L], "^\\s*x2\\s")
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  expect_identical(withVisible(plot(imp))$visible, FALSE)
  # the bars are drawn at the importances: the plot's x range covers mean + sd
  expect_gte(par("usr")[2L], imp$importance[1L] + imp$sd[1L])
})
