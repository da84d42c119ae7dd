test_that("backward() equals central finite differences of base R's loss on many networks", {
  acts <- c("sigmoid", "relu", "tanh", "identity", "softmax")
  pairs <- list(c("mse", "identity"), c("mse", "sigmoid"), c("mse", "tanh"), c("mse", "softmax"),
                c("mse", "relu"), c("bce", "sigmoid"), c("cross_entropy", "softmax"))
  n_cases <- 0L
  for (seed in 1:60) {
    set.seed(seed)
    L <- 1L + (seed - 1L) %% 5L # 1 to 5 layers
    pair <- pairs[[(seed - 1L) %% length(pairs) + 1L]]
    loss <- pair[[1L]]
    k <- if (pair[[2L]] == "softmax") sample(2:4, 1L) else sample(1:3, 1L)
    sizes <- c(sample(1:5, 1L), sample(2:6, L - 1L, replace = TRUE), k)
    hidden <- sample(acts, L, replace = TRUE)
    hidden[L] <- pair[[2L]]
    net <- random_net(sizes, activations = hidden, bias = seed %% 3 != 0, sd = 0.8)
    n <- sample(c(1L, 4L, 9L), 1L)
    x <- matrix(rnorm(n * sizes[1L]), n)
    y <- random_target(n, k, loss)
    wd <- if (seed %% 4 == 0) 0.3 else 0
    g <- backward(net, x, y, loss = loss, weight_decay = wd)
    fd <- finite_differences(net, x, y, loss, wd)
    info <- sprintf("seed %d: sizes %s, %s, %s loss, bias %s", seed, paste(sizes, collapse = "-"),
                    paste(net$activations, collapse = ","), loss, !is.null(net$biases[[1L]]))
    expect_lte(gradient_error(g, fd), 1e-6, label = info)
    expect_equal(g$loss, loss_ref(net, x, y, loss, wd), tolerance = 1e-13, info = info)
    expect_identical(lapply(g$weights, dim), lapply(net$weights, dim), info = info)
    expect_identical(lengths(g$biases), lengths(net$biases), info = info)
    n_cases <- n_cases + 1L
  }
  expect_identical(n_cases, 60L)
})

test_that("backward() on the lecture's network equals the chain rule worked by hand", {
  w <- lecture_weights()
  beta <- w$beta
  gamma <- w$gamma
  X <- matrix(1:6, ncol = 2, byrow = TRUE)
  y <- c(0, 1, 1)
  net <- network(weights = list(beta, gamma))
  g <- backward(net, X, y, loss = "mse", trace = TRUE)
  # forward, as the lecture: z_2 = X beta, a_2 = sigmoid(z_2), z_3 = a_2 gamma
  z2 <- X %*% beta
  a2 <- plogis(z2)
  z3 <- a2 %*% gamma
  yhat <- plogis(z3)
  expect_equal(g$loss, mean((yhat - y)^2), tolerance = 1e-15)
  # delta_3 = dL/dz_3 = 2 / n (yhat - y) yhat (1 - yhat)
  d3 <- 2 / 3 * (yhat - y) * yhat * (1 - yhat)
  # delta_2 = (delta_3 gamma^T) a_2 (1 - a_2)
  d2 <- (d3 %*% t(gamma)) * a2 * (1 - a2)
  expect_equal(g$delta[[2]], d3, tolerance = 1e-14)
  expect_equal(g$delta[[1]], d2, tolerance = 1e-14)
  expect_equal(g$weights[[2]], t(a2) %*% d3, tolerance = 1e-14)
  expect_equal(g$weights[[1]], t(X) %*% d2, tolerance = 1e-14)
  expect_equal(g$z, list(z2, z3), tolerance = 1e-15)
  expect_equal(g$a, list(a2, yhat), tolerance = 1e-15)
  # the lecture's printed numbers come through the forward trace
  expect_equal(round(as.vector(g$a[[2]]), 4), c(0.6435, 0.6660, 0.6727))
  # the same gradient without the trace
  g0 <- backward(net, X, y, loss = "mse")
  expect_equal(g0$weights, g$weights, tolerance = 1e-14)
  expect_null(g0$delta)
})

