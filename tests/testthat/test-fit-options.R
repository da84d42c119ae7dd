# fit()'s training options: case and class weights, clipping, schedules,
# the L1 penalty, dropout.

flat_of <- function(net) fwdprop:::flat_params_impl(net$weights, net$biases, net$activations)$par
bias_of <- function(net) !vapply(net$biases, is.null, logical(1L))

test_that("integer case weights are repeated rows: full-batch loss and gradient to 1e-12", {
  set.seed(11)
  n <- 40
  x <- matrix(rnorm(n * 3), n)
  y <- factor(sample(c("a", "b", "c"), n, replace = TRUE))
  w <- rep(c(0, 1, 2, 3), length.out = n)
  rep_rows <- rep(seq_len(n), w)
  net <- network(c(3, 5, 3), activation = "tanh", output = "softmax", bias = TRUE, init = "xavier", seed = 4)
  p <- flat_of(net)
  yy <- stats::model.matrix(~ y - 1)
  attributes(yy) <- list(dim = dim(yy))
  weighted <- fwdprop:::flat_gradient_impl(p, x, yy, w, net$sizes, bias_of(net), net$activations,
                                           "cross_entropy", 0, 0, 1L)
  repeated <- fwdprop:::flat_gradient_impl(p, x[rep_rows, ], yy[rep_rows, ], NULL, net$sizes, bias_of(net),
                                           net$activations, "cross_entropy", 0, 0, 1L)
  expect_equal(weighted$loss, repeated$loss, tolerance = 1e-12)
  expect_equal(weighted$gradient, repeated$gradient, tolerance = 1e-12)
  # and the loss is the weighted mean of the rows' losses, by hand
  prob <- forward(net, x)
  ce <- -log(prob[cbind(seq_len(n), as.integer(y))])
  expect_equal(weighted$loss, sum(w * ce) / sum(w), tolerance = 1e-12)
  # one full-batch sgd step of fit(): the same step
  fw <- fit(net, x, y, weights = w, optimizer = "sgd", epochs = 1, batch_size = n, learn_rate = 0.5,
            seed = 1, verbose = FALSE)
  fr <- fit(net, x[rep_rows, ], y[rep_rows], optimizer = "sgd", epochs = 1, batch_size = length(rep_rows),
            learn_rate = 0.5, seed = 1, verbose = FALSE)
  expect_equal(flat_of(fw), flat_of(fr), tolerance = 1e-12)
  expect_equal(flat_of(fw), p - 0.5 * weighted$gradient, tolerance = 1e-12)
  expect_equal(fw$history$loss, repeated$loss, tolerance = 1e-12)
  # bfgs: its first recorded loss is the weighted loss at the start
  fb <- fit(net, x, y, weights = w, optimizer = "bfgs", maxit = 5, verbose = FALSE)
  expect_equal(fb$history$loss[1], weighted$loss, tolerance = 1e-12)
})

