# The fast path of forward() (src/rust/glue/src/fast.rs, with its tiny
# stack-buffer pass forward_small_into() for the lecture's sizes) must give
# the same bits as the ordinary path (forward_checked() -> forward_impl()),
# NA versus NaN, signed zeros and infinities included.

fast_vs_ordinary <- function(net, x) {
  fast <- forward(net, x)
  ordinary <- fwdprop:::forward_checked(net, x, FALSE, NULL)
  expect_identical(fast, ordinary)
  # bitwise: -0 versus 0, NA versus NaN
  expect_true(identical(fast, ordinary, num.eq = FALSE, single.NA = TRUE))
  invisible(fast)
}

test_that("the fast path equals the ordinary path bit for bit on tiny networks", {
  set.seed(20261128)
  acts <- c("sigmoid", "relu", "tanh", "identity", "softmax")
  specials <- c(NA, NaN, Inf, -Inf, 0, -0, 800, -800, 1e308)
  for (case in 1:300) {
    L <- sample(1:3, 1)
    sizes <- c(sample(1:4, 1), sample(1:5, L, replace = TRUE))
    n <- sample(c(1:5, 9, 17), 1)
    weights <- lapply(seq_len(L), function(l) {
      matrix(runif(sizes[l] * sizes[l + 1], -2, 2), sizes[l], sizes[l + 1])
    })
    biases <- if (case %% 3 != 0) {
      lapply(seq_len(L), function(l) runif(sizes[l + 1], -1, 1))
    }
    x <- matrix(runif(n * sizes[1], -3, 3), n, sizes[1])
    plant <- function(v) {
      hit <- runif(length(v)) < 0.2
      v[hit] <- sample(specials, sum(hit), replace = TRUE)
      v
    }
    switch(case %% 5 + 1,
      NULL,
      x[] <- plant(x),
      weights <- lapply(weights, function(w) { w[] <- plant(w); w }),
      if (!is.null(biases)) biases <- lapply(biases, plant),
      NULL
    )
    a <- sample(acts, L, replace = TRUE)
    net <- if (L == 1) {
      network_quietly(weights = weights, biases = biases, activation = a)
    } else {
      network_quietly(weights = weights, biases = biases, activation = a[-L], output = a[L])
    }
    fast_vs_ordinary(net, x)
  }
})

test_that("the lecture's network takes the fast path with every activation", {
  X <- matrix(c(1, 2, 3, 4, 5, 6), 3, 2)
  b <- matrix(c(0.1, -0.3, 0.5, 0.2, -0.4, 0.6), 2, 3)
  g <- matrix(c(0.7, -0.8, 0.9), 3, 1)
  for (act in c("sigmoid", "relu", "tanh", "identity", "softmax")) {
    for (bias in list(NULL, list(c(0.1, NA, -0.2), -0.5), list(c(0.1, 0.2, -0.2), 0.5))) {
      net <- network(weights = list(b, g), biases = bias, activation = act, output = "sigmoid")
      res <- fast_vs_ordinary(net, X)
      expect_equal(dim(res), c(3L, 1L))
      Xn <- X
      Xn[2, 1] <- NA
      Xn[3, 2] <- NaN
      fast_vs_ordinary(net, Xn)
      Xn[1, 2] <- -Inf
      fast_vs_ordinary(net, Xn)
    }
  }
  net <- network(weights = list(b, g))
  expect_equal(forward(net, X), plogis(plogis(X %*% b) %*% g), tolerance = 1e-15)
  rownames(X) <- c("a", "b", "c")
  colnames(net$weights[[2]]) <- "out"
  res <- fast_vs_ordinary(net, X)
  expect_identical(dimnames(res), list(c("a", "b", "c"), "out"))
})
