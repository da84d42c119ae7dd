# nn_module(), nn_linear() & co. and the losses. Values are checked
# against base R, gradients against central finite differences
# (gradcheck()), the lectures' printed numbers against the lecture
# (series 07 and 08), the training loop against PyTorch
# (fixtures/nn-lecture08-torch.csv, made by torch-nn-fixtures.py).

lecture_x <- function() torch_tensor(matrix(1:6, ncol = 2, byrow = TRUE), dtype = torch_float())

quiet_gradcheck <- function(f, inputs) suppressMessages(gradcheck(f, inputs))

test_that("lecture 7: nn_linear()'s weights and outputs are the lecture's", {
  # torch for R seeded the initialisers' generator with 20773 when lecture 7 ran
  torch_init_seed(20773)
  X <- lecture_x()
  TwoLayerNet <- nn_module(
    classname = "TowLayerNet",
    initialize = function(data_in, hidden, data_out) {
      cat("Initiation complete!")
      self$hidden_layer <- nn_linear(data_in, hidden, bias = FALSE)
      self$output_layer <- nn_linear(hidden, data_out, bias = FALSE)
    }
  )
  expect_output(m <- TwoLayerNet(2, 3, 1), "^Initiation complete!$")
  mat_op <- nn_linear(2, 3, bias = FALSE)
  expect_equal(as_array(mat_op$weight), matrix(c(-0.5329, -0.2611, 0.6383, -0.6421, 0.3294, -0.4162), 3), tolerance = 1e-4)
  expect_equal(as_array(mat_op(X)), matrix(c(-1.8171, -4.1672, -6.5173, 0.3977, 0.5342, 0.6708, -0.1942, 0.2498, 0.6938), 3), tolerance = 1e-4)
  # the forward pass is X %*% t(weight) (float32)
  expect_equal(as_array(mat_op(X)), matrix(1:6, 3, byrow = TRUE) %*% t(as_array(mat_op$weight)), tolerance = 1e-6)
  mat_op2 <- nn_linear(2, 3, bias = TRUE)
  expect_equal(as_array(mat_op2$weight), matrix(c(0.3400, 0.3999, 0.1655, -0.5988, -0.0115, 0.1199), 3), tolerance = 2e-4)
  expect_equal(as_array(mat_op2$bias), c(0.5163, 0.0683, -0.5182), tolerance = 2e-4)
  expect_equal(as_array(mat_op2(X)), matrix(c(-0.3413, -0.8589, -1.3765, 0.4453, 1.2221, 1.9990, -0.1129, 0.4579, 1.0287), 3), tolerance = 2e-4)
  # the fused operation (torch's addmm) against mm, then +
  expect_equal(as_array(mat_op2(X)), as_array(X$mm(mat_op2$weight$t()) + mat_op2$bias), tolerance = 1e-6)
  expect_identical(format(mat_op2(X)$grad_fn), "AddmmBackward0")
  expect_identical(format(mat_op(X)$grad_fn), "MmBackward0")
  TwoLayerNet <- nn_module(
    classname = "TowLayerNet",
    initialize = function(data_in, hidden, data_out) {
      self$hidden_layer <- nn_linear(data_in, hidden, bias = FALSE)
      self$output_layer <- nn_linear(hidden, data_out, bias = FALSE)
      self$sigmoid <- nn_sigmoid()
    },
    forward = function(X) {
      a1 <- self$sigmoid(self$hidden_layer(X))
      self$sigmoid(self$output_layer(a1))
    }
  )
  my_net <- TwoLayerNet(2, 3, 1)
  expect_equal(as_array(my_net(X)), matrix(c(0.3694, 0.3493, 0.3458), 3), tolerance = 2e-4)
  w1 <- t(as_array(my_net$hidden_layer$weight))
  w2 <- t(as_array(my_net$output_layer$weight))
  expect_equal(as_array(my_net(X)), plogis(plogis(matrix(1:6, 3, byrow = TRUE) %*% w1) %*% w2), tolerance = 1e-6)
})

test_that("modules print as torch prints them", {
  torch_init_seed(20773)
  TwoLayerNet <- nn_module(
    classname = "TowLayerNet",
    initialize = function(data_in, hidden, data_out) {
      self$hidden_layer <- nn_linear(data_in, hidden, bias = FALSE)
      self$output_layer <- nn_linear(hidden, data_out, bias = FALSE)
      self$tanh <- nn_tanh()
    }
  )
  net <- TwoLayerNet(2, 3, 1)
  expect_snapshot(print(net))
  expect_snapshot(print(nn_linear(2, 3)))
  expect_snapshot(print(nn_sigmoid()))
  expect_snapshot(print(nn_sequential(nn_linear(1000, 1000), nn_relu())))
  out <- capture.output(print(net))
  expect_identical(nchar(out[[3L]]), 80L)
})