test_that("class weights weigh each row by its class, as a hand computation in base R", {
  set.seed(12)
  n <- 30
  x <- matrix(rnorm(n * 2), n)
  y <- factor(sample(c("lo", "mid", "hi"), n, replace = TRUE), levels = c("lo", "mid", "hi"))
  net <- network(c(2, 3), output = "softmax", bias = TRUE, init = "normal", seed = 2)
  cw <- c(hi = 3, lo = 0.5, mid = 1)
  f <- fit(net, x, y, class_weights = cw, optimizer = "sgd", epochs = 1, batch_size = n, learn_rate = 0.3,
           seed = 1, verbose = FALSE)
  # by hand: softmax probabilities, weighted cross-entropy and its gradient
  z <- x %*% net$weights[[1]] + matrix(net$biases[[1]], n, 3, byrow = TRUE)
  prob <- exp(z) / rowSums(exp(z))
  Y <- outer(as.integer(y), 1:3, "==") * 1
  wi <- cw[as.character(y)]
  loss <- sum(wi * -log(rowSums(prob * Y))) / sum(wi)
  delta <- wi * (prob - Y) / sum(wi)
  expect_equal(f$history$loss, loss, tolerance = 1e-12)
  expect_equal(unname(f$weights[[1]]), unname(net$weights[[1]] - 0.3 * crossprod(x, delta)), tolerance = 1e-12)
  expect_equal(unname(f$biases[[1]]), unname(net$biases[[1]] - 0.3 * colSums(delta)), tolerance = 1e-12)
  # unnamed: in the order of the levels; "balanced": n / (k n_c)
  f2 <- fit(net, x, y, class_weights = c(0.5, 1, 3), optimizer = "sgd", epochs = 1, batch_size = n,
            learn_rate = 0.3, seed = 1, verbose = FALSE)
  expect_identical(f2$weights, f$weights)
  bal <- fwdprop:::check_class_weights("balanced", y, NULL)
  expect_equal(unname(bal), unname(n / (3 * as.vector(table(y)))))
  expect_named(bal, levels(y))
  # class and case weights multiply
  cases <- seq_len(n) / n
  f3 <- fit(net, x, y, weights = cases, class_weights = cw, optimizer = "sgd", epochs = 1, batch_size = n,
            learn_rate = 0.3, seed = 1, verbose = FALSE)
  w3 <- cases * wi
  expect_equal(f3$history$loss, sum(w3 * -log(rowSums(prob * Y))) / sum(w3), tolerance = 1e-12)
})

test_that("weighted training is the same on 1, 2, 3 and 7 threads, bit for bit", {
  set.seed(13)
  n <- 300
  x <- matrix(rnorm(n * 4), n)
  y <- factor(ifelse(x[, 1] + x[, 2]^2 > 1, "yes", "no"))
  net <- network(c(4, 16, 1), activation = "relu", output = "sigmoid", bias = TRUE, init = "he", seed = 1)
  run <- function(threads) {
    f <- fit(net, x, y, weights = rep(1:3, length.out = n), class_weights = "balanced",
             epochs = 3, batch_size = 70, validation = 0.2, seed = 9, threads = threads, verbose = FALSE)
    list(flat_of(f), f$history$loss, f$history$val_loss)
  }
  one <- run(1)
  for (t in c(2, 3, 7)) expect_identical(run(t), one)
})

test_that("bad weights and class weights are errors that name the argument", {
  x <- matrix(1:8, 4)
  y <- factor(c("a", "b", "a", "b"))
  net <- network(c(2, 2), output = "softmax", bias = TRUE, seed = 1)
  expect_error(fit(net, x, y, weights = 1:3, verbose = FALSE), "`weights` must be a numeric vector with one",
               class = "fwdprop_error")
  expect_error(fit(net, x, y, weights = c(1, -1, 1, 1), verbose = FALSE), ">= 0", class = "fwdprop_error")
  expect_error(fit(net, x, y, weights = c(1, NA, 1, 1), verbose = FALSE), "no NA", class = "fwdprop_error")
  expect_error(fit(net, x, y, weights = rep(0, 4), verbose = FALSE), "add up to 0", class = "fwdprop_error")
  expect_error(fit(net, x, y, class_weights = c(a = 1), verbose = FALSE), "missing: b", class = "fwdprop_error")
  expect_error(fit(net, x, y, class_weights = c(a = 1, b = 2, z = 1), verbose = FALSE), "unknown: z",
               class = "fwdprop_error")
  expect_error(fit(net, x, y, class_weights = 1:3, verbose = FALSE), "one weight per level", class = "fwdprop_error")
  expect_error(fit(net, x, y, class_weights = "even", verbose = FALSE), "\"balanced\"", class = "fwdprop_error")
  net1 <- network(c(2, 1), bias = TRUE, seed = 1)
  expect_error(fit(net1, x, c(0, 1, 0, 1), class_weights = c(1, 2), verbose = FALSE), "needs a factor `y`",
               class = "fwdprop_error")
})

