test_that("init_weights() returns an n_in x n_out double matrix", {
  for (m in c("uniform", "normal", "xavier", "he")) {
    w <- init_weights(4, 7, method = m, seed = 3)
    expect_true(is.matrix(w))
    expect_identical(dim(w), c(4L, 7L))
    expect_identical(typeof(w), "double")
    expect_true(all(is.finite(w)))
  }
})

test_that("the same seed gives the same bits; other seeds differ", {
  for (m in c("uniform", "normal", "xavier", "he")) {
    expect_identical(init_weights(5, 6, m, seed = 42), init_weights(5, 6, m, seed = 42))
    expect_false(identical(init_weights(5, 6, m, seed = 42), init_weights(5, 6, m, seed = 43)))
  }
  # the seed 2^53 and 0 are valid
  expect_identical(init_weights(2, 2, seed = 2^53), init_weights(2, 2, seed = 2^53))
  expect_identical(dim(init_weights(2, 2, seed = 0)), c(2L, 2L))
})

test_that("matrices fill column by column from one stream", {
  # a 1 x n and an n x 1 draw of the same seed hold the same numbers
  expect_identical(as.vector(init_weights(1, 6, seed = 9)), as.vector(init_weights(6, 1, seed = 9)))
  expect_identical(as.vector(init_weights(2, 3, seed = 9)), as.vector(init_weights(6, 1, seed = 9)))
})

test_that("set.seed() governs a NULL seed", {
  set.seed(1234)
  a <- init_weights(3, 3)
  set.seed(1234)
  b <- init_weights(3, 3)
  expect_identical(a, b)
  set.seed(1)
  expect_false(identical(init_weights(3, 3), a))
})

test_that("the distributions have the documented moments", {
  n_in <- 200
  n_out <- 500
  u <- init_weights(n_in, n_out, "uniform", seed = 1)
  expect_true(all(u >= 0 & u < 1))
  expect_equal(mean(u), 0.5, tolerance = 0.01)
  expect_equal(var(as.vector(u)), 1 / 12, tolerance = 0.02)
  z <- init_weights(n_in, n_out, "normal", seed = 2)
  expect_equal(mean(z), 0, tolerance = 0.01)
  expect_equal(sd(z), 1, tolerance = 0.01)
  expect_gt(ks.test(as.vector(z)[1:5000], "pnorm")$p.value, 1e-4)
  a <- sqrt(6 / (n_in + n_out))
  x <- init_weights(n_in, n_out, "xavier", seed = 3)
  expect_true(all(abs(x) <= a))
  expect_equal(mean(x), 0, tolerance = 0.01)
  expect_equal(var(as.vector(x)), a^2 / 3, tolerance = 0.02)
  h <- init_weights(n_in, n_out, "he", seed = 4)
  expect_equal(sd(h), sqrt(2 / n_in), tolerance = 0.02)
  expect_equal(mean(h), 0, tolerance = 0.01)
})

test_that("init_weights() rejects bad arguments", {
  expect_error(init_weights(0, 3), class = "fwdprop_error")
  expect_error(init_weights(2.5, 3), class = "fwdprop_error")
  expect_error(init_weights(NA, 3), class = "fwdprop_error")
  expect_error(init_weights("2", 3), class = "fwdprop_error")
  expect_error(init_weights(2, 3, method = "glorot"), class = "fwdprop_error")
  expect_error(init_weights(2, 3, seed = -1), class = "fwdprop_error")
  expect_error(init_weights(2, 3, seed = Inf), class = "fwdprop_error")
  expect_error(init_weights(2, 3, seed = NA), class = "fwdprop_error")
  expect_error(init_weights(2, 3, seed = 1.5), class = "fwdprop_error")
  expect_error(init_weights(2, 3, seed = c(1, 2)), class = "fwdprop_error")
  expect_error(init_weights(1e6, 1e6), class = "fwdprop_error")
  expect_snapshot(error = TRUE, {
    init_weights(0, 3)
    init_weights(2, 3, method = "glorot")
    init_weights(2, 3, seed = -1)
    init_weights(2, 3, seed = "a")
    init_weights(1e6, 1e6)
  })
})