test_that("the trace's z and a are forward()'s, and delta chains back layer by layer", {
  set.seed(3)
  net <- random_net(c(4, 6, 5, 3), activations = c("tanh", "relu", "softmax"), bias = TRUE)
  x <- matrix(rnorm(40), 10)
  y <- factor(sample(c("a", "b", "c"), 10, replace = TRUE))
  g <- backward(net, x, y, trace = TRUE)
  tr <- forward(net, x, trace = TRUE)
  expect_equal(g$z, tr$z, tolerance = 1e-14)
  expect_equal(g$a, tr$a, tolerance = 1e-14)
  for (l in 1:3) {
    a_prev <- if (l == 1) x else g$a[[l - 1]]
    expect_equal(g$weights[[l]], t(a_prev) %*% g$delta[[l]], tolerance = 1e-12)
    expect_equal(g$biases[[l]], colSums(g$delta[[l]]), tolerance = 1e-12)
  }
  # cross-entropy of a softmax: delta_L = (a_L - y) / n
  onehot <- diag(3)[as.integer(y), ]
  expect_equal(g$delta[[3]], (g$a[[3]] - onehot) / 10, tolerance = 1e-14)
})

test_that("losses stay finite and exact at extreme logits (z = +-800)", {
  w <- matrix(c(800, -800), 1)
  x <- matrix(c(1, -1), 2)
  # sigmoid outputs are exactly 1 and 0
  net <- network(weights = list(w), output = "sigmoid")
  expect_identical(as.vector(forward(net, x)), c(1, 0, 0, 1))
  right <- matrix(c(1, 0, 0, 1), 2)
  wrong <- 1 - right
  g_right <- backward(net, x, right)
  expect_identical(g_right$loss, 0)
  expect_identical(as.vector(g_right$weights[[1]]), c(0, 0))
  g_wrong <- backward(net, x, wrong)
  expect_identical(g_wrong$loss, 800) # every element wrong by a margin of 800
  # dL/dW = t(x) (yhat - y) / 4, finite
  expect_equal(g_wrong$weights[[1]], t(x) %*% (forward(net, x) - wrong) / 4)
  # softmax outputs saturate too
  net2 <- network(weights = list(w), output = "softmax")
  expect_identical(backward(net2, x, right)$loss, 0)
  expect_identical(backward(net2, x, wrong)$loss, 1600)
  # mse through a saturated sigmoid: a zero gradient, no NaN
  g_mse <- backward(net, x, wrong, loss = "mse")
  expect_identical(g_mse$loss, 1)
  expect_true(all(is.finite(g_mse$weights[[1]])))
})

test_that("targets may be a factor, a one-hot matrix, a vector or logical", {
  set.seed(5)
  x <- matrix(rnorm(30), 10)
  y <- factor(sample(c("lo", "mid", "hi"), 10, replace = TRUE), levels = c("lo", "mid", "hi"))
  net3 <- random_net(c(3, 4, 3), activations = c("sigmoid", "softmax"))
  onehot <- diag(3)[as.integer(y), ]
  expect_identical(backward(net3, x, y), backward(net3, x, onehot))
  net1 <- random_net(c(3, 4, 1), activations = c("tanh", "sigmoid"))
  yb <- factor(ifelse(x[, 1] > 0, "yes", "no"), levels = c("no", "yes"))
  g_factor <- backward(net1, x, yb)
  expect_identical(g_factor, backward(net1, x, as.numeric(yb == "yes")))
  expect_identical(g_factor, backward(net1, x, x[, 1] > 0))
  expect_identical(g_factor, backward(net1, x, matrix(as.numeric(yb == "yes"))))
  # integer and logical inputs are taken as double; data frames too
  xi <- matrix(sample(-3:3, 30, replace = TRUE), 10)
  expect_identical(backward(net1, xi, yb), backward(net1, xi * 1, yb))
  expect_identical(backward(net1, as.data.frame(x), yb), backward(net1, x, yb))
})