test_that("clip_norm scales a step's gradient to the norm, as torch's clip_grad_norm_ (sgd, full batch)", {
  set.seed(14)
  n <- 25
  x <- matrix(rnorm(n * 3), n)
  y <- matrix(rnorm(n * 2), n)
  net <- network(c(3, 4, 2), activation = "tanh", output = "identity", bias = TRUE, init = "normal", seed = 3)
  g <- backward(net, x, y)
  norm <- sqrt(sum(unlist(g$weights)^2) + sum(unlist(g$biases)^2))
  for (c in c(norm / 4, 2 * norm)) {
    f <- fit(net, x, y, optimizer = "sgd", epochs = 1, batch_size = n, learn_rate = 0.1, clip_norm = c,
             seed = 1, verbose = FALSE)
    coef <- min(1, c / (norm + 1e-6))
    for (l in 1:2) {
      expect_equal(unname(f$weights[[l]]), unname(net$weights[[l]] - 0.1 * coef * g$weights[[l]]), tolerance = 1e-12)
      expect_equal(unname(f$biases[[l]]), unname(net$biases[[l]] - 0.1 * coef * g$biases[[l]]), tolerance = 1e-12)
    }
  }
  expect_error(fit(net, x, y, clip_norm = 0, verbose = FALSE), "`clip_norm` must be a single number > 0",
               class = "fwdprop_error")
  expect_error(fit(net, x, y, optimizer = "bfgs", clip_norm = 1, verbose = FALSE), "BFGS", class = "fwdprop_error")
})

test_that("the l1 penalty adds lambda * sum(|W|) over the weights, its gradient lambda * sign(W)", {
  set.seed(15)
  n <- 20
  x <- matrix(rnorm(n * 2), n)
  y <- matrix(rnorm(n), n)
  net <- network(c(2, 3, 1), activation = "tanh", output = "identity", bias = TRUE, init = "normal", seed = 5)
  p <- flat_of(net)
  lambda <- 0.05
  r <- fwdprop:::flat_gradient_impl(p, x, y, NULL, net$sizes, bias_of(net), net$activations, "mse", 0, lambda, 1L)
  data_loss <- mean((forward(net, x) - y)^2)
  expect_equal(r$loss, data_loss + lambda * sum(abs(unlist(net$weights))), tolerance = 1e-14)
  # central differences of the penalised loss (no weight is near 0; the
  # biases, 0, are not penalised)
  expect_gt(min(abs(unlist(net$weights))), 1e-3)
  fd <- vapply(seq_along(p), function(i) {
    h <- 1e-6
    at <- function(v) {
      q <- p
      q[i] <- v
      fwdprop:::flat_gradient_impl(q, x, y, NULL, net$sizes, bias_of(net), net$activations, "mse", 0, lambda, 1L)$loss
    }
    (at(p[i] + h) - at(p[i] - h)) / (2 * h)
  }, numeric(1))
  expect_equal(r$gradient, fd, tolerance = 1e-7)
  # one full-batch sgd step: w - lr (g + lambda sign(w)); biases unpenalised
  g <- backward(net, x, y)
  f <- fit(net, x, y, optimizer = "sgd", epochs = 1, batch_size = n, learn_rate = 0.1, l1 = lambda,
           seed = 1, verbose = FALSE)
  for (l in 1:2) {
    w <- net$weights[[l]]
    expect_equal(unname(f$weights[[l]]), unname(w - 0.1 * (g$weights[[l]] + lambda * sign(w))), tolerance = 1e-12)
    expect_equal(unname(f$biases[[l]]), unname(net$biases[[l]] - 0.1 * g$biases[[l]]), tolerance = 1e-12)
  }
  # bfgs reports the data loss (without the penalty)
  fb <- fit(net, x, y, optimizer = "bfgs", maxit = 3, l1 = lambda, verbose = FALSE)
  expect_equal(fb$history$loss[1], data_loss, tolerance = 1e-12)
  expect_error(fit(net, x, y, l1 = -1, verbose = FALSE), "`l1` must be a single number >= 0",
               class = "fwdprop_error")
})