test_that("parameters are named and ordered as torch names them", {
  net <- nn_sequential(nn_linear(2, 3), nn_tanh(), nn_linear(3, 1, bias = FALSE))
  expect_identical(names(net$parameters), c("0.weight", "0.bias", "2.weight"))
  expect_identical(vapply(net$parameters, function(p) p$requires_grad, logical(1)), c(`0.weight` = TRUE, `0.bias` = TRUE, `2.weight` = TRUE))
  expect_identical(lapply(net$parameters, dim), list(`0.weight` = c(3L, 2L), `0.bias` = 3L, `2.weight` = c(1L, 3L)))
  expect_length(net$children, 3L)
  expect_length(net$modules, 4L)
  expect_true(net$training)
  net$eval()
  expect_false(net$training)
  expect_false(net$children[[1]]$training)
  net$train()
  expect_true(net$children[[3]]$training)
  # a parameter registered by nn_parameter()
  M <- nn_module("M", initialize = function() {
    self$w <- nn_parameter(torch_ones(2))
    self$not_a_parameter <- torch_ones(3)
    self$lin <- nn_linear(2, 2)
  }, forward = function(x) self$lin(x * self$w))
  m <- M()
  expect_identical(names(m$parameters), c("w", "lin.weight", "lin.bias"))
  # the same tensors (reference semantics): a change shows through
  with_no_grad(m$parameters$w$mul_(3))
  expect_identical(as_array(m$w), c(3, 3))
})

test_that("nn_sequential() chains its modules and gradients reach every parameter", {
  net <- nn_sequential(nn_linear(3, 4), nn_relu(), nn_linear(4, 2), nn_sigmoid())
  x <- matrix(c(0.5, -1, 2, 1.5, 0.25, -0.75), 2, byrow = TRUE)
  p <- lapply(net$parameters, as_array)
  ref <- plogis(pmax(x %*% t(p[["0.weight"]]) + rep(p[["0.bias"]], each = 2), 0) %*% t(p[["2.weight"]]) + rep(p[["2.bias"]], each = 2))
  out <- net(torch_tensor(x))
  expect_equal(as_array(out), ref, tolerance = 1e-6)
  loss <- sum(out)
  loss$backward()
  expect_true(all(vapply(net$parameters, function(p) !is.null(p$grad), logical(1))))
  # the gradient of the last bias: the sigmoid's derivative summed over rows
  expect_equal(as_array(net$parameters[["2.bias"]]$grad), colSums(ref * (1 - ref)), tolerance = 1e-6)
})

test_that("losses equal base R's formulas", {
  set.seed(1)
  yhat <- runif(6, 0.05, 0.95)
  y <- c(1, 0, 1, 1, 0, 0)
  expect_equal(as.numeric(nnf_mse_loss(torch_tensor(yhat, dtype = torch_double()), y)), mean((yhat - y)^2))
  expect_equal(as.numeric(nn_mse_loss(reduction = "sum")(torch_tensor(yhat, dtype = torch_double()), y)), sum((yhat - y)^2))
  expect_equal(as.numeric(nnf_mse_loss(torch_tensor(yhat, dtype = torch_double()), y, reduction = "none")), (yhat - y)^2)
  bce <- -(y * log(yhat) + (1 - y) * log(1 - yhat))
  expect_equal(as.numeric(nnf_binary_cross_entropy(torch_tensor(yhat, dtype = torch_double()), y)), mean(bce))
  expect_equal(as.numeric(nn_bce_loss(reduction = "sum")(torch_tensor(yhat, dtype = torch_double()), y)), sum(bce))
  w <- c(1, 2, 1, 0.5, 1, 3)
  expect_equal(as.numeric(nnf_binary_cross_entropy(torch_tensor(yhat, dtype = torch_double()), y, weight = w)), mean(w * bce))
  # torch clamps the logs at -100
  expect_equal(as.numeric(nnf_binary_cross_entropy(torch_tensor(c(0, 1), dtype = torch_double()), c(1, 0))), 100)
  z <- c(-40, -2, -0.1, 0.3, 5, 40)
  bcel <- -(y * log(plogis(z)) + (1 - y) * log(plogis(-z)))
  expect_equal(as.numeric(nnf_binary_cross_entropy_with_logits(torch_tensor(z, dtype = torch_double()), y)), mean(bcel))
  expect_equal(as.numeric(nn_bce_with_logits_loss(reduction = "none")(torch_tensor(z, dtype = torch_double()), y)), bcel)
  s <- matrix(c(2, 0, -1, 0.5, 1, 3, 0, 0, 1000, -1000, 1, 2), 4, 3, byrow = TRUE)
  cls <- c(1, 3, 2, 1)
  lse <- apply(s, 1, function(r) max(r) + log(sum(exp(r - max(r)))))
  ce <- lse - s[cbind(1:4, cls)]
  expect_equal(as.numeric(nnf_cross_entropy(torch_tensor(s, dtype = torch_double()), cls)), mean(ce))
  expect_equal(as.numeric(nn_cross_entropy_loss(reduction = "none")(torch_tensor(s, dtype = torch_double()), torch_tensor(cls))), ce)
  cw <- c(0.5, 2, 1)
  expect_equal(as.numeric(nnf_cross_entropy(torch_tensor(s, dtype = torch_double()), cls, weight = cw)), sum(cw[cls] * ce) / sum(cw[cls]))
  expect_equal(as_array(nnf_softmax(torch_tensor(s, dtype = torch_double()), 2)), exp(s - lse))
  expect_equal(as_array(nnf_log_softmax(torch_tensor(s, dtype = torch_double()), 1)), sweep(s, 2, apply(s, 2, function(c) max(c) + log(sum(exp(c - max(c)))))))
  # an n x 1 output against n targets is paired in order
  expect_equal(as.numeric(nnf_binary_cross_entropy(torch_tensor(matrix(yhat), dtype = torch_double()), y)), mean(bce))
})

