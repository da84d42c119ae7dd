test_that("mm() equals %*% on many random shapes", {
  set.seed(20261128)
  shapes <- rbind(
    c(1, 1, 1), c(3, 2, 3), c(3, 2, 1), c(1, 5, 1), c(7, 1, 9),
    c(63, 65, 67), c(100, 3, 2), c(2, 300, 4), c(33, 17, 1)
  )
  for (i in seq_len(nrow(shapes))) {
    s <- shapes[i, ]
    x <- random_matrix(s[1], s[2])
    y <- random_matrix(s[2], s[3])
    expect_equal(mm(x, y), x %*% y, tolerance = 1e-13, info = paste(s, collapse = "x"))
  }
  for (i in 1:40) {
    s <- sample(1:12, 3, replace = TRUE)
    x <- random_matrix(s[1], s[2])
    y <- random_matrix(s[2], s[3])
    expect_equal(mm(x, y), x %*% y, tolerance = 1e-13)
  }
})

test_that("mm() is exact on integer-valued and integer input", {
  X <- matrix(1:6, ncol = 2, byrow = TRUE)
  B <- matrix(c(2L, -1L, 0L, 3L, 5L, 7L), ncol = 3)
  expect_identical(mm(X, B), X %*% B)
  expect_identical(typeof(mm(X, B)), "double")
  big <- matrix(sample(-50:50, 63 * 65, replace = TRUE), 63)
  big2 <- matrix(sample(-50:50, 65 * 67, replace = TRUE), 65)
  expect_identical(mm(big, big2), big %*% big2)
})

test_that("mm() takes logical matrices as 0/1, like %*%", {
  x <- matrix(c(TRUE, FALSE, TRUE, TRUE), 2)
  y <- matrix(c(0.5, 2, -1, 4), 2)
  expect_identical(mm(x, y), x %*% y)
  expect_identical(mm(x, x), x %*% x)
})

test_that("mm() gives base R's NA / NaN / Inf pattern, bit for bit", {
  set.seed(1)
  for (i in 1:60) {
    s <- sample(1:9, 3, replace = TRUE)
    x <- random_matrix(s[1], s[2], special = TRUE)
    y <- random_matrix(s[2], s[3], special = TRUE)
    got <- mm(x, y)
    want <- x %*% y
    expect_identical(na_pattern(got), na_pattern(want))
    if (all(is.finite(x)) && all(is.finite(y))) {
      # R used its BLAS here, we our GEMM: equal up to rounding
      expect_equal(got, want, tolerance = 1e-13)
    } else {
      # both took the simple loop: identical, NA versus NaN included
      expect_identical(got, want)
    }
  }
  x <- matrix(c(NA, 1, NaN, 2), 2)
  expect_identical(mm(x, diag(2)), x %*% diag(2))
  expect_true(is.na(mm(x, diag(2))[1, 1]) && !is.nan(mm(x, diag(2))[1, 1]))
  inf <- matrix(c(Inf, 1), 1)
  expect_identical(mm(inf, matrix(c(0, 1, 1, 1), 2)), inf %*% matrix(c(0, 1, 1, 1), 2))
})

test_that("mm() keeps dimnames as %*% does", {
  x <- matrix(1:6, 3, dimnames = list(c("a", "b", "c"), c("p", "q")))
  y <- matrix(1:4, 2, dimnames = list(c("p", "q"), c("u", "v")))
  expect_identical(mm(x, y), x %*% y)
  y0 <- unname(y)
  expect_identical(mm(x, y0), x %*% y0)
  x0 <- unname(x)
  expect_identical(mm(x0, y), x0 %*% y)
  expect_identical(mm(x0, y0), x0 %*% y0)
  xn <- matrix(1:4, 2, dimnames = list(rows = c("r1", "r2"), vars = c("a", "b")))
  expect_identical(mm(xn, y), xn %*% y)
  expect_identical(mm(xn, y0), xn %*% y0)
  yn <- matrix(1:4, 2, dimnames = list(NULL, out = c("o1", "o2")))
  expect_identical(mm(x0[1:2, ], yn), x0[1:2, ] %*% yn)
  # column names only on x and row names only on y: nothing carries over
  xc <- matrix(1:4, 2, dimnames = list(NULL, c("a", "b")))
  yr <- matrix(1:4, 2, dimnames = list(c("a", "b"), NULL))
  expect_identical(mm(xc, yr), xc %*% yr)
  expect_null(dimnames(mm(xc, yr)))
})