test_that("dropout: reproducible on any threads, p = 0 is no dropout, never in forward()", {
  set.seed(16)
  n <- 200
  x <- matrix(rnorm(n * 4), n)
  y <- factor(ifelse(x[, 1] * x[, 2] > 0, "same", "other"))
  net <- network(c(4, 24, 12, 2), activation = c("relu", "tanh"), output = "softmax", bias = TRUE,
                 init = "he", seed = 3)
  run <- function(threads, dropout = 0.4, ...) {
    fit(net, x, y, epochs = 4, batch_size = 50, learn_rate = 0.02, dropout = dropout, validation = 0.25,
        seed = 7, threads = threads, verbose = FALSE, ...)
  }
  one <- run(1)
  for (t in c(2, 3, 7)) {
    other <- run(t)
    expect_identical(other$weights, one$weights)
    expect_identical(other$biases, one$biases)
    expect_identical(other$history$loss, one$history$loss)
  }
  # p = 0 is the same run as no dropout, bit for bit
  plain <- fit(net, x, y, epochs = 4, batch_size = 50, learn_rate = 0.02, validation = 0.25, seed = 7,
               threads = 2, verbose = FALSE)
  zero <- run(2, dropout = 0)
  expect_identical(zero$weights, plain$weights)
  expect_identical(zero$history$loss, plain$history$loss)
  expect_false(identical(one$weights, plain$weights))
  # forward() and predict() use the whole network, without masks or
  # scaling: the plain products of the fitted weights
  manual <- function(f, x) {
    a <- pmax(x %*% f$weights[[1]] + rep(f$biases[[1]], each = nrow(x)), 0)
    a <- tanh(a %*% f$weights[[2]] + rep(f$biases[[2]], each = nrow(x)))
    z <- a %*% f$weights[[3]] + rep(f$biases[[3]], each = nrow(x))
    exp(z) / rowSums(exp(z))
  }
  expect_equal(unname(forward(one, x)), unname(manual(one, x)), tolerance = 1e-12)
  expect_identical(forward(one, x), forward(one, x))
  # the validation loss too: the cross-entropy of the whole network
  # (recomputed on the held-out rows, which the seed's split gives)
  split <- fwdprop:::validation_split_impl(n, 50, 7)
  yv <- y[split$validation]
  p_val <- manual(one, x[split$validation, ])
  expect_equal(one$history$val_loss[one$training$best_epoch], mean(-log(p_val[cbind(seq_along(yv), as.integer(yv))])),
               tolerance = 1e-12)
  expect_error(run(1, dropout = 1), "`dropout` must be a single number in \\[0, 1\\)", class = "fwdprop_error")
  expect_error(fit(net, x, y, optimizer = "bfgs", dropout = 0.2, verbose = FALSE), "BFGS",
               class = "fwdprop_error")
  # a network without hidden units has nothing to drop
  flat <- network(c(ncol(x), 2), output = "softmax", bias = TRUE, seed = 1)
  expect_error(fit(flat, x, y, dropout = 0.2, epochs = 1, verbose = FALSE),
               "no hidden layer \\(its sizes are 4-2\\)", class = "fwdprop_error")
})

test_that("row weights that leave the training or the held-out rows with no weight are an error", {
  set.seed(3)
  x <- matrix(rnorm(40), 20)
  y <- x[, 1] + rnorm(20)
  net <- network(c(2, 3, 1), output = "identity", bias = TRUE, seed = 1)
  split <- fwdprop:::validation_split_impl(20, 5, 11)
  w <- rep(1, 20)
  w[split$validation] <- 0
  expect_error(fit(net, x, y, weights = w, validation = 0.25, seed = 11, epochs = 2, verbose = FALSE),
               "The held-out rows \\(5 of them\\) all have weight 0", class = "fwdprop_error")
  w <- rep(0, 20)
  w[split$validation] <- 1
  expect_error(fit(net, x, y, weights = w, validation = 0.25, seed = 11, epochs = 2, verbose = FALSE),
               "The training rows \\(15 of them\\) all have weight 0", class = "fwdprop_error")
  # one held-out row with weight: a finite validation loss, that row's
  w[] <- 1
  w[split$validation[-1]] <- 0
  f <- fit(net, x, y, weights = w, validation = 0.25, seed = 11, epochs = 2, verbose = FALSE,
           optimizer = "sgd", learn_rate = 0.01)
  i <- split$validation[1]
  expect_equal(f$history$val_loss[f$training$best_epoch],
               (forward(f, x[i, , drop = FALSE])[1, 1] - y[i])^2, tolerance = 1e-12)
})

