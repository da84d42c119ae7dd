# The model methods of mlp(): predict() types, fitted(), residuals(),
# coef(), nobs(), formula(), terms(), model.frame(), update(), summary(),
# glance(), knit_print(), and what a saved model holds. References: the
# network's weights run through base R (forward_ref() with plogis and a
# softmax by hand), lm(), glm() and nnet.

# z of the output layer in base R: the scaled inputs through the weights,
# the output activation replaced by the identity.
mm_raw_ref <- function(m, x) {
  x <- scale(x[, rownames(m$weights[[1]]), drop = FALSE], m$scaling$center, m$scaling$scale)
  net <- m
  net$activations[length(net$activations)] <- "identity"
  forward_ref(net, x)
}
softmax_ref <- function(z) exp(z) / rowSums(exp(z))

test_that("predict() types of a classifier of three classes equal the base-R chain", {
  set.seed(1)
  rows <- sample(150, 40)
  train <- iris[-rows, ]
  test <- iris[rows, ]
  m <- mlp(Species ~ ., data = train, hidden = 4, epochs = 20, seed = 3, verbose = FALSE)
  expect_s3_class(m, c("fwdprop_mlp", "fwdprop_network"), exact = TRUE)
  z <- mm_raw_ref(m, as.matrix(test[1:4]))
  raw <- predict(m, test, type = "raw")
  expect_equal(unname(raw), unname(z), tolerance = 1e-12)
  expect_identical(predict(m, test, type = "link"), raw)
  expect_identical(dimnames(raw), list(rownames(test), levels(iris$Species)))
  p <- predict(m, test, type = "prob")
  expect_equal(p, softmax_ref(raw), tolerance = 1e-12)
  expect_identical(predict(m, test), p) # "response": the probabilities
  cls <- predict(m, test, type = "class")
  expect_identical(cls, stats::setNames(factor(levels(iris$Species)[max.col(p)], levels(iris$Species)),
                                        rownames(test)))
  # no newdata: the training rows, as fitted()
  expect_identical(predict(m), predict(m, train))
  expect_identical(fitted(m), predict(m, train))
  expect_identical(predict(m, type = "class"), predict(m, train, type = "class"))
  expect_error(predict(m, test, threshold = 0.3, type = "class"), class = "fwdprop_error",
               regexp = "two classes")
})

test_that("predict() of two classes: P(second class) named by it, both columns, a threshold", {
  two <- droplevels(iris[51:150, ])
  set.seed(2)
  two <- two[sample(100), ]
  m <- mlp(Species ~ ., data = two, hidden = 3, optimizer = "bfgs", maxit = 50, seed = 1)
  z <- mm_raw_ref(m, as.matrix(two[1:4]))
  raw <- predict(m, two, type = "raw")
  expect_equal(unname(raw), unname(z), tolerance = 1e-12)
  r <- predict(m, two)
  expect_identical(dimnames(r), list(rownames(two), "virginica"))
  expect_equal(r, plogis(raw), tolerance = 1e-12)
  p <- predict(m, two, type = "prob")
  expect_identical(colnames(p), c("versicolor", "virginica"))
  expect_equal(unname(p), unname(cbind(1 - r, r)), tolerance = 0)
  for (t in c(0.5, 0.2, 0.9)) {
    cls <- predict(m, two, type = "class", threshold = t)
    want <- factor(ifelse(unname(r[, 1]) >= t, "virginica", "versicolor"), c("versicolor", "virginica"))
    expect_identical(unname(cls), want)
    expect_identical(names(cls), rownames(two))
  }
  expect_gt(sum(predict(m, two, type = "class", threshold = 0.2) == "virginica"),
            sum(predict(m, two, type = "class", threshold = 0.9) == "virginica"))
  expect_snapshot(error = TRUE, {
    predict(m, two, type = "class", threshold = 1)
    predict(m, two, type = "prob", threshold = 0.3)
    predict(m, two, type = "probability")
  })
})

