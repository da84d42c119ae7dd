# Runs the code of vignettes/lecture-09.Rmd chunk by chunk and checks that
# what it prints is what lecture 9 printed (torch for R, 2021). The
# expected lines are copied from the lecture's printout, not from fwdprop.
# The article trains for 1,000 epochs (a minute or more); the test trains
# for 100 (the first printed loss) unless FWDPROP_LONG_TESTS=true.

lecture09_losses <- c(
  "Loss at epoch 100: 0.259373", "Loss at epoch 200: 0.221048",
  "Loss at epoch 300: 0.209792", "Loss at epoch 400: 0.205139",
  "Loss at epoch 500: 0.202948", "Loss at epoch 600: 0.201879",
  "Loss at epoch 700: 0.201380", "Loss at epoch 800: 0.201189",
  "Loss at epoch 900: 0.201169", "Loss at epoch 1000: 0.201245"
)
lecture09_result <- c(
  "$fc1.weight", "torch_tensor", " 1.2506  0.6326", "[ CPUFloatType{1,2} ]", "",
  "$fc1.bias", "torch_tensor", "-17.0129", "[ CPUFloatType{1} ]", ""
)

test_that("the lecture 9 article prints the lecture's numbers", {
  skip_if_not_installed("knitr")
  skip_on_cran() # trains for 100 epochs or more
  chunks <- rmd_chunks(vignette_source("lecture-09"))
  long <- identical(Sys.getenv("FWDPROP_LONG_TESTS"), "true")
  epochs <- if (long) 1000L else 100L
  chunks$train <- sub("1:1000", paste0("1:", epochs), chunks$train, fixed = TRUE)
  chunks <- chunks[setdiff(names(chunks), c("rsample-today", "split-plot", "boundary-plot"))]
  seen <- run_chunks(chunks)
  p <- function(label) seen[[label]]$printed

  # the lecture's split: its training rows, as rsample of 2021 chose them
  o <- seen[["split"]]$objects
  expect_identical(head(rownames(o$train_data)), c("379", "35", "230", "115", "354", "459"))
  expect_identical(p("split"), c("[1] 350   3", "[1] 150   3"))
  expect_identical(p("dataset-new"), c(
    "<study_dataset>", "  Inherits from: <dataset>", "  Public:",
    "    .getitem: function (index) ", "    .length: function () ",
    "    clone: function (deep = FALSE) ", "    data: torch_tensor, R7",
    "    initialize: function () ", "    prepare_data: function () "))
  expect_identical(p("getitem")[1:20], c(
    "[[1]]", tensor_lines(c("  9.3051  15.0000", "  3.7909   9.0000", "  5.8796   7.0000",
                            "  1.1662   7.0000", "  9.9760  11.0000", " 11.7531   9.0000"),
                          "CPUFloatType{6,2}"), "",
    "[[2]]", tensor_lines(c(" 1", " 0", " 0", " 0", " 1", " 1"), "CPUFloatType{6}"), ""))
  # head(train_data): the lecture's tibble printed 9.31 3.79 5.88 1.17 9.98 11.8
  h <- o$train_data[1:6, ]
  expect_identical(signif(h$study_time, 3), c(9.31, 3.79, 5.88, 1.17, 9.98, 11.8))
  expect_identical(h$n_question, c(15L, 9L, 7L, 7L, 11L, 9L))
  expect_identical(h$pass_exam, c(1, 0, 0, 0, 1, 1))
  expect_identical(p("dataloader-length"), c("[1] 44", "[1] 44"))
  enum <- p("dataloader-enum")
  expect_identical(enum[-c(2, 7)], c("[[1]]", "attr(,\"class\")", "[1] \"enum_env\"", "",
                                     "[[2]]", "attr(,\"class\")", "[1] \"enum_env\"", ""))
  expect_match(enum[c(2, 7)], "^<environment: 0x[0-9a-f]+>$")
  expect_identical(p("model"), c(
    "An `nn_module` containing 3 parameters.", "",
    "-- Modules ---------------------------------------------------------------------",
    "* fc1: <nn_linear> #3 parameters",
    "* sigmoid: <nn_sigmoid> #0 parameters"))
  expect_identical(p("model-parameters"), c(
    "$fc1.weight", "torch_tensor", " 0.2221  0.6924", "[ CPUFloatType{1,2} ]", "",
    "$fc1.bias", "torch_tensor", " 0.6671", "[ CPUFloatType{1} ]", ""))
  expect_identical(p("train"), lecture09_losses[seq_len(epochs / 100)])
  if (long) {
    expect_identical(p("result"), lecture09_result)
    expect_identical(p("predict"), "[1] 0 0 0 0 1 0")
  }

  # base R: the model's predictions are plogis of the linear predictor
  o <- seen[["predict"]]$objects
  w <- as.numeric(o$logistic_reg$parameters$fc1.weight)
  b <- as.numeric(o$logistic_reg$parameters$fc1.bias)
  X <- as.matrix(o$test_data[, 1:2])
  prob <- as.vector(plogis(X %*% w + b))
  clear <- abs(prob - 0.5) > 1e-4 # float32 against double: no verdict on a knife's edge
  expect_gt(sum(clear), 140)
  expect_identical(o$predict[clear], as.numeric(prob > 0.5)[clear])
})

test_that("the built lecture 9 article shows the lecture's losses and weights", {
  html <- system.file("doc", "lecture-09.html", package = "fwdprop")
  if (!nzchar(html)) skip("the vignettes were not built into this installation")
  page <- paste(readLines(html, warn = FALSE, encoding = "UTF-8"), collapse = "\n")
  for (line in c(lecture09_losses, " 1.2506  0.6326", "-17.0129", "[1] 0 0 0 0 1 0")) {
    expect_true(grepl(line, page, fixed = TRUE), info = line)
  }
})
