test_that("fwdprop_threads() gets and sets the thread count", {
  old <- getOption("fwdprop.threads")
  on.exit(options(fwdprop.threads = old))
  n <- fwdprop_threads()
  expect_true(is.integer(n) && n >= 1L)
  prev <- fwdprop_threads(1)
  expect_identical(prev, n)
  expect_identical(fwdprop_threads(), 1L)
  fwdprop_threads(3)
  withr_env <- Sys.getenv(c("_R_CHECK_LIMIT_CORES_", "OMP_THREAD_LIMIT"), unset = NA)
  on.exit(for (v in names(withr_env)) {
    if (is.na(withr_env[[v]])) Sys.unsetenv(v) else do.call(Sys.setenv, setNames(list(withr_env[[v]]), v))
  }, add = TRUE)
  Sys.unsetenv(c("_R_CHECK_LIMIT_CORES_", "OMP_THREAD_LIMIT"))
  expect_identical(fwdprop_threads(), 3L)
  Sys.setenv(OMP_THREAD_LIMIT = "2")
  expect_identical(fwdprop_threads(), 2L)
  Sys.unsetenv("OMP_THREAD_LIMIT")
  fwdprop_threads(8)
  Sys.setenv("_R_CHECK_LIMIT_CORES_" = "TRUE")
  expect_identical(fwdprop_threads(), 2L)
  expect_error(fwdprop_threads(0), class = "fwdprop_error")
  expect_error(fwdprop_threads("a"), class = "fwdprop_error")
})

test_that("sigmoid() of a large input gives the same bits on any number of threads, with or without huge pages", {
  old <- options(fwdprop.threads = NULL, fwdprop.huge_pages = NULL)
  on.exit(options(old))
  set.seed(3)
  # chunks of 262,144 values over the threads; more than 8 MB of result
  x <- c(rnorm(1100000, sd = 20), NA, NaN, Inf, -Inf, -800)
  ref <- sigmoid(x[1:1000]) # the fast path, one call per value's arithmetic
  fwdprop_threads(1)
  one <- sigmoid(x)
  fwdprop_threads(3)
  three <- sigmoid(x)
  options(fwdprop.huge_pages = TRUE)
  huge <- sigmoid(x)
  m <- matrix(x[1:1050000], 1050)
  expect_identical(three, one)
  expect_identical(huge, one)
  expect_identical(one[1:1000], ref)
  expect_identical(tail(one, 5), plogis(tail(x, 5)))
  expect_lte(max(abs(one - plogis(x)), na.rm = TRUE), 4 * .Machine$double.eps)
  expect_identical(sigmoid(m), matrix(one[1:1050000], 1050))
  expect_identical(mm(m, diag(1000)), m) # an 8.4 MB result, with huge pages asked for
})

test_that("the core's thresholds come from Rust and are the ones the help pages state", {
  # ?sigmoid: "Large inputs (from 262,144 values) are split over threads"
  expect_identical(core_limit("sigmoid_chunk"), 262144)
  expect_identical(core_limit("fast_max_rows"), 256)
})