test_that("predict() of regressions: on the response's scale, named by the responses", {
  r <- mlp(mpg ~ wt + hp, data = mtcars, hidden = 2, optimizer = "bfgs", maxit = 100, seed = 1)
  z <- mm_raw_ref(r, as.matrix(mtcars[c("wt", "hp")]))
  expect_equal(unname(predict(r, mtcars, type = "raw")), unname(z), tolerance = 1e-12)
  p <- predict(r, mtcars)
  expect_identical(dimnames(p), list(rownames(mtcars), "mpg"))
  expect_equal(unname(p), unname(z * sd(mtcars$mpg) + mean(mtcars$mpg)), tolerance = 1e-12)
  expect_identical(predict(r), p)
  expect_error(predict(r, mtcars, type = "prob"), class = "fwdprop_error", regexp = "classifier")
  # several responses keep their names
  m2 <- mlp(cbind(mpg, qsec) ~ wt + hp, data = mtcars, hidden = 3, epochs = 5, seed = 1, verbose = FALSE)
  p2 <- predict(m2, mtcars[1:3, ])
  expect_identical(dimnames(p2), list(rownames(mtcars)[1:3], c("mpg", "qsec")))
  z2 <- mm_raw_ref(m2, as.matrix(mtcars[1:3, c("wt", "hp")]))
  ys <- as.matrix(mtcars[c("mpg", "qsec")])
  expect_equal(unname(p2), unname(sweep(sweep(z2, 2, apply(ys, 2, sd), "*"), 2, colMeans(ys), "+")),
               tolerance = 1e-12)
  # x/y fits: row names of a data frame subset kept
  xy <- mlp(mtcars[c("wt", "hp")], mtcars$mpg, hidden = 2, epochs = 3, seed = 1, verbose = FALSE)
  expect_identical(rownames(predict(xy, mtcars[5:7, c("wt", "hp")])), rownames(mtcars)[5:7])
  expect_identical(rownames(predict(xy, data.frame(wt = 3, hp = 100))), NULL)
})

test_that("fitted() and residuals() equal y minus the predictions, as lm and glm define them", {
  r <- mlp(mpg ~ wt + hp, data = mtcars, hidden = 2, optimizer = "bfgs", maxit = 100, seed = 1)
  f <- fitted(r)
  expect_identical(f, predict(r, mtcars))
  res <- residuals(r)
  expect_equal(res[, "mpg"], mtcars$mpg - f[, "mpg"] + 0 * f[, 1], tolerance = 0)
  expect_identical(residuals(r, type = "pearson"), res)
  expect_identical(residuals(r, type = "deviance"), res)
  expect_identical(rownames(res), rownames(mtcars))
  # with na.exclude, the rows left out are NA, as for lm()
  d <- mtcars
  d$hp[c(3, 10)] <- NA
  rx <- mlp(mpg ~ wt + hp, data = d, hidden = 2, epochs = 3, seed = 1, verbose = FALSE, na.action = na.exclude)
  lx <- lm(mpg ~ wt + hp, data = d, na.action = na.exclude)
  expect_identical(nobs(rx), 30L)
  expect_identical(is.na(residuals(rx)[, 1]), is.na(residuals(lx)))
  expect_identical(rownames(fitted(rx)), names(fitted(lx)))
  expect_identical(dim(predict(rx)), c(32L, 1L))
  # two classes, no hidden layer, trained to convergence: logistic regression,
  # whose residuals of each type are glm()'s
  pima <- MASS::Pima.tr
  lg <- mlp(type ~ glu + bmi + age, data = pima, hidden = 0, optimizer = "bfgs", maxit = 1000, seed = 1)
  gl <- glm(type ~ glu + bmi + age, data = pima, family = binomial)
  expect_equal(fitted(lg)[, "Yes"], fitted(gl), tolerance = 1e-3)
  at_mlp <- gl
  at_mlp$fitted.values <- fitted(lg)[, "Yes"] # glm's residuals at mlp()'s probabilities
  for (type in c("response", "pearson", "deviance")) {
    expect_equal(residuals(lg, type = type)[, "Yes"], residuals(gl, type = type), tolerance = 1e-3)
    expect_equal(residuals(lg, type = type)[, "Yes"], residuals(at_mlp, type = type), tolerance = 1e-12)
  }
  # three classes: class indicators minus probabilities (nnet's residuals)
  m <- mlp(Species ~ ., data = iris, hidden = 2, epochs = 3, seed = 1, verbose = FALSE)
  ind <- outer(as.integer(iris$Species), 1:3, "==") + 0
  expect_equal(unname(residuals(m)), unname(ind - fitted(m)), tolerance = 0)
  expect_snapshot(error = TRUE, {
    residuals(m, type = "pearson")
    residuals(m, type = "working")
    fitted(m, 1)
  })
})