test_that("losses' gradients equal finite differences", {
  set.seed(2)
  yhat <- torch_tensor(matrix(runif(6, 0.1, 0.9), 3), requires_grad = TRUE)
  y <- matrix(c(1, 0, 0, 1, 1, 0), 3)
  expect_true(quiet_gradcheck(function(a) nnf_mse_loss(a, y), yhat)$ok)
  expect_true(quiet_gradcheck(function(a) nnf_mse_loss(a, y, reduction = "none"), yhat)$ok)
  expect_true(quiet_gradcheck(function(a) nnf_binary_cross_entropy(a, y), yhat)$ok)
  expect_true(quiet_gradcheck(function(a) nnf_binary_cross_entropy(a, y, weight = c(1, 2), reduction = "sum"), yhat)$ok)
  z <- torch_tensor(matrix(c(-3, -0.5, 0.2, 1, 4, -1.5), 3), requires_grad = TRUE)
  expect_true(quiet_gradcheck(function(a) nnf_binary_cross_entropy_with_logits(a, y), z)$ok)
  expect_true(quiet_gradcheck(function(a) nnf_cross_entropy(a, c(2, 1, 2)), z)$ok)
  expect_true(quiet_gradcheck(function(a) nnf_cross_entropy(a, c(2, 1, 2), weight = c(0.3, 2)), z)$ok)
  expect_true(quiet_gradcheck(function(a) nnf_log_softmax(a, 1), z)$ok)
  expect_true(quiet_gradcheck(function(a) nnf_softmax(a, 2), z)$ok)
  # through a whole module: the linear layer's weight and bias
  lin <- nn_linear(2, 3)
  x <- matrix(c(0.5, -1, 2, 1.5), 2)
  res <- quiet_gradcheck(function(w, b) {
    out <- torch_tensor(x, dtype = torch_double())$mm(w$t()) + b
    nnf_mse_loss(tanh(out), matrix(1:6 / 6, 2))
  }, list(lin$weight, lin$bias))
  expect_true(res$ok)
})

