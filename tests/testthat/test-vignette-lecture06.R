# Runs the code of vignettes/lecture-06.Rmd chunk by chunk and checks that
# what it prints is what lecture 6 printed (torch for R, 2021). The
# expected lines are copied from the lecture's printout, not from fwdprop.

test_that("the lecture 6 article prints the lecture's numbers", {
  skip_if_not_installed("knitr")
  chunks <- rmd_chunks(vignette_source("lecture-06"))
  seen <- run_chunks(chunks)
  p <- function(label) seen[[label]]$printed

  expect_identical(p("data"), tensor_lines(c(" 5.1339", " 7.4256", " 7.1589", " 5.7047",
                                             " 1.6527", " 0.4431", " 9.6277"), "CPUFloatType{7}"))
  expect_identical(p("f"), tensor_lines("20.0462", "CPUFloatType{}"))
  expect_identical(p("f-grid"), "[1] 37.27285 37.06098 36.84991 36.63964 36.43018 36.22152")
  expect_identical(p("f-prime"), tensor_lines("-5.61331", "CPUFloatType{}"))
  expect_identical(p("mu-tensor"), tensor_lines(" 2.5000", "CPUFloatType{1}"))
  expect_identical(p("grad-fn"), "MeanBackward0")
  expect_identical(p("backward"), character())
  expect_identical(p("compare"), c(tensor_lines("-5.61331", "CPUFloatType{}"),
                                   tensor_lines("-5.6133", "CPUFloatType{1}")))
  expect_identical(p("detach-before"), c("MeanBackward0", "PowBackward0"))
  expect_identical(p("detach"), c(tensor_lines("288.646", "CPUFloatType{}"), "NULL"))
  expect_identical(p("requires-grad"), c(tensor_lines(c(" 1", " 2"), "CPUFloatType{2}"), "[1] FALSE"))
  expect_identical(p("requires-grad-on"), tensor_lines(c(" 1", " 2"), "CPUFloatType{2}"))
  expect_identical(p("no-grad"), c(tensor_lines("16.9896", "CPUFloatType{}"), "MeanBackward0", "MeanBackward0"))
  expect_identical(p("gd"), "[1] 5.306654 5.306654 5.306654 5.306654 5.306654 5.306654")
  expect_identical(p("gd-end"), c("[1] 5.306654", tensor_lines("5.30665", "CPUFloatType{}")))

  # base-R references from the article's own data: the curve, the tangent
  # and the gradient-descent path
  x <- as.numeric(seen[["data"]]$objects$x_tensor)
  o <- seen[["tangent"]]$objects
  expect_equal(o$plot_data$y, vapply(o$mu_vec, function(m) mean((x - m)^2), 0), tolerance = 1e-6)
  expect_equal(o$my_slope, -2 * mean(x - 2.5), tolerance = 1e-6)
  expect_equal(o$my_intercept, mean((x - 2.5)^2) + 2 * mean(x - 2.5) * 2.5, tolerance = 1e-6)
  ref <- rep(0.5, 100)
  m <- 0.5
  for (i in 2:100) {
    ref[i] <- m
    m <- m - 0.1 * (-2 * mean(x - m))
  }
  result <- seen[["gd"]]$objects$result
  expect_equal(result, ref, tolerance = 1e-6)
  expect_equal(result[100], mean(x), tolerance = 1e-6)
})