test_that("coef() lists the weights in nnet's order and names; equal to nnet's for an imported nnet", {
  set.seed(1)
  nn <- nnet::nnet(Species ~ ., data = iris, size = 2, trace = FALSE)
  expect_identical(coef(as_network(nn)), coef(nn))
  reg <- nnet::nnet(mpg ~ wt + hp, data = mtcars, size = 3, linout = TRUE, trace = FALSE)
  expect_identical(coef(as_network(reg)), coef(reg))
  m <- mlp(Species ~ ., data = iris, hidden = 2, epochs = 2, seed = 1, verbose = FALSE)
  cf <- coef(m)
  expect_identical(names(cf), names(coef(nn)))
  expect_length(cf, sum(lengths(m$weights)) + sum(lengths(m$biases)))
  expect_identical(unname(cf[c("b->h2", "i3->h2", "h1->o3")]),
                   unname(c(m$biases[[1]][2], m$weights[[1]][3, 2], m$weights[[2]][1, 3])))
  # tidy(): a row per parameter, named as coef() names it
  td <- tidy(m)
  expect_identical(td$weight[match(names(cf), td$term)], unname(cf))
  expect_identical(td$term[td$layer == 1 & td$from == 3 & td$to == 2 & td$type == "weight"], "i3->h2")
  # two hidden layers, no biases
  deep <- network(c(2, 3, 2, 1), seed = 1)
  cd <- coef(deep)
  expect_identical(names(cd)[c(1, 6, 7, 12, 13, 14)],
                   c("i1->h1.1", "i2->h1.3", "h1.1->h2.1", "h1.3->h2.2", "h2.1->o", "h2.2->o"))
  expect_identical(unname(cd), unlist(lapply(deep$weights, as.vector)))
})

test_that("nobs(), formula(), terms() and model.frame() are lm()'s for the same formula", {
  d <- transform(mtcars, cyl = factor(cyl))
  m <- mlp(log(mpg) ~ wt + cyl, data = d, subset = hp > 60, hidden = 2, epochs = 2, seed = 1, verbose = FALSE)
  l <- lm(log(mpg) ~ wt + cyl, data = d, subset = hp > 60)
  expect_identical(nobs(m), nobs(l))
  expect_identical(deparse(formula(m)), deparse(formula(l)))
  expect_identical(environment(formula(m)), globalenv())
  tm <- terms(m)
  tl <- terms(l)
  environment(tl) <- globalenv()
  expect_identical(tm, tl)
  mfm <- model.frame(m)
  mfl <- model.frame(l)
  attr(mfm, "terms") <- attr(mfl, "terms") <- NULL
  expect_identical(mfm, mfl)
  expect_identical(colnames(predict(m)), "log(mpg)")
  xy <- mlp(as.matrix(mtcars[c("wt", "hp")]), mtcars$mpg, hidden = 2, epochs = 2, seed = 1, verbose = FALSE)
  expect_identical(nobs(xy), 32L)
  expect_snapshot(error = TRUE, {
    formula(xy)
    model.frame(xy)
  })
})

