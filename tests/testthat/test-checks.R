# The argument checkers and condition helpers of R/checks.R, called
# directly: what they accept and return, and the class and wording of
# what they refuse.

test_that("fwdprop_error() signals a classed error carrying the call and extra fields", {
  f <- function() fwdprop_error("bad thing.", call = quote(g(x)), chunk = 3L)
  e <- tryCatch(f(), error = function(e) e)
  expect_s3_class(e, "fwdprop_error")
  expect_identical(conditionMessage(e), "bad thing.")
  expect_identical(conditionCall(e), quote(g(x)))
  expect_identical(e$chunk, 3L)
  w <- fwdprop_warning("careful.", call = quote(h()))
  expect_s3_class(w, c("fwdprop_warning", "warning", "condition"))
  expect_warning(warning(w), "careful.", class = "fwdprop_warning")
})

test_that("describe_object() and describe_value() name what they were given", {
  expect_identical(describe_object(NULL), "NULL")
  expect_identical(describe_object(iris), "a data frame")
  expect_identical(describe_object(factor("a")), "a factor")
  expect_identical(describe_object(new.env()), "an environment")
  expect_identical(describe_object(1:3), "an integer vector")
  expect_identical(describe_object(matrix(1, 2, 2)), "a numeric matrix")
  expect_identical(describe_object(array(TRUE, c(1, 1, 1))), "a logical array")
  expect_identical(describe_object(list(1)), "a list")
  expect_identical(describe_object(quote(f(x))), "a call")
  expect_identical(shape_string(matrix(0, 3, 2)), "3x2")
})

test_that("the count, flag, choice and fraction checkers accept what they should and name the argument", {
  expect_identical(check_count(3, "n"), 3L)
  expect_identical(check_count(2L, "n"), 2L)
  for (bad in list(0, -1, 1.5, NA, c(1, 2), "3", Inf)) {
    expect_error(check_count(bad, "n"), class = "fwdprop_error", regexp = "`n`")
  }
  expect_true(check_flag(TRUE, "f"))
  expect_error(check_flag(NA, "f"), class = "fwdprop_error", regexp = "`f` must be TRUE or FALSE")
  expect_identical(check_choice(c("a", "b"), "k", c("a", "b")), "a")
  expect_identical(check_choice("b", "k", c("a", "b")), "b")
  expect_error(check_choice("z", "k", c("a", "b")), class = "fwdprop_error", regexp = "`k`")
  expect_identical(check_fraction(0.25, "validation", call = NULL), 0.25)
  expect_error(check_fraction(1, "validation", call = NULL), class = "fwdprop_error")
  expect_identical(check_positive(0.5, "learn_rate", call = NULL), 0.5)
  expect_error(check_positive(0, "learn_rate", call = NULL), class = "fwdprop_error")
  expect_identical(check_digits(4), 4L)
  expect_error(check_digits(16), class = "fwdprop_error", regexp = "from 0 to 15")
})

test_that("as_double_matrix() coerces as base R does and refuses what is not numeric", {
  m <- matrix(1:6, 2, dimnames = list(c("a", "b"), NULL))
  got <- as_double_matrix(m, "x")
  expect_identical(got, m * 1)
  expect_identical(typeof(got), "double")
  expect_identical(as_double_matrix(matrix(c(TRUE, FALSE), 1), "x"), matrix(c(1, 0), 1))
  expect_error(as_double_matrix(matrix("a"), "x"), class = "fwdprop_error", regexp = "`x`")
  expect_error(as_double_matrix(matrix(1i), "x"), class = "fwdprop_error", regexp = "complex")
})

test_that("check_no_dots() refuses arguments it does not know, suggesting the one meant", {
  f <- function(...) check_no_dots(..., fun = "f()", call = quote(f()), choices = c("epochs", "seed"))
  expect_silent(f())
  expect_error(f(epoch = 1), class = "fwdprop_error", regexp = "f\\(\\) has no argument `epoch`. Did you mean `epochs`\\?")
  expect_error(f(1), class = "fwdprop_error", regexp = "`..1` \\(unnamed\\)")
  expect_error(f(zzzzzzzzzz = 1), class = "fwdprop_error", regexp = "no argument `zzzzzzzzzz`.$")
})

test_that("memory: sizes are written as people read them, and what cannot fit is refused up front", {
  expect_identical(format_bytes(999), "999 bytes")
  expect_identical(format_bytes(400400008), "400.4 MB")
  expect_identical(format_bytes(2.5e9), "2.5 GB")
  avail <- available_memory()
  skip_if(is.na(avail))
  expect_gt(avail, 0)
  expect_silent(check_memory(1e6, "a small thing"))
  expect_error(check_memory(avail * 2, "a big thing", call = NULL), class = "fwdprop_error",
               regexp = "a big thing needs .* of memory, more than the .* this machine has free")
  expect_error(check_memory(avail * 0.6, "a network", copies = 2, call = NULL), class = "fwdprop_error",
               regexp = "2 times over")
})

test_that("in_rust() reports errors from Rust, allocation failures included, as fwdprop_errors", {
  e <- tryCatch(in_rust(stop("could not allocate 400.4 MB for x: not enough memory"), call = quote(fit())),
                error = function(e) e)
  expect_s3_class(e, "fwdprop_error")
  expect_identical(conditionCall(e), quote(fit()))
  e <- tryCatch(in_rust(stop("cannot allocate vector of size 7.5 Gb"), call = NULL), error = function(e) e)
  expect_match(conditionMessage(e), "^not enough memory \\(cannot allocate vector of size 7.5 Gb\\)")
  expect_identical(in_rust(1 + 1, call = NULL), 2)
})

test_that("check_path() and as_utf8() give the Rust side UTF-8 paths and refuse invalid text", {
  expect_identical(check_path("~/x.csv", "path"), enc2utf8(path.expand("~/x.csv")))
  expect_error(check_path(NA_character_, "path"), class = "fwdprop_error", regexp = "`path`")
  expect_error(check_path(c("a", "b"), "path"), class = "fwdprop_error")
  latin <- iconv("caf\u00e9", "UTF-8", "latin1")
  expect_identical(charToRaw(as_utf8(latin, "x")), charToRaw("caf\u00e9"))
  bad <- rawToChar(as.raw(c(0x61, 0xff)))
  Encoding(bad) <- "UTF-8"
  expect_error(as_utf8(bad, "`x`"), class = "fwdprop_error", regexp = "not valid text")
})