test_that("lecture 8: the starting loss is 4268.52 and PyTorch's training is followed", {
  set.seed(2021)
  x <- sort(sample(1:100, 100))
  y <- x + 30 * sin(0.1 * x) + 5 * rnorm(100)
  torch_manual_seed(2021)
  TwoLayerNet <- nn_module(
    classname = "TowLayerNet",
    initialize = function(data_in, hidden, data_out) {
      self$hidden1 <- nn_linear(data_in, hidden)
      self$hidden2 <- nn_linear(hidden, hidden)
      self$hidden3 <- nn_linear(hidden, hidden)
      self$output_layer <- nn_linear(hidden, data_out)
      self$tanh <- nn_tanh()
    },
    forward = function(X) {
      x <- self$tanh(self$hidden1(X))
      x <- self$tanh(self$hidden2(x))
      x <- self$hidden3(x)
      self$output_layer(x)
    }
  )
  x_tensor <- torch_tensor(scale(x), dtype = torch_float(), requires_grad = TRUE)$view(c(-1, 1))
  y_tensor <- torch_tensor(y, dtype = torch_float())$view(c(-1, 1))
  my_net <- TwoLayerNet(1, 10, 1)
  expect_snapshot(print(my_net))
  mse_loss <- nn_mse_loss(reduction = "mean")
  optimizer <- optim_sgd(my_net$parameters, lr = 1e-5)
  expect_identical(sprintf("%.2f", mse_loss(my_net(x_tensor), y_tensor)$item()), "4268.52")
  ref <- read.csv(test_path("fixtures", "nn-lecture08-torch.csv"))
  ref_loss <- ref$value[ref$what == "loss"]
  losses <- numeric(length(ref_loss))
  for (epoch in seq_along(losses)) {
    optimizer$zero_grad()
    loss <- mse_loss(my_net(x_tensor), y_tensor)
    loss$backward()
    optimizer$step()
    losses[epoch] <- loss$item()
  }
  # the losses agree to float32's precision (two float32 ulps: the mean sums in another order)
  expect_lte(max(abs(losses - ref_loss) / ref_loss), 3e-7)
  for (nm in names(my_net$parameters)) {
    expect_equal(as.vector(t(as_array(my_net$parameters[[nm]]))), ref$value[ref$what == nm], tolerance = 1e-6, info = nm)
  }
})

test_that("bad input to modules and losses is a fwdprop_error", {
  expect_error(nn_linear(0, 3), class = "fwdprop_error")
  expect_error(nn_linear(2, 3, bias = NA), class = "fwdprop_error")
  expect_error(nn_linear(2, 3)(torch_ones(4, 3)), class = "fwdprop_error")
  expect_error(nn_linear(2, 3)(matrix(1, 2, 2)), class = "fwdprop_error")
  expect_error(nn_module(initialize = 3), class = "fwdprop_error")
  expect_error(nn_sequential(nn_tanh(), 3), class = "fwdprop_error")
  expect_error(nn_parameter(1:3), class = "fwdprop_error")
  expect_null(nn_tanh()$nothing)
  expect_null(nn_linear(2, 3, bias = FALSE)$bias)
  expect_error(nn_module("M", initialize = function() NULL)()(1), class = "fwdprop_error")
  expect_error(nnf_mse_loss(torch_ones(2), 1, reduction = "avg"), class = "fwdprop_error")
  expect_error(nnf_binary_cross_entropy(torch_tensor(c(0.5, 1.5)), c(0, 1)), class = "fwdprop_error")
  expect_error(nnf_binary_cross_entropy(torch_ones(2), c(0, 1, 1)), class = "fwdprop_error")
  expect_error(nnf_cross_entropy(torch_ones(2, 3), c(0, 1)), class = "fwdprop_error")
  expect_error(nnf_cross_entropy(torch_ones(2, 3), c(1, 4)), class = "fwdprop_error")
  expect_error(nnf_cross_entropy(torch_ones(3), 1), class = "fwdprop_error")
  expect_error(nn_linear(2, 3)$cuda(), class = "fwdprop_error")
})

test_that("as_network() converts an nn_sequential() of linear layers and activations", {
  net <- nn_sequential(nn_linear(2, 3), nn_tanh(), nn_linear(3, 4, bias = FALSE), nn_relu(), nn_linear(4, 2), nn_sigmoid())
  n <- as_network(net)
  expect_s3_class(n, "fwdprop_network")
  # weights transposed to in x out, exactly
  expect_identical(n$weights[[1]], t(as_array(net$parameters[["0.weight"]])))
  expect_identical(n$biases[[1]], as.vector(as_array(net$parameters[["0.bias"]])))
  expect_null(n$biases[[2]])
  x <- matrix(c(0.5, -1, 2, 1.5, 0.3, 0.2), 3)
  expect_equal(unname(predict(n, x)), as_array(net(torch_tensor(x))), tolerance = 1e-6)
  path <- tempfile(fileext = ".safetensors")
  write_safetensors(n, path)
  expect_equal(unname(predict(read_safetensors(path), x)), unname(predict(n, x)))
  expect_error(as_network(nn_module("Free", initialize = function() self$a <- nn_linear(2, 2))()), class = "fwdprop_error")
  expect_error(as_network(nn_sequential(nn_tanh(), nn_linear(2, 2))), class = "fwdprop_error")
})