test_that("class and case weights give torch's weighted cross-entropy (values from fixtures/class-weights-torch.py)", {
  x <- matrix(c(0.5, 1.5, -0.75, 0.1, -1.2, 2.0, -1.0, 0.25, 2.0, 0.2, -0.4, 1.0), 6)
  y <- factor(c("a", "c", "b", "c", "a", "b"))
  net <- network(c(2, 3), output = "softmax", bias = TRUE, seed = 1)
  net$weights[[1]][] <- c(0.3, -0.4, -0.2, 0.1, 0.5, 0.25)
  net$biases[[1]][] <- c(0.05, -0.1, 0.2)
  step <- function(...) {
    fit(net, x, y, optimizer = "sgd", epochs = 1, batch_size = 6, learn_rate = 1, seed = 1, verbose = FALSE, ...)
  }
  # torch: F.cross_entropy(x W + b, y, weight = c(3, 0.5, 1)) and its gradient
  f <- step(class_weights = c(a = 3, b = 0.5, c = 1))
  expect_equal(f$history$loss, 0.9428750318758835, tolerance = 1e-13)
  expect_equal(as.vector(net$weights[[1]] - f$weights[[1]]),
               c(0.2513615277674118, 0.3020244094493263, -0.1879409587155052, -0.22631424995141788,
                 -0.06342056905190652, -0.07571015949790848), tolerance = 1e-13)
  expect_equal(unname(net$biases[[1]] - f$biases[[1]]),
               c(-0.3085347504747673, 0.17313958587231243, 0.13539516460245496), tolerance = 1e-13)
  # case weights times class weights: sum(w l) / sum(w), w = case * class
  f <- step(weights = c(1, 2, 0, 1, 3, 1), class_weights = c(a = 3, b = 0.5, c = 1))
  expect_equal(f$history$loss, 0.9810518183411426, tolerance = 1e-13)
  expect_equal(as.vector(net$weights[[1]] - f$weights[[1]]),
               c(0.48731579649337536, 0.27528786997249005, -0.3092001129196521, -0.15837002555726565,
                 -0.17811568357372326, -0.11691784441522443), tolerance = 1e-13)
  expect_equal(unname(net$biases[[1]] - f$biases[[1]]),
               c(-0.42120563614819434, 0.29448679482384144, 0.12671884132435288), tolerance = 1e-13)
})

test_that("decay (nnet's meaning) with whole-number case weights equals repeating the rows", {
  set.seed(11)
  x <- matrix(rnorm(60), 30, 2)
  y <- as.numeric(x[, 1] - x[, 2] > 0)
  w <- rep(c(1, 2, 3), 10)
  rep_rows <- rep(seq_len(30), w)
  net <- network(c(2, 3, 1), activation = "tanh", output = "sigmoid", bias = TRUE, seed = 2)
  a <- fit(net, x, y, optimizer = "bfgs", maxit = 20, decay = 0.1, weights = w, seed = 1, verbose = FALSE)
  b <- fit(net, x[rep_rows, ], y[rep_rows], optimizer = "bfgs", maxit = 20, decay = 0.1, seed = 1,
           verbose = FALSE)
  expect_equal(a$weights, b$weights, tolerance = 1e-8)
  expect_equal(a$biases, b$biases, tolerance = 1e-8)
})
