test_that("sigmoid() equals plogis() within 2 ulp on a wide grid", {
  x <- c(seq(-745, 745, by = 0.25), seq(-40, 40, by = 1 / 1024), -36.7368005696771)
  got <- sigmoid(x)
  want <- plogis(x)
  expect_true(all(ulp_distance(got, want) <= 2))
  # large |x| (beyond 708), where results are exactly 0, 1 or subnormal,
  # take plogis()'s own arithmetic
  big <- abs(x) > 708
  expect_identical(got[big], want[big])
})

test_that("sigmoid() matches plogis() on random values", {
  set.seed(42)
  for (scale in c(1e-3, 1, 10, 100, 1000)) {
    x <- rnorm(5000, sd = scale)
    expect_true(all(ulp_distance(sigmoid(x), plogis(x)) <= 2), info = scale)
  }
})

test_that("sigmoid() handles the special values as plogis() does", {
  x <- c(-Inf, Inf, NA, NaN, 0, -0, -1e308, 1e308, -746, -709.8, 36.7, -.Machine$double.xmin)
  got <- sigmoid(x)
  expect_plogis(got, x)
  expect_identical(got[1:2], c(0, 1))
  expect_true(is.na(got[3]) && !is.nan(got[3]))
  expect_true(is.nan(got[4]))
  expect_identical(got[5:6], c(0.5, 0.5))
  expect_false(anyNA(got[-(3:4)]))
})

test_that("sigmoid() takes integer and logical input", {
  xi <- c(-3L, 0L, NA, 7L, .Machine$integer.max, -.Machine$integer.max)
  expect_plogis(sigmoid(xi), xi)
  expect_identical(typeof(sigmoid(xi)), "double")
  xl <- c(TRUE, FALSE, NA)
  expect_plogis(sigmoid(xl), xl)
  m <- matrix(c(TRUE, NA, FALSE, TRUE), 2, dimnames = list(c("a", "b"), NULL))
  expect_plogis(sigmoid(m), m)
})

test_that("sigmoid() keeps the attributes plogis() keeps", {
  v <- c(a = -1, b = 0, c = 2)
  expect_plogis(sigmoid(v), v)
  m <- matrix(rnorm(6), 2, dimnames = list(c("r1", "r2"), c("x", "y", "z")))
  expect_plogis(sigmoid(m), m)
  a <- array(rnorm(24), c(2, 3, 4), dimnames = list(NULL, letters[1:3], NULL))
  expect_plogis(sigmoid(a), a)
  mi <- matrix(1:6, 3, dimnames = list(rows = c("a", "b", "c"), cols = c("p", "q")))
  expect_plogis(sigmoid(mi), mi)
  s <- structure(c(1, 2), note = "kept")
  expect_plogis(sigmoid(s), s)
})

test_that("sigmoid() of empty input is empty", {
  expect_identical(sigmoid(numeric(0)), plogis(numeric(0)))
  expect_identical(sigmoid(integer(0)), plogis(integer(0)))
  # plogis() drops the dimensions of an empty matrix; sigmoid() keeps them,
  # as the formula 1 / (1 + exp(-z)) does, so a 0-row batch stays a matrix
  z <- matrix(numeric(0), 0, 3, dimnames = list(NULL, c("a", "b", "c")))
  expect_identical(sigmoid(z), 1 / (1 + exp(-z)))
  expect_identical(dim(sigmoid(z)), c(0L, 3L))
})

test_that("sigmoid() of a long vector equals plogis()", {
  x <- seq(-50, 50, length.out = 1e6 + 3)
  expect_plogis(sigmoid(x), x)
})

test_that("sigmoid() rejects non-numeric input with a fwdprop_error", {
  bad <- list(letters, NULL, list(1, 2), data.frame(a = 1), factor("a"), 1i, mean,
              matrix(letters[1:4], 2), new.env())
  for (b in bad) {
    expect_error(sigmoid(b), class = "fwdprop_error")
  }
  expect_snapshot(error = TRUE, {
    sigmoid("a")
    sigmoid(list(1, 2))
    sigmoid(data.frame(a = 1))
    sigmoid(factor("a"))
    sigmoid(NULL)
    sigmoid(1i)
  })
})

test_that("the small fast path and the ordinary path of sigmoid() agree", {
  set.seed(22)
  x <- array(c(rnorm(20, sd = 20), NA, NaN, Inf, -Inf), c(2, 3, 4),
             dimnames = list(c("a", "b"), NULL, letters[1:4]))
  attr(x, "note") <- "kept"
  expect_identical(sigmoid(x), fwdprop:::sigmoid.default(x))
  expect_identical(attributes(sigmoid(x)), attributes(plogis(x)))
  expect_identical(is.na(sigmoid(x)), is.na(plogis(x)))
  expect_plogis(sigmoid(x), x)
  xi <- c(a = 1L, b = NA, c = -3L)
  expect_identical(attributes(sigmoid(xi)), attributes(plogis(xi)))
  expect_plogis(sigmoid(xi), xi)
  expect_identical(sigmoid(xi), fwdprop:::sigmoid.default(xi))
  expect_plogis(sigmoid(c(TRUE, NA, FALSE)), c(TRUE, NA, FALSE))
  # at and past the fast path's limit of 65536 elements
  for (n in c(65536, 65537)) {
    v <- rnorm(n, sd = 10)
    expect_identical(sigmoid(v), fwdprop:::sigmoid.default(v), info = n)
  }
  # classed input dispatches (and factor is still refused)
  expect_error(sigmoid(factor("a")), class = "fwdprop_error")
  d <- structure(c(0, 1), class = "myclass")
  expect_s3_class(sigmoid(d), "myclass")
  expect_plogis(unclass(sigmoid(d)), c(0, 1))
})

