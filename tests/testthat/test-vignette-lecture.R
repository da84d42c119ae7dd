# Runs the code of vignettes/lecture-05.Rmd chunk by chunk and checks that
# the values it computes are the lecture's printed numbers (to 4 decimals).
# The numbers below come from the lecture's printout (torch for R), not
# from fwdprop.

test_that("the lecture vignette reproduces the lecture's numbers", {
  skip_if_not_installed("knitr")
  chunks <- rmd_chunks(vignette_source("lecture-05"))
  expect_true(all(c("s1-yhat", "s2-yhat", "s3-z", "trace") %in% names(chunks)))
  seen <- run_chunks(chunks)
  v <- function(x) round(as.numeric(as.matrix(x)), 4)

  # 1. one sample, one path
  s <- seen[["s1-yhat"]]$objects
  expect_identical(v(s$X), c(1, 2))
  expect_identical(v(s$beta_1), c(0.1137, 0.6223))
  expect_identical(v(s$z_21), 1.3583)
  expect_identical(v(s$a_21), 0.7955)
  expect_identical(v(s$z_31), 0.4847)
  expect_identical(v(s$y_hat), 0.6188)

  # 2. one sample, three paths
  s <- seen[["s2-yhat"]]$objects
  expect_identical(v(s$beta), c(0.6234, 0.8609, 0.6403, 0.0095, 0.2326, 0.6661))
  expect_identical(v(s$z_2), c(2.3452, 0.6593, 1.5647))
  expect_identical(v(s$z_3), 1.3771)
  expect_identical(v(s$y_hat), 0.7985)

  # 3. all samples
  s <- seen[["s3-z"]]$objects
  expect_identical(v(s$beta), c(0.2827, 0.9234, 0.2923, 0.8373, 0.2862, 0.2668))
  expect_identical(v(s$z_2), c(2.1296, 4.5419, 6.9543, 1.9669, 4.2261, 6.4854,
                               0.8199, 1.9260, 3.0320))
  expect_identical(v(s$z_3), c(0.5904, 0.6900, 0.7205))
  expect_identical(v(s$y_hat), c(0.6435, 0.6660, 0.6727))

  # the same network as one object
  s <- seen[["trace"]]$objects
  expect_identical(v(s$tr$a[[2]]), c(0.6435, 0.6660, 0.6727))
  expect_identical(v(s$tr$z[[2]]), c(0.5904, 0.6900, 0.7205))
})

test_that("the backward-propagation preview computes by hand what backward() and finite differences give", {
  skip_if_not_installed("knitr")
  chunks <- rmd_chunks(vignette_source("backprop-by-hand"))
  expect_true(all(c("forward", "delta3", "delta2", "grad-beta", "backward", "finite-differences",
                    "step", "steps", "fit") %in% names(chunks)))
  seen <- run_chunks(chunks)
  v <- function(x) round(as.numeric(as.matrix(x)), 4)
  # it starts from the lecture's network and numbers
  expect_identical(v(seen[["forward"]]$objects$y_hat), c(0.6435, 0.6660, 0.6727))
  s <- seen[["backward"]]$objects
  # the hand computations, in base R from the vignette's own objects
  X <- s$X
  y <- s$y
  a2 <- plogis(X %*% s$beta)
  yhat <- plogis(a2 %*% s$gamma)
  d3 <- 2 / 3 * (yhat - y) * yhat * (1 - yhat)
  d2 <- (d3 %*% t(s$gamma)) * a2 * (1 - a2)
  expect_equal(s$delta_3, d3, tolerance = 1e-14)
  expect_equal(s$delta_2, d2, tolerance = 1e-14)
  expect_equal(s$grad_gamma, t(a2) %*% d3, tolerance = 1e-14)
  expect_equal(s$grad_beta, t(X) %*% d2, tolerance = 1e-14)
  # backward() agrees with the hand computation
  expect_equal(s$g$weights, list(s$grad_beta, s$grad_gamma), tolerance = 1e-14)
  expect_equal(s$g$loss, mean((yhat - y)^2), tolerance = 1e-14)
  # finite differences agree to 1e-9
  expect_lt(max(abs(seen[["finite-differences"]]$objects$numeric_beta - s$grad_beta)), 1e-9)
  # one step of gradient descent lowers the loss, and fifty lower it further
  st <- seen[["step"]]$objects
  expect_lt(st$loss_at(st$beta_new, st$gamma_new), st$L)
  expect_true(all(diff(seen[["steps"]]$objects$losses) < 0))
  # fit() brings the predictions to the targets
  f <- seen[["fit"]]$objects$fitted
  expect_lt(tail(f$history$loss, 1), 0.01)
  expect_equal(as.vector(round(predict(f, X))), as.vector(y))
})

test_that("the built lecture vignette shows its formulas as MathML, with no MathJax", {
  html <- system.file("doc", "lecture-05.html", package = "fwdprop")
  if (!nzchar(html)) skip("the vignettes were not built into this installation")
  page <- paste(readLines(html, warn = FALSE, encoding = "UTF-8"), collapse = "\n")
  # the source's formulas: 4 displayed, the rest inline
  expect_identical(lengths(regmatches(page, gregexpr("<math display=\"block\"", page, fixed = TRUE))), 4L)
  expect_gte(lengths(regmatches(page, gregexpr("<math display=\"inline\"", page, fixed = TRUE))), 10L)
  expect_false(grepl("mathjax", page, ignore.case = TRUE))
  # no TeX left where the reader sees it (MathML keeps it in <annotation>)
  shown <- gsub("(?s)<annotation.*?</annotation>|<pre.*?</pre>|<script.*?</script>|<style.*?</style>",
                "", page, perl = TRUE)
  expect_false(grepl("\\\\begin|\\\\frac|\\\\sigma|\\$\\$", shown))
})
