# dataset(), dataloader(), enumerate(): lecture 9's shapes, lengths and
# printed batch (series/09-dataloader.md), batches against the rows they
# must hold, iteration and bad input.

# Lecture 9's data. The lecture split it with rsample::initial_split(prop
# = 0.7) as rsample did in 2021: 150 rows drawn for testing with
# sample.int(500, 150), the others (in order) for training. (rsample 1.x
# draws differently; its split has the same sizes.)
lecture9_data <- function() {
  set.seed(2021)
  x1 <- c(rnorm(300, 5, 2), rnorm(200, 10, 2))
  x2 <- as.integer(pmax(c(rnorm(300, 10, 2), rnorm(200, 13, 2)), 0))
  y <- rep(c(0, 1), c(300, 200))
  d <- data.frame(study_time = x1, n_question = x2, pass_exam = y)
  d[sample(500, 500), ]
}

lecture9_train <- function(study_data) {
  set.seed(2021)
  test_rows <- sample.int(500, 150)
  study_data[setdiff(seq_len(500), test_rows), ]
}

study_dataset <- function(train) {
  gen <- dataset(
    name = "study_dataset",
    initialize = function() {
      self$data <- self$prepare_data()
    },
    .getitem = function(index) {
      x <- self$data[index, 1:2]
      y <- self$data[index, 3]
      list(x, y)
    },
    .length = function() {
      self$data$size()[[1]]
    },
    prepare_data = function() {
      torch_tensor(as.matrix(train))
    }
  )
  gen()
}

test_that("lecture 9: the dataset's items, length and printing", {
  train <- lecture9_train(lecture9_data())
  torch_data <- study_dataset(train)
  expect_identical(length(torch_data), 350L)
  items <- torch_data$.getitem(1:6)
  expect_identical(dim(items[[1]]), c(6L, 2L))
  expect_identical(dim(items[[2]]), 6L)
  # the lecture's printed values
  expect_equal(as_array(items[[1]]), cbind(c(9.3051, 3.7909, 5.8796, 1.1662, 9.9760, 11.7531), c(15, 9, 7, 7, 11, 9)), tolerance = 1e-5)
  expect_identical(as_array(items[[2]]), c(1, 0, 0, 0, 1, 1))
  expect_snapshot(print(items))
  expect_snapshot(print(torch_data))
})

test_that("lecture 9: 44 batches of 8 (the last of 6), stacked along a new first dimension", {
  train <- lecture9_train(lecture9_data())
  study_dl <- dataloader(study_dataset(train), batch_size = 8)
  expect_identical(study_dl$.length(), 44L)
  expect_identical(length(study_dl), 44L)
  batches <- enumerate(study_dl)
  expect_length(batches, 44L)
  expect_s3_class(batches[[1]], "enum_env")
  expect_true(is.environment(batches[[1]]))
  m <- as.matrix(train)
  storage.mode(m) <- "double"
  f32 <- function(v) as_array(torch_tensor(v))
  expect_identical(dim(batches[[1]][[1]]), c(8L, 2L))
  expect_identical(dim(batches[[1]][[2]]), 8L)
  expect_identical(as_array(batches[[1]][[1]]), f32(m[1:8, 1:2]))
  expect_identical(as_array(batches[[44]][[1]]), f32(m[345:350, 1:2]))
  expect_identical(as_array(batches[[44]][[2]]), unname(m[345:350, 3]))
  n <- 0
  for (batch in enumerate(study_dl)) {
    n <- n + dim(batch[[1]])[[1]]
  }
  expect_identical(n, 350)
  expect_identical(length(dataloader(study_dataset(train), batch_size = 8, drop_last = TRUE)), 43L)
})

test_that("lecture 9 with rsample: the split's sizes and the loader's length", {
  skip_if_not_installed("rsample")
  study_data <- lecture9_data()
  set.seed(2021)
  split <- rsample::initial_split(study_data, prop = 0.7)
  train <- rsample::training(split)
  expect_identical(dim(train), c(350L, 3L))
  expect_identical(dim(rsample::testing(split)), c(150L, 3L))
  dl <- dataloader(study_dataset(train), batch_size = 8)
  expect_identical(length(enumerate(dl)), 44L)
})