test_that("every activation R lists is one the Rust core computes, in forward and backward passes", {
  x <- matrix(c(-1, 0.5, 2, -3), 2)
  for (a in activation_names) {
    net <- network(c(2, 3, 2), activation = a, output = a, bias = TRUE, seed = 1)
    expect_equal(forward(net, x), forward_ref(net, x), tolerance = 1e-14, info = a)
    expect_true(is.finite(backward(net, x, matrix(0.5, 2, 2), loss = "mse")$loss), info = a)
  }
})

test_that("leaky_relu, elu, gelu and softplus equal torch's formulas evaluated in base R", {
  z <- c(-800, -40, -20.5, -7, -2, -1, -0.3, -1e-12, 0, 1e-12, 0.3, 1, 2, 7, 19.99, 20, 20.01, 40, 1e300)
  # torch's definitions (their default parameters), written out
  want <- list(
    leaky_relu = ifelse(z > 0, z, 0.01 * z),
    elu = ifelse(z > 0, z, expm1(z)),
    # z * Phi(z): torch's 0.5 z (1 + erf(z / sqrt(2))) without the
    # cancellation of 1 + erf() for negative z (erf(u) = 2 pnorm(u sqrt(2)) - 1)
    gelu = z * pnorm(z),
    softplus = ifelse(z > 20, z, log1p(exp(z)))
  )
  for (a in names(want)) {
    net <- network(weights = list(diag(1)), output = a)
    got <- as.vector(forward(net, matrix(z)))
    # each value to a few ulp, zeros exactly; GELU's tail within its
    # condition number (about z^2: erfc(-z / sqrt(2)) of a rounded argument)
    rel <- ifelse(want[[a]] == 0, abs(got), abs(got - want[[a]]) / abs(want[[a]]))
    tol <- if (a == "gelu") 1e-15 * (1 + pmin(z^2, 1e6)) else 1e-15
    expect_true(all(rel <= tol), label = a)
  }
  # the erf form of torch agrees where it does not cancel (z > -1)
  pos <- z > -1 & z < 1e300
  torch_gelu <- 0.5 * z * (1 + (2 * pnorm(z / sqrt(2) * sqrt(2)) - 1))
  net <- network(weights = list(diag(1)), output = "gelu")
  expect_equal(as.vector(forward(net, matrix(z[pos]))), torch_gelu[pos], tolerance = 1e-15)
  # exactly torch's rule at the softplus threshold: z itself beyond 20
  net <- network(weights = list(diag(1)), output = "softplus")
  expect_identical(as.vector(forward(net, matrix(c(20.01, 40)))), c(20.01, 40))
})

test_that("the new activations keep NA and NaN and take infinities", {
  z <- matrix(c(NA, NaN, Inf, -Inf, 1), ncol = 1)
  want <- list(leaky_relu = c(Inf, -Inf), elu = c(Inf, -1), gelu = c(Inf, 0), softplus = c(Inf, 0))
  for (a in names(want)) {
    net <- network(weights = list(diag(1)), output = a)
    got <- suppressWarnings(forward(net, z))
    expect_true(is.na(got[1]) && !is.nan(got[1]), label = a)
    expect_true(is.nan(got[2]), label = a)
    expect_identical(got[3:4], want[[a]], label = a)
  }
})

test_that("the new activations' gradients equal finite differences, hidden and output", {
  set.seed(11)
  for (a in c("leaky_relu", "elu", "gelu", "softplus")) {
    for (out in c(a, "softmax", "sigmoid")) {
      loss <- switch(out, softmax = "cross_entropy", sigmoid = "bce", "mse")
      k <- if (out == "softmax") 3L else 2L
      net <- random_net(c(3, 5, 4, k), activations = c(a, a, out), bias = TRUE, sd = 0.6)
      x <- matrix(rnorm(8 * 3), 8)
      y <- random_target(8, k, loss)
      g <- backward(net, x, y, loss = loss)
      info <- paste(a, out)
      expect_lte(gradient_error(g, finite_differences(net, x, y, loss)), 1e-6, label = info)
      expect_equal(g$loss, loss_ref(net, x, y, loss), tolerance = 1e-13, info = info)
      # the traced (unfused) pass gives the same
      gt <- backward(net, x, y, loss = loss, trace = TRUE)
      expect_equal(gt$weights, g$weights, tolerance = 1e-12, info = info)
    }
  }
})

test_that("networks with the new activations train", {
  set.seed(3)
  x <- matrix(runif(200 * 2, -2, 2), 200)
  y <- sin(x[, 1]) + x[, 2]^2 / 4
  for (a in c("leaky_relu", "elu", "gelu", "softplus")) {
    net <- network(c(2, 16, 1), activation = a, output = "identity", bias = TRUE, init = "xavier", seed = 1)
    before <- backward(net, x, y, loss = "mse")$loss
    fitted <- fit(net, x, y, optimizer = "bfgs", maxit = 200)
    after <- backward(fitted, x, y, loss = "mse")$loss
    expect_lt(after, before / 20, label = a)
  }
})