test_that("update() fits again with changed arguments and the same seed", {
  m <- mlp(Species ~ ., data = iris, hidden = 2, epochs = 5, verbose = FALSE)
  expect_identical(m$call$seed, m$training$seed)
  again <- update(m)
  expect_identical(again$weights, m$weights)
  wider <- update(m, hidden = 3)
  direct <- mlp(Species ~ ., data = iris, hidden = 3, epochs = 5, verbose = FALSE, seed = m$training$seed)
  expect_identical(wider$weights, direct$weights)
  fewer <- update(m, . ~ . - Sepal.Width)
  expect_identical(rownames(fewer$weights[[1]]), c("Sepal.Length", "Petal.Length", "Petal.Width"))
  expect_identical(deparse(update(m, epochs = 9, evaluate = FALSE)$epochs), "9")
  # x/y fits too, and a model fitted inside a function finds its data there
  f <- function() {
    xx <- iris[1:4]
    yy <- iris$Species
    fm <- mlp(xx, yy, hidden = 2, epochs = 3, verbose = FALSE)
    list(fm, update(fm, epochs = 3))
  }
  both <- f()
  expect_identical(both[[1]]$weights, both[[2]]$weights)
})

test_that("summary() and glance() report the losses, epochs, classes and accuracy or RMSE", {
  set.seed(1)
  m <- mlp(Species ~ ., data = iris, hidden = 3, epochs = 15, validation = 0.2, seed = 7, verbose = FALSE)
  s <- summary(m)
  expect_s3_class(s, "summary.fwdprop_mlp")
  expect_identical(s$rows, c(train = 120L, validation = 30L))
  expect_identical(s$epochs, 15L)
  expect_identical(s$stopped, m$training$stopped)
  expect_identical(s$loss, m$history$loss[m$training$best_epoch])
  expect_identical(s$val_loss, m$history$val_loss[m$training$best_epoch])
  expect_identical(c(s$classes), c(setosa = 50L, versicolor = 50L, virginica = 50L))
  # the validation rows are those fit() held out: their cross-entropy with
  # the returned weights is the recorded val_loss
  p <- predict(m, type = "prob")
  ok <- predict(m, type = "class") == iris$Species
  logp <- log(p[cbind(seq_len(150), as.integer(iris$Species))])
  acc <- s$accuracy
  expect_equal(120 * acc[["train"]] + 30 * acc[["validation"]], sum(ok), tolerance = 1e-12)
  split <- fwdprop:::validation_split_impl(150, 30, m$training$seed)$validation
  expect_equal(-mean(logp[split]), s$val_loss, tolerance = 1e-10)
  expect_equal(acc[["validation"]], mean(ok[split]), tolerance = 0)
  g <- glance(m)
  expect_identical(nrow(g), 1L)
  expect_identical(g$nobs, 150L)
  expect_identical(g$accuracy, acc[["train"]])
  expect_identical(g$val_accuracy, acc[["validation"]])
  expect_identical(g$val_loss, s$val_loss)
  expect_identical(g$parameters, 27L)
  out <- capture.output(print(s))
  expect_true(any(grepl("120 trained on, 30 held out", out, fixed = TRUE)))
  expect_true(any(grepl("^validation", out)))
  # regression: RMSE on the response's scale, from the residuals
  r <- mlp(mpg ~ wt + hp, data = mtcars, hidden = 2, optimizer = "bfgs", maxit = 60, seed = 1)
  sr <- summary(r)
  expect_equal(sr$rmse[["train", "mpg"]], sqrt(mean(residuals(r)^2)), tolerance = 1e-12)
  expect_true(is.na(sr$rmse[["validation", "mpg"]]))
  expect_identical(glance(r)$rmse, sr$rmse[["train", "mpg"]])
  expect_true(is.na(glance(r)$val_rmse))
  expect_true(any(grepl("bfgs, mse loss, 60 iterations", capture.output(print(sr)), fixed = TRUE)))
  pr <- capture.output(print(r))
  expect_identical(pr[1:2], c("Call:", "mlp(mpg ~ wt + hp, data = mtcars, hidden = 2, optimizer = \"bfgs\", "))
  expect_true(any(grepl("trained: bfgs, mse loss, 60 iterations", pr, fixed = TRUE)))
})