test_that("mm() handles zero-extent shapes like %*%", {
  for (s in list(c(0, 2, 3), c(3, 2, 0), c(3, 0, 2), c(0, 0, 0), c(0, 3, 0))) {
    x <- matrix(numeric(0), s[1], s[2])
    if (length(x)) x[] <- 1
    y <- matrix(rep(2, s[2] * s[3]), s[2], s[3])
    expect_identical(mm(x, y), x %*% y, info = paste(s, collapse = "x"))
  }
})

test_that("mm() does not modify its inputs", {
  x <- matrix(1:6, 3)
  y <- matrix(c(0.5, 1.5), 2)
  x0 <- x
  y0 <- y
  mm(x, y)
  expect_identical(x, x0)
  expect_identical(y, y0)
})

test_that("mm() rejects bad input with a fwdprop_error", {
  X <- matrix(1:6, 3)
  bad <- list(
    1:3, c(a = 1, b = 2), data.frame(a = 1:2), list(1, 2), NULL,
    letters, matrix(letters[1:4], 2), matrix(1i, 1), factor("a"),
    array(1:8, c(2, 2, 2)), mean
  )
  for (b in bad) {
    expect_error(mm(b, X), class = "fwdprop_error")
    expect_error(mm(X, b), class = "fwdprop_error")
  }
  expect_error(mm(X, X), class = "fwdprop_error")
  expect_error(mm(X, matrix(1, 3, 1)), "`x` \\(3x2\\) by `y` \\(3x1\\)")
})

test_that("mm() error messages", {
  X <- matrix(1:6, ncol = 2, byrow = TRUE)
  expect_snapshot(error = TRUE, {
    mm(X, matrix(1, 3, 1))
    mm(X, matrix(1, 1, 1))
    mm(1:3, X)
    mm(X, c(0.5, 0.2))
    mm(data.frame(a = 1:3, b = 4:6), X)
    mm(X, NULL)
    mm(X, list(1, 2))
    mm(matrix(letters[1:4], 2), X)
    mm(X, matrix(1i, 2, 2))
    mm(factor(c("a", "b")), X)
  })
})

test_that("the small fast path and the ordinary path of mm() agree", {
  # products up to 65536 elements without dimnames take a raw call; the
  # rest (dimnames, classed matrices, larger products) go through R checks
  set.seed(21)
  for (shape in list(c(3, 2, 3), c(1, 1, 1), c(256, 3, 256), c(257, 2, 256), c(0, 3, 2), c(4, 0, 2))) {
    x <- matrix(rnorm(shape[1] * shape[2]), shape[1], shape[2])
    y <- matrix(rnorm(shape[2] * shape[3]), shape[2], shape[3])
    want <- x %*% y
    expect_equal(mm(x, y), want, tolerance = 1e-14, info = paste(shape, collapse = "x"))
    expect_identical(mm(x, y), fwdprop:::mm_checked(x, y), info = paste(shape, collapse = "x"))
    xi <- matrix(sample(-5:5, length(x), TRUE), nrow(x), ncol(x))
    if (length(xi)) xi[1] <- NA
    expect_identical(mm(xi, y), xi %*% y, info = "integer with NA")
    expect_identical(mm(xi > 0, y), (xi > 0) %*% y, info = "logical with NA")
  }
  # the result is a fresh plain double matrix; the inputs are untouched
  x <- matrix(1:6, 3)
  y <- matrix(c(TRUE, FALSE, NA, TRUE), 2)
  x0 <- x
  y0 <- y
  z <- mm(x, y)
  expect_identical(attributes(z), list(dim = c(3L, 2L)))
  expect_identical(z, x %*% y)
  expect_identical(x, x0)
  expect_identical(y, y0)
  # a classed matrix takes the ordinary path (and keeps working)
  tab <- table(c(1, 1, 2), c("a", "b", "b"))
  expect_identical(mm(tab, diag(2)), unclass(tab) %*% diag(2) + 0)
})