test_that("shuffling visits every item once per pass, in the order R's generator gives", {
  ds <- dataset(
    "ids",
    initialize = function(n) self$n <- n,
    .getitem = function(i) list(x = torch_tensor(c(i, -i)), y = i),
    .length = function() self$n
  )(10)
  dl <- dataloader(ds, batch_size = 3, shuffle = TRUE)
  set.seed(5)
  got <- unlist(lapply(enumerate(dl), function(b) as_array(b[["y"]])))
  set.seed(5)
  expect_identical(got, sample.int(10)) # whole numbers make a long tensor
  b <- enumerate(dl)[[1]]
  expect_equal(as.numeric(as_array(b$x)[, 2]), -as.numeric(as_array(b$y)))
  it <- dataloader_make_iter(dataloader(ds, batch_size = 4))
  sizes <- integer(0)
  while (!is.null(batch <- dataloader_next(it))) {
    sizes <- c(sizes, length(batch$y))
  }
  expect_identical(sizes, c(4L, 4L, 2L))
  expect_identical(dataloader_next(it, completed = "done"), "done")
})

test_that("a dataset's .getbatch() is used when it has one", {
  ds <- dataset(
    "batched",
    .getbatch = function(index) list(torch_tensor(index * 2)),
    .length = function() 5
  )()
  dl <- dataloader(ds, batch_size = 2)
  expect_identical(lapply(enumerate(dl), function(b) as_array(b[[1]])), list(c(2, 4), c(6, 8), 10))
})

test_that("bad input to datasets and loaders is a fwdprop_error", {
  expect_error(dataset("a", .length = function() 1), class = "fwdprop_error")
  expect_error(dataset(3, .getitem = function(i) i), class = "fwdprop_error")
  expect_error(dataloader(list(1, 2)), class = "fwdprop_error")
  ds <- dataset("d", .getitem = function(i) list(torch_ones(i)), .length = function() 3)()
  expect_error(dataloader(ds, batch_size = 0), class = "fwdprop_error")
  expect_error(dataloader(ds, shuffle = NA), class = "fwdprop_error")
  # items of different shapes cannot be stacked
  expect_error(enumerate(dataloader(ds, batch_size = 2))[[1]][[1]], "cannot stack", class = "fwdprop_error")
  bad_len <- dataset("d", .getitem = function(i) i, .length = function() "three")()
  expect_error(dataloader(bad_len), class = "fwdprop_error")
  expect_error(dataloader_next(list()), class = "fwdprop_error")
})

test_that("lecture 9: the logistic regression trained from the loader follows PyTorch", {
  train <- lecture9_train(lecture9_data())
  study_dl <- dataloader(study_dataset(train), batch_size = 8)
  # torch for R seeded nn_linear()'s generator with 93928 when lecture 9 ran
  torch_init_seed(93928)
  study_net <- nn_module(
    "StudyNet",
    initialize = function() {
      self$fc1 <- nn_linear(2, 1)
      self$sigmoid <- nn_sigmoid()
    },
    forward = function(x) {
      self$sigmoid(self$fc1(x))
    }
  )
  logistic_reg <- study_net()
  expect_snapshot(print(logistic_reg))
  # the lecture's printed starting parameters
  expect_equal(as_array(logistic_reg$parameters$fc1.weight), matrix(c(0.2221, 0.6924), 1), tolerance = 1e-4)
  expect_equal(as_array(logistic_reg$parameters$fc1.bias), 0.6671, tolerance = 1e-4)
  optimizer <- optim_sgd(logistic_reg$parameters, lr = 0.05)
  ref <- read.csv(test_path("fixtures", "dataloader-lecture09-torch.csv"))
  for (epoch in 1:3) {
    loss_collect <- c()
    for (batch in enumerate(study_dl)) {
      optimizer$zero_grad()
      output <- logistic_reg(batch[[1]])
      loss <- nnf_binary_cross_entropy(output, batch[[2]])
      loss$backward()
      optimizer$step()
      loss_collect <- c(loss_collect, loss$item())
    }
    expect_equal(mean(loss_collect), ref$value[ref$what == "mean_loss" & ref$index == epoch], tolerance = 1e-6)
  }
  expect_equal(as.vector(as_array(logistic_reg$parameters$fc1.weight)), ref$value[ref$what == "fc1.weight"], tolerance = 1e-6)
  expect_equal(as.vector(as_array(logistic_reg$parameters$fc1.bias)), ref$value[ref$what == "fc1.bias"], tolerance = 1e-6)
})