test_that("knit_print() of a model shows its fit statistics and classes as tables", {
  skip_if_not_installed("knitr")
  m <- mlp(Species ~ ., data = iris, hidden = 3, epochs = 10, validation = 0.2, seed = 7, verbose = FALSE)
  s <- summary(m)
  out <- knitr::knit_print(m)
  expect_s3_class(out, "knit_asis")
  expect_match(out, "**fwdprop mlp** `Species ~ Sepal.Length", fixed = TRUE)
  tables <- md_tables(out)
  stat <- table_with_caption(tables, "Fit statistics")
  expect_identical(stat[, 1L], c("rows", "train", "validation"))
  expect_identical(as.numeric(stat[-1L, 3L]), round(unname(s$accuracy), 4))
  cls <- table_with_caption(tables, "Classes")
  expect_identical(cls[-1L, 2L], c("50", "50", "50"))
  expect_false(is.null(table_with_caption(tables, "Layers")))
})

test_that("a saved model is small whatever its calling frame held, and predicts in a new R session", {
  skip_on_cran()
  skip_if_not_installed("callr")
  fit_inside <- function() {
    big <- runif(4e6) # 30 MB the model must not take along
    list(formula = mlp(mpg ~ wt + hp + factor(cyl), data = mtcars, hidden = 2, epochs = 3, seed = 1,
                       verbose = FALSE),
         xy = mlp(transform(mtcars[c("wt", "hp")], cyl = factor(mtcars$cyl)), mtcars$mpg, hidden = 2,
                  epochs = 3, seed = 1, verbose = FALSE))
  }
  models <- fit_inside()
  nd <- list(formula = mtcars, xy = transform(mtcars[c("wt", "hp")], cyl = factor(mtcars$cyl)))
  expect_error(suppressWarnings(predict(models$xy, mtcars)), class = "fwdprop_error",
               regexp = "types they had in training")
  for (name in names(models)) {
    path <- tempfile(fileext = ".rds")
    on.exit(unlink(path), add = TRUE)
    saveRDS(models[[name]], path)
    expect_lt(file.size(path), 20000)
    want <- predict(models[[name]], nd[[name]])
    got <- callr::r(function(path, data) {
      loadNamespace("fwdprop") # as library(fwdprop) would
      m <- readRDS(path)
      predict(m, data)
    }, args = list(path = path, data = nd[[name]]), libpath = .libPaths())
    expect_identical(got, want)
  }
})

test_that("mlp()'s messages name mlp() and the argument meant, also for nnet's names", {
  d <- data.frame(y = c(1.5, 2, 3.5, 4, 5, 7), a = c(1, 3, 2, 5, 4, 6), g = factor(rep("u", 6)))
  expect_snapshot(error = TRUE, {
    mlp(y ~ a, d, size = 3)
    mlp(y ~ a, d, linout = TRUE)
    mlp(y ~ a, d, entropy = TRUE)
    mlp(y ~ a, d, trace = FALSE)
    mlp(y ~ a, d, epoch = 3)
    mlp(y ~ a, d, 3, 4)
    mlp(d["a"], d$y, sizes = 2)
    mlp(g ~ a, d)
    mlp(d["a"], d$g)
    mlp(d["a"], rep(NA_real_, 6))
    mlp(y ~ offset(a), d)
    mlp(y ~ a, d, activation = "sigmoidal")
  })
  err <- tryCatch(mlp(y ~ a, d, size = 3), error = identity)
  expect_s3_class(err, "fwdprop_error")
  expect_identical(deparse(conditionCall(err)), "mlp(y ~ a, d, size = 3)")
  err <- tryCatch(mlp(y ~ a, d, epochs = 0), error = identity)
  expect_identical(deparse(conditionCall(err)), "mlp(y ~ a, d, epochs = 0)")
  # nnet's `decay`: whichever of `decay` and `weight_decay` fit() takes
  if (!"decay" %in% names(formals(fwdprop:::fit.fwdprop_network))) {
    expect_error(mlp(y ~ a, d, decay = 0.1), class = "fwdprop_error", regexp = "`weight_decay`")
  }
})