test_that("weight decay adds lambda / 2 sum(W^2) to the loss and lambda W to the weights' gradients only", {
  set.seed(8)
  net <- random_net(c(3, 5, 2), activations = c("tanh", "identity"), bias = TRUE)
  x <- matrix(rnorm(21), 7)
  y <- matrix(rnorm(14), 7)
  g0 <- backward(net, x, y)
  g1 <- backward(net, x, y, weight_decay = 0.25)
  expect_equal(g1$loss, g0$loss + 0.125 * sum(unlist(net$weights)^2), tolerance = 1e-14)
  for (l in 1:2) {
    expect_equal(g1$weights[[l]], g0$weights[[l]] + 0.25 * net$weights[[l]], tolerance = 1e-14)
    expect_identical(g1$biases[[l]], g0$biases[[l]])
  }
})

test_that("backward() gives the same bits on 1 and 2 threads, and keeps dimnames", {
  set.seed(11)
  net <- random_net(c(12, 40, 20, 2), activations = c("sigmoid", "tanh", "sigmoid"), bias = TRUE)
  dimnames(net$weights[[1]]) <- list(paste0("in", 1:12), NULL)
  x <- matrix(rnorm(5000 * 12), 5000, dimnames = list(NULL, paste0("in", 1:12)))
  y <- matrix(runif(10000), 5000)
  g1 <- backward(net, x, y, threads = 1)
  g2 <- backward(net, x, y, threads = 2)
  expect_identical(g1, g2)
  expect_identical(dimnames(g1$weights[[1]]), dimnames(net$weights[[1]]))
  # the blocked gradient agrees with the unfused trace
  gt <- backward(net, x, y, trace = TRUE)
  expect_equal(gt$weights, g1$weights, tolerance = 1e-12)
  expect_equal(gt$loss, g1$loss, tolerance = 1e-14)
})

test_that("zero rows give a NaN loss and zero gradients, as torch's mean over nothing", {
  net <- network(weights = unname(lecture_weights()))
  g <- backward(net, matrix(0, 0, 2), numeric(0))
  expect_true(is.nan(g$loss))
  expect_identical(g$weights, list(matrix(0, 2, 3), matrix(0, 3, 1)))
})

test_that("backward() agrees with PyTorch's autograd in float64 (when PyTorch is available)", {
  py <- python_with("torch")
  script <- test_path("torch-gradient.py")
  set.seed(21)
  for (case in list(list(c(4, 7, 3), c("tanh", "softmax"), "cross_entropy"),
                    list(c(3, 5, 4, 1), c("relu", "sigmoid", "sigmoid"), "bce"),
                    list(c(2, 6, 2), c("sigmoid", "identity"), "mse"),
                    list(c(3, 6, 5, 2), c("leaky_relu", "gelu", "softplus"), "mse"),
                    list(c(3, 6, 5, 3), c("elu", "softplus", "softmax"), "cross_entropy"),
                    list(c(3, 6, 2), c("gelu", "elu"), "mse"))) {
    net <- random_net(case[[1]], activations = case[[2]], bias = TRUE)
    x <- matrix(rnorm(8 * case[[1]][1]), 8)
    y <- random_target(8, case[[1]][length(case[[1]])], case[[3]])
    dir <- tempfile("torch")
    dir.create(dir)
    on.exit(unlink(dir, recursive = TRUE), add = TRUE)
    io <- list(x = x, y = y, weights = net$weights, biases = net$biases,
               activations = net$activations, loss = case[[3]])
    jsonlite::write_json(io, file.path(dir, "in.json"), digits = NA, matrix = "rowmajor", auto_unbox = TRUE)
    status <- system2(py, c(shQuote(script), shQuote(file.path(dir, "in.json")), shQuote(file.path(dir, "out.json"))))
    expect_identical(status, 0L)
    ref <- jsonlite::read_json(file.path(dir, "out.json"), simplifyVector = TRUE)
    g <- backward(net, x, y, loss = case[[3]])
    expect_equal(g$loss, ref$loss, tolerance = 1e-13)
    for (l in seq_along(net$weights)) {
      expect_equal(g$weights[[l]], matrix(ref$weights[[l]], nrow(net$weights[[l]])), tolerance = 1e-12)
      expect_equal(g$biases[[l]], ref$biases[[l]], tolerance = 1e-12)
    }
  }
})

