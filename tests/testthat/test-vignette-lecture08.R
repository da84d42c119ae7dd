# Runs the code of vignettes/lecture-08.Rmd chunk by chunk and checks that
# what it prints is what lecture 8 printed (torch for R, 2021, on a GPU).
# The expected lines are copied from the lecture's printout, not from
# fwdprop. The article trains for 50,000 epochs (minutes); the test trains
# for 5,000 (the first printed loss) unless FWDPROP_LONG_TESTS=true.

lecture08_losses <- c(
  "Loss at epoch 5000: 123.00", "Loss at epoch 10000: 94.12",
  "Loss at epoch 15000: 86.84", "Loss at epoch 20000: 81.58",
  "Loss at epoch 25000: 76.47", "Loss at epoch 30000: 70.47",
  "Loss at epoch 35000: 58.99", "Loss at epoch 40000: 41.10",
  "Loss at epoch 45000: 28.03", "Loss at epoch 50000: 23.86"
)

test_that("the lecture 8 article prints the lecture's numbers", {
  skip_if_not_installed("knitr")
  skip_on_cran() # trains a network for 5,000 epochs or more
  chunks <- rmd_chunks(vignette_source("lecture-08"))
  long <- identical(Sys.getenv("FWDPROP_LONG_TESTS"), "true")
  epochs <- if (long) 50000L else 5000L
  chunks$train <- gsub("50000", as.character(epochs), chunks$train, fixed = TRUE)
  later <- match("train", names(chunks))
  chunks <- chunks[seq_len(later)] # the plots after it are not checked
  seen <- run_chunks(chunks)
  p <- function(label) seen[[label]]$printed

  # the data: tibble printed 3 significant digits; the data frame shows all
  d <- seen[["data"]]$objects$obs_data
  expect_identical(head(d$x), 1:6)
  expect_identical(signif(head(d$y), 3), c(10.1, 7.89, 2.88, 17.0, 21.9, 19.1))
  expect_identical(p("lm"), "[1] 431.8235")
  expect_identical(p("net"), character())
  expect_identical(p("cuda"), "[1] FALSE") # the lecture's GPU said TRUE
  expect_identical(p("tensors"), "Initiation complete!")
  expect_identical(p("net-print"), c(
    "An `nn_module` containing 251 parameters.", "",
    "-- Modules ---------------------------------------------------------------------",
    "* hidden1: <nn_linear> #20 parameters",
    "* hidden2: <nn_linear> #110 parameters",
    "* hidden3: <nn_linear> #110 parameters",
    "* output_layer: <nn_linear> #11 parameters",
    "* tanh: <nn_tanh> #0 parameters"))
  # the lecture's tensor was on the GPU: [ CUDAFloatType{} ]
  expect_identical(p("loss-start"), tensor_lines("4268.52", "CPUFloatType{}"))
  expect_identical(p("train"), lecture08_losses[seq_len(epochs / 5000)])

  # base R: the starting loss is the mean squared error of the network's
  # output, and the recorded losses fall
  o <- seen[["train"]]$objects
  expect_identical(round(o$store_loss[1], 2), 4268.52)
  expect_lt(o$store_loss[epochs], o$store_loss[1] / 30)
})

test_that("the built lecture 8 article shows all ten of the lecture's losses", {
  html <- system.file("doc", "lecture-08.html", package = "fwdprop")
  if (!nzchar(html)) skip("the vignettes were not built into this installation")
  page <- paste(readLines(html, warn = FALSE, encoding = "UTF-8"), collapse = "\n")
  for (line in lecture08_losses) expect_true(grepl(line, page, fixed = TRUE), info = line)
})
