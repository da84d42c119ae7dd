# Shared helpers for comparing fwdprop with base R.

# Distance in units in the last place between two double vectors, element
# by element (finite values only; NA where either is non-finite).
ulp_distance <- function(a, b) {
  stopifnot(length(a) == length(b))
  out <- rep(NA_real_, length(a))
  ok <- is.finite(a) & is.finite(b)
  m <- pmax(abs(a[ok]), abs(b[ok]))
  # spacing of doubles at magnitude m; subnormals have a fixed spacing
  ulp <- ifelse(m < 2^-1022, 2^-1074, 2^(floor(log2(m)) - 52))
  out[ok] <- abs(a[ok] - b[ok]) / ulp
  out
}

# Random double values including the awkward ones.
awkward_values <- function(n, special = TRUE) {
  x <- rnorm(n, sd = 10)
  if (special && n > 0) {
    pool <- c(NA, NaN, Inf, -Inf, 0, -0, 1e300, -1e300, 1e-300, .Machine$double.xmin / 4)
    k <- sample.int(n, max(1L, n %/% 5L))
    x[k] <- sample(pool, length(k), replace = TRUE)
  }
  x
}

random_matrix <- function(nrow, ncol, special = FALSE) {
  matrix(awkward_values(nrow * ncol, special), nrow, ncol)
}

# TRUE where a value is NA but not NaN, as R's is.na / is.nan tell them
na_pattern <- function(x) list(na = is.na(x) & !is.nan(x), nan = is.nan(x))

# sigmoid(x) agrees with plogis(x): the same attributes, the same NA, NaN
# and infinite values, and finite values within 2 ulp.
expect_plogis <- function(got, x, info = NULL) {
  want <- plogis(x)
  if (length(x)) expect_identical(attributes(got), attributes(want), info = info)
  expect_identical(typeof(got), "double", info = info)
  expect_identical(is.na(as.vector(got)), is.na(as.vector(want)), info = info)
  expect_identical(is.nan(as.vector(got)), is.nan(as.vector(want)), info = info)
  d <- ulp_distance(as.vector(got), as.vector(want))
  expect_true(all(is.na(d) | d <= 2), info = info)
  fin <- is.finite(want)
  expect_identical(as.vector(got)[!fin & !is.na(want)], as.vector(want)[!fin & !is.na(want)], info = info)
}

# The largest relative error of `got` against `want`, value by value.
rel_error <- function(got, want) {
  stopifnot(identical(dim(got), dim(want)) || length(got) == length(want))
  max(abs(as.vector(got) - as.vector(want)) / pmax(abs(as.vector(want)), 1e-8))
}
