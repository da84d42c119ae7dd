# Runs the code of vignettes/lecture-07.Rmd chunk by chunk and checks that
# what it prints is what lecture 7 printed (torch for R, 2021). The
# expected lines are copied from the lecture's printout, not from fwdprop.

test_that("the lecture 7 article prints the lecture's numbers", {
  skip_if_not_installed("knitr")
  chunks <- rmd_chunks(vignette_source("lecture-07"))
  seen <- run_chunks(chunks)
  p <- function(label) seen[[label]]$printed

  expect_identical(p("x"), tensor_lines(c(" 1  2", " 3  4", " 5  6"), "CPUFloatType{3,2}"))
  expect_identical(p("module"), "Initiation complete!")
  expect_identical(p("module-print"), c(
    "An `nn_module` containing 9 parameters.", "",
    "-- Modules ---------------------------------------------------------------------",
    "* hidden_layer: <nn_linear> #6 parameters",
    "* output_layer: <nn_linear> #3 parameters"))
  expect_identical(p("linear"), tensor_lines(c("-0.5329 -0.6421", "-0.2611  0.3294", " 0.6383 -0.4162"),
                                             "CPUFloatType{3,2}"))
  prod1 <- tensor_lines(c("-1.8171  0.3977 -0.1942", "-4.1672  0.5342  0.2498", "-6.5173  0.6708  0.6938"),
                        "CPUFloatType{3,3}")
  expect_identical(p("linear-mm"), c(prod1, prod1))
  expect_identical(p("linear-bias"), c(
    tensor_lines(c(" 0.3400 -0.5988", " 0.3999 -0.0115", " 0.1655  0.1199"), "CPUFloatType{3,2}"),
    tensor_lines(c(" 0.5163", " 0.0683", "-0.5182"), "CPUFloatType{3}")))
  prod2 <- tensor_lines(c("-0.3413  0.4453 -0.1129", "-0.8589  1.2221  0.4579", "-1.3765  1.9990  1.0287"),
                        "CPUFloatType{3,3}")
  expect_identical(p("linear-bias-mm"), c(prod2, prod2))
  expect_identical(p("forward"), "Initiation complete!")
  expect_identical(p("forward-run"), tensor_lines(c(" 0.3694", " 0.3493", " 0.3458"), "CPUFloatType{3,1}"))

  # base R from the article's own weights: the layers' products and the
  # forward pass (plogis, the lecture's sigmoid)
  o <- seen[["forward-run"]]$objects
  X <- matrix(1:6, ncol = 2, byrow = TRUE)
  w2 <- as_array(o$mat_op2$weight)
  expect_equal(as_array(o$mat_op2(o$X)), sweep(X %*% t(w2), 2, as_array(o$mat_op2$bias), "+"), tolerance = 1e-6)
  beta <- t(as_array(o$my_net$hidden_layer$weight))
  gamma <- t(as_array(o$my_net$output_layer$weight))
  expect_equal(as.vector(as_array(o$my_net(o$X))), as.vector(plogis(plogis(X %*% beta) %*% gamma)), tolerance = 1e-6)
})
