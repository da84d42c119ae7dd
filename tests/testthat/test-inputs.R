# From data to a network's inputs and from its outputs to predictions
# (R/inputs.R), against base R.

test_that("as_input_matrix() takes numeric, integer and logical matrices and data frames", {
  m <- matrix(1:6, 3)
  expect_identical(as_input_matrix(m, 2L), m * 1)
  expect_error(as_input_matrix(c(1, 2), 2L), class = "fwdprop_error", regexp = "not a numeric vector")
  expect_identical(as_input_matrix(matrix(c(TRUE, FALSE), 1), 2L), matrix(c(1, 0), 1))
  d <- data.frame(a = 1:2, b = c(0.5, NA))
  expect_identical(unname(as_input_matrix(d, 2L)), matrix(c(1, 2, 0.5, NA), 2))
  expect_error(as_input_matrix(matrix(1, 2, 3), 2L), class = "fwdprop_error", regexp = "`x`")
  expect_error(as_input_matrix(data.frame(a = "x", b = 1), 2L), class = "fwdprop_error")
})

test_that("network_input() picks inputs by name and scales them as the network says", {
  net <- network(weights = list(matrix(c(1, 2, 3, 4), 2, dimnames = list(c("a", "b"), NULL))))
  net$scaling <- list(center = c(a = 1, b = 10), scale = c(a = 2, b = 5))
  x <- data.frame(b = c(10, 20), a = c(3, 5), extra = 0)
  got <- network_input(net, x)
  want <- cbind(a = (c(3, 5) - 1) / 2, b = (c(10, 20) - 10) / 5)
  expect_equal(unname(got), unname(want))
  expect_error(network_input(net, data.frame(a = 1)), class = "fwdprop_error", regexp = "b")
  expect_identical(input_names(net), c("a", "b"))
})

test_that("network_output() turns outputs back into the response's scale and classes", {
  set.seed(1)
  r <- mlp(mpg ~ wt + hp, data = mtcars, hidden = 2, epochs = 5, seed = 1, verbose = FALSE)
  z <- forward(r, scale_columns(as.matrix(mtcars[c("wt", "hp")]), r$scaling$center, r$scaling$scale))
  expect_equal(unname(predict(r, mtcars)[, 1]),
               unname(z[, 1] * r$target_scaling$scale + r$target_scaling$center), tolerance = 1e-12)
  m <- mlp(Species ~ ., data = iris, hidden = 3, epochs = 5, seed = 1, verbose = FALSE)
  p <- predict(m, iris)
  cls <- predict(m, iris, type = "class")
  expect_s3_class(cls, "factor")
  expect_identical(levels(cls), levels(iris$Species))
  expect_identical(as.integer(cls), max.col(p, ties.method = "first"))
})

test_that("a formula's terms are applied to new data as model.matrix() would", {
  d <- data.frame(y = rnorm(30), f = factor(rep(c("u", "v", "w"), 10)), x = rnorm(30))
  m <- mlp(y ~ f + x, d, hidden = 2, epochs = 2, seed = 1, verbose = FALSE)
  mm <- model.matrix(~ f + x, d)[, -1]
  got <- network_input(m, d)
  expect_equal(unname(got), unname(scale_columns(mm, m$scaling$center, m$scaling$scale)), tolerance = 1e-14)
  expect_error(network_input(m, transform(d, f = factor("zz"))), class = "fwdprop_error")
})