# nnet's objective (`value`: the summed loss plus decay * sum(w^2) over all
# weights and biases) at the weights `wts`, and the fit itself (maxit = 0:
# nnet evaluates its objective at the weights and stops).
nnet_at <- function(x, y, wts, ...) {
  nnet::nnet(x, y, Wts = wts, maxit = 0, trace = FALSE, ...)
}

test_that("backward(decay = d) is nnet's objective and gradient divided by what the mean divides by", {
  skip_if_not_installed("nnet")
  set.seed(5)
  x <- scale(as.matrix(mtcars[, c("wt", "hp", "disp")]))
  d <- 0.05
  cases <- list(
    # nnet's linout (sum of squares) is "mse" on an identity output: / (rows * outputs)
    list(y = as.vector(scale(mtcars$mpg)), args = list(linout = TRUE), m = 32),
    list(y = scale(cbind(mtcars$mpg, mtcars$qsec)), args = list(linout = TRUE), m = 64),
    # nnet's entropy (summed cross-entropy) is "bce": / (rows * outputs)
    list(y = mtcars$am, args = list(entropy = TRUE), m = 32),
    # nnet's softmax is "cross_entropy": / rows
    list(y = nnet::class.ind(factor(mtcars$cyl)), args = list(softmax = TRUE), m = 32)
  )
  for (case in cases) {
    f0 <- do.call(nnet::nnet, c(list(x, case$y, size = 3, decay = d, maxit = 0, trace = FALSE), case$args))
    net <- as_network(f0)
    g <- backward(net, x, case$y, decay = d)
    info <- paste(names(case$args), NCOL(case$y))
    expect_equal(g$loss * case$m, f0$value, tolerance = 1e-13, info = info)
    # the gradient: central differences of nnet's objective in each of
    # nnet's weights, matched to fwdprop's parameter it moves
    flat <- function(n) unlist(c(n$weights, n$biases))
    gflat <- unlist(c(g$weights, g$biases))
    for (i in seq_along(f0$wts)) {
      h <- 1e-5
      at <- function(delta) {
        w <- f0$wts
        w[i] <- w[i] + delta
        do.call(nnet_at, c(list(x, case$y, w, size = 3, decay = d), case$args))
      }
      moved <- which(flat(as_network(at(h))) != flat(net))
      expect_length(moved, 1L)
      fd <- (at(h)$value - at(-h)$value) / (2 * h)
      expect_equal(gflat[[moved]] * case$m, fd, tolerance = 1e-6, info = paste(info, i))
    }
  }
})

test_that("decay and weight_decay: one meaning each, not both", {
  net <- network(c(2, 3, 1), output = "identity", bias = TRUE, init = "xavier", seed = 1)
  x <- matrix(c(1, 2, 3, 4, 5, 6), 3)
  y <- c(1, 0, 2)
  # weight_decay: lambda / 2 * sum(W^2) on the mean loss, weights only
  expect_equal(backward(net, x, y, weight_decay = 0.3)$loss,
               loss_ref(net, x, y, "mse") + 0.15 * sum(unlist(net$weights)^2), tolerance = 1e-14)
  g0 <- backward(net, x, y)
  g1 <- backward(net, x, y, weight_decay = 0.3)
  expect_identical(g1$biases, g0$biases)
  # decay: d / m * sum(w^2) over weights and biases, m = 3 rows x 1 output
  g2 <- backward(net, x, y, decay = 0.3)
  all_sq <- sum(unlist(c(net$weights, net$biases))^2)
  expect_equal(g2$loss, loss_ref(net, x, y, "mse") + 0.3 / 3 * all_sq, tolerance = 1e-14)
  expect_equal(g2$biases[[1]], g0$biases[[1]] + 2 * 0.3 / 3 * net$biases[[1]], tolerance = 1e-14)
  expect_equal(g2$weights[[2]], g0$weights[[2]] + 2 * 0.3 / 3 * net$weights[[2]], tolerance = 1e-14)
  expect_error(backward(net, x, y, decay = 0.1, weight_decay = 0.1), class = "fwdprop_error",
               regexp = "not both")
  expect_error(backward(net, x, y, decay = -1), class = "fwdprop_error", regexp = "`decay` must be")
  expect_error(backward(net, x, y, decay = c(1, 2)), class = "fwdprop_error", regexp = "`decay` must be")
})
