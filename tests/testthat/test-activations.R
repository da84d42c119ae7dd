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
