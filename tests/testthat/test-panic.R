# A Rust panic (a bug that slipped through) must surface as an ordinary R
# error: R survives, later calls work, and the panic prints nothing itself
# (extendr's quiet panic hook, registered when the package loads).

panic_X <- matrix(1:6, ncol = 2, byrow = TRUE)
panic_beta <- matrix(c(0.2827, 0.9234, 0.2923, 0.8373, 0.2862, 0.2668), 2)
panic_gamma <- matrix(c(0.0062, 0.2263, 0.3187), 3)
panic_net <- network(weights = list(panic_beta, panic_gamma))

test_that("a Rust panic is an ordinary R error and R survives it", {
  before_mm <- mm(panic_X, panic_beta)
  before_fwd <- forward(panic_net, panic_X)
  err <- expect_error(fwdprop:::panic_impl(), "deliberate panic")
  expect_s3_class(err, "error")
  # the message is the panic's, not Rust's "thread panicked at ..." report
  expect_false(grepl("panicked at|RUST_BACKTRACE", conditionMessage(err)))
  expect_identical(mm(panic_X, panic_beta), before_mm)
  expect_identical(forward(panic_net, panic_X), before_fwd)
})

test_that("100 panics in a row each give an error, and normal calls are unchanged afterwards", {
  before_mm <- mm(panic_X, panic_beta)
  before_fwd <- forward(panic_net, panic_X)
  n_errors <- 0L
  for (i in 1:100) {
    res <- tryCatch(fwdprop:::panic_impl(), error = function(e) e)
    if (inherits(res, "error") && grepl("deliberate panic", conditionMessage(res))) {
      n_errors <- n_errors + 1L
    }
    # normal calls interleaved with the panics
    if (i %% 10L == 0L) {
      expect_identical(mm(panic_X, panic_beta), before_mm)
    }
  }
  expect_identical(n_errors, 100L)
  expect_identical(mm(panic_X, panic_beta), before_mm)
  expect_equal(mm(panic_X, panic_beta), panic_X %*% panic_beta, tolerance = 1e-15)
  expect_identical(forward(panic_net, panic_X), before_fwd)
  expect_equal(forward(panic_net, panic_X),
               plogis(plogis(panic_X %*% panic_beta) %*% panic_gamma), tolerance = 1e-14)
  # an error from a bad argument still comes as fwdprop_error
  expect_error(mm("a", panic_beta), "`x`", class = "fwdprop_error")
})

test_that("a panic prints nothing on stderr (quiet panic hook), checked in a child R", {
  skip_on_cran()
  # the child loads the installed package; not possible under load_all()
  pkg_path <- find.package("fwdprop")
  skip_if_not(file.exists(file.path(pkg_path, "Meta", "package.rds")),
              "fwdprop is not installed (loaded from source)")
  rscript <- file.path(R.home("bin"), "Rscript")
  code <- paste(
    "suppressPackageStartupMessages(library(fwdprop))",
    "r <- try(fwdprop:::panic_impl(), silent = TRUE)",
    "r2 <- try(fwdprop:::panic_impl(), silent = TRUE)",
    paste(
      "cat(inherits(r, 'try-error'), inherits(r2, 'try-error'),",
      "grepl('deliberate panic', conditionMessage(attr(r, 'condition'))),",
      "identical(mm(diag(2), matrix(1:4, 2)), matrix(as.double(1:4), 2)), '\\n')"
    ),
    sep = "; "
  )
  err_file <- tempfile("panic-stderr")
  on.exit(unlink(err_file), add = TRUE)
  lib <- paste(c(dirname(pkg_path), .libPaths()), collapse = .Platform$path.sep)
  out <- suppressWarnings(system2(
    rscript, c("--vanilla", "-e", shQuote(code)),
    stdout = TRUE, stderr = err_file,
    env = c(paste0("R_LIBS=", lib), "RUST_BACKTRACE=")
  ))
  status <- attr(out, "status")
  expect_true(is.null(status) || identical(status, 0L))
  expect_identical(trimws(paste(out, collapse = " ")), "TRUE TRUE TRUE TRUE")
  err <- readLines(err_file, warn = FALSE)
  expect_identical(err, character(0))
})