test_that("a predictor with hundreds of levels, or one per few rows, warns naming it", {
  set.seed(1)
  n <- 60
  d <- data.frame(id = sprintf("row%02d", seq_len(n)), x = rnorm(n), y = rnorm(n),
                  g = factor(sample(c("a", "b"), n, TRUE)))
  expect_snapshot(m <- mlp(y ~ id + x, d, hidden = 1, epochs = 1, seed = 1, verbose = FALSE))
  expect_warning(mlp(y ~ id + x, d, hidden = 1, epochs = 1, seed = 1, verbose = FALSE),
                 class = "fwdprop_warning", regexp = "`id`")
  big <- data.frame(code = factor(rep(sprintf("c%03d", 1:150), 4)), y = rnorm(600))
  expect_warning(mlp(big["code"], big$y, hidden = 1, epochs = 1, seed = 1, verbose = FALSE),
                 class = "fwdprop_warning", regexp = "`code` has 150 levels in 600 rows")
  # a few levels, or a small data set's factor: no warning
  expect_no_warning(mlp(y ~ g + x, d, hidden = 1, epochs = 1, seed = 1, verbose = FALSE))
  expect_no_warning(mlp(Species ~ ., iris, hidden = 1, epochs = 1, seed = 1, verbose = FALSE))
})

test_that("predict() types work on any classifier network, with or without class levels", {
  set.seed(3)
  x <- matrix(rnorm(20), 10)
  net <- network(c(2, 3, 1), output = "sigmoid", bias = TRUE, seed = 2)
  z <- {
    n2 <- net
    n2$activations[2] <- "identity"
    forward_ref(n2, x)
  }
  expect_equal(predict(net, x, type = "raw"), z, tolerance = 1e-12)
  p <- predict(net, x, type = "prob")
  expect_identical(colnames(p), c("0", "1"))
  expect_equal(unname(p[, 2]), plogis(z[, 1]), tolerance = 1e-12)
  expect_identical(predict(net, x, type = "class", threshold = 0.7),
                   factor(as.integer(plogis(z[, 1]) >= 0.7), levels = 0:1))
  soft <- network(c(2, 4), output = "softmax", bias = TRUE, seed = 2)
  zs <- x %*% soft$weights[[1]] + rep(soft$biases[[1]], each = 10)
  expect_equal(predict(soft, x, type = "prob"), softmax_ref(zs), tolerance = 1e-12)
  expect_identical(predict(soft, x, type = "class"), max.col(softmax_ref(zs)))
})

test_that("a model whose stored data were edited away is refused with a fwdprop_error", {
  m <- mlp(mpg ~ wt + hp, data = mtcars, hidden = 2, epochs = 2, seed = 1, verbose = FALSE)
  broken <- m
  broken$model <- "a"
  expect_error(fitted(broken), class = "fwdprop_error", regexp = "object\\$model")
  broken$model <- mtcars["wt"]
  attr(broken$model, "terms") <- terms(m)
  expect_error(residuals(broken), class = "fwdprop_error", regexp = "object\\$model")
  broken$model <- NULL
  expect_error(predict(broken), class = "fwdprop_error", regexp = "no training data")
  expect_error(summary(broken), class = "fwdprop_error", regexp = "no training data")
  # predicting new data needs none of it
  expect_identical(predict(broken, mtcars), predict(m, mtcars))
})
