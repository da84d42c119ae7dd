# optim_sgd() and optim_adam(): each step against the update written out
# here in double precision (torch's formulas), and against PyTorch's
# float32 optimisers (fixtures/optim-torch.csv, made by
# torch-nn-fixtures.py).

optim_problem <- function(dtype = torch_float()) {
  list(
    c = matrix(c(0.5, -1.0, 2.0, 1.5, 0.25, -0.75), 2, byrow = TRUE),
    d = matrix(c(1.0, 2.0, 0.5, 3.0, 1.0, 2.0), 2, byrow = TRUE),
    p = torch_tensor(matrix(c(0.3, -0.2, 0.9, -1.1, 0.4, 0.05), 2, byrow = TRUE), dtype = dtype, requires_grad = TRUE)
  )
}

# loss sum(tanh(p * c)^2 * d) and its gradient, by hand
problem_grad <- function(p, c, d) 2 * d * tanh(p * c) * (1 - tanh(p * c)^2) * c

run_optimizer <- function(make, steps, dtype = torch_float()) {
  pr <- optim_problem(dtype)
  opt <- make(list(pr$p))
  out <- list()
  for (s in seq_len(steps)) {
    opt$zero_grad()
    loss <- sum(tanh(pr$p * pr$c)^2 * pr$d)
    loss$backward()
    opt$step()
    out[[s]] <- as_array(pr$p)
  }
  out
}

test_that("optim_sgd() takes torch's steps (plain, momentum, Nesterov, weight decay)", {
  pr <- optim_problem(torch_double())
  p <- as_array(pr$p)
  for (cfg in list(
    list(lr = 0.1, momentum = 0, nesterov = FALSE, wd = 0, damp = 0),
    list(lr = 0.05, momentum = 0.9, nesterov = FALSE, wd = 0, damp = 0.1),
    list(lr = 0.05, momentum = 0.8, nesterov = TRUE, wd = 0.1, damp = 0)
  )) {
    got <- run_optimizer(function(ps) {
      optim_sgd(ps, lr = cfg$lr, momentum = cfg$momentum, dampening = cfg$damp, weight_decay = cfg$wd, nesterov = cfg$nesterov)
    }, 5, torch_double())
    q <- p
    buf <- NULL
    for (s in 1:5) {
      g <- problem_grad(q, pr$c, pr$d) + cfg$wd * q
      if (cfg$momentum > 0) {
        buf <- if (is.null(buf)) g else cfg$momentum * buf + (1 - cfg$damp) * g
        g <- if (cfg$nesterov) g + cfg$momentum * buf else buf
      }
      q <- q - cfg$lr * g
      expect_equal(got[[s]], q, tolerance = 1e-12)
    }
  }
})

test_that("optim_adam() takes torch's steps, with bias correction", {
  pr <- optim_problem(torch_double())
  for (cfg in list(list(lr = 0.01, b = c(0.9, 0.999), eps = 1e-8, wd = 0), list(lr = 0.1, b = c(0.8, 0.9), eps = 1e-6, wd = 0.05))) {
    got <- run_optimizer(function(ps) optim_adam(ps, lr = cfg$lr, betas = cfg$b, eps = cfg$eps, weight_decay = cfg$wd), 6, torch_double())
    q <- as_array(pr$p)
    m <- v <- q * 0
    for (k in 1:6) {
      g <- problem_grad(q, pr$c, pr$d) + cfg$wd * q
      m <- cfg$b[1] * m + (1 - cfg$b[1]) * g
      v <- cfg$b[2] * v + (1 - cfg$b[2]) * g^2
      q <- q - cfg$lr / (1 - cfg$b[1]^k) * m / (sqrt(v) / sqrt(1 - cfg$b[2]^k) + cfg$eps)
      expect_equal(got[[k]], q, tolerance = 1e-12)
    }
  }
})

test_that("float32 steps follow PyTorch's optimisers", {
  ref <- read.csv(test_path("fixtures", "optim-torch.csv"))
  makers <- list(
    sgd_momentum = function(ps) optim_sgd(ps, lr = 0.05, momentum = 0.9),
    sgd_nesterov_wd = function(ps) optim_sgd(ps, lr = 0.05, momentum = 0.8, nesterov = TRUE, weight_decay = 0.1),
    adam = function(ps) optim_adam(ps, lr = 0.01),
    adam_wd = function(ps) optim_adam(ps, lr = 0.1, betas = c(0.8, 0.9), eps = 1e-6, weight_decay = 0.05)
  )
  for (nm in names(makers)) {
    got <- run_optimizer(makers[[nm]], 10)
    for (s in 1:10) {
      want <- ref$value[ref$config == nm & ref$step == s]
      # PyTorch's row-major order; values of size ~1 agree to about one
      # float32 ulp (the gradients' tanh rounds differently)
      expect_lte(max(abs(as.vector(t(got[[s]])) - want)), 2e-7, label = paste(nm, s))
    }
  }
})

test_that("zero_grad() zeroes the gradients; a parameter without gradient is left alone", {
  a <- torch_tensor(c(1, 2), requires_grad = TRUE)
  b <- torch_tensor(c(3, 4), requires_grad = TRUE)
  opt <- optim_sgd(list(a, b), lr = 0.5)
  loss <- sum(a * a)
  loss$backward()
  opt$step()
  expect_identical(as_array(a), c(0, 0))
  expect_identical(as_array(b), c(3, 4))
  opt$zero_grad()
  expect_identical(as_array(a$grad), c(0, 0))
  expect_length(opt$param_groups, 1L)
  expect_identical(opt$param_groups[[1]]$lr, 0.5)
})

test_that("optimisers given something other than parameters fail with fwdprop_error", {
  expect_error(optim_sgd(3, lr = 0.1), class = "fwdprop_error")
  expect_error(optim_sgd(list(), lr = 0.1), class = "fwdprop_error")
  expect_error(optim_sgd(list(torch_ones(2)), lr = 0.1), "does not require gradients", class = "fwdprop_error")
  a <- torch_tensor(c(1, 2), requires_grad = TRUE)
  expect_error(optim_sgd(list(a * 2), lr = 0.1), "result of an operation", class = "fwdprop_error")
  expect_error(optim_sgd(list(a)), "lr", class = "fwdprop_error")
  expect_error(optim_sgd(list(a), lr = -1), class = "fwdprop_error")
  expect_error(optim_sgd(list(a), lr = 0.1, nesterov = TRUE), class = "fwdprop_error")
  expect_error(optim_adam(list(a), betas = c(0.9, 1)), class = "fwdprop_error")
  expect_error(optim_adam(nn_linear(2, 2), lr = 0.1), class = "fwdprop_error")
  expect_error(optim_adam(list(a))$nothing, class = "fwdprop_error")
})

test_that("an integer learning rate steps as the same double one does", {
  # plain SGD (no momentum, no weight decay) takes its own fast path
  for (dtype in list(torch_float(), torch_double())) {
    a <- run_optimizer(function(p) optim_sgd(p, lr = 1L), 2, dtype)
    b <- run_optimizer(function(p) optim_sgd(p, lr = 1), 2, dtype)
    expect_identical(a, b)
    expect_identical(dim(a[[2]]), c(2L, 3L))
  }
  # and the plain step is p - lr * g, rounded to float32
  pr <- optim_problem(torch_double())
  opt <- optim_sgd(list(pr$p), lr = 0.1)
  p0 <- as_array(pr$p)
  sum(tanh(pr$p * pr$c)^2 * pr$d)$backward()
  opt$step()
  expect_equal(as_array(pr$p), p0 - 0.1 * problem_grad(p0, pr$c, pr$d), tolerance = 1e-14)
})

test_that("the plain SGD step and zero_grad() in Rust equal the R code's bit for bit", {
  for (dtype in c("float", "double")) {
    res <- both_paths(function() {
      # (no linear layer: the R code's products go through R's BLAS)
      w <- nn_parameter(torch_tensor(matrix(c(0.2, -0.5, 0.7), 3), dtype = dtype))
      b <- nn_parameter(torch_tensor(0.1, dtype = dtype))
      params <- list(w = w, b = b)
      net <- function(x) tanh(x$mm(w) + b)
      x <- torch_tensor(matrix(c(0.1, -0.4, 2, 1.5, 0.3, -1, 0.8, 0.2, -0.6), 3), dtype = dtype)
      y <- torch_tensor(matrix(c(1, -1, 0.5), 3), dtype = dtype)
      opt <- optim_sgd(params, lr = 0.037)
      trace <- numeric(0)
      for (k in 1:25) {
        opt$zero_grad(set_to_none = k %% 5 == 0)
        loss <- nnf_mse_loss(net(x), y)
        loss$backward()
        opt$step()
        trace <- c(trace, as.numeric(loss), as.numeric(w), as.numeric(b), as.numeric(w$grad))
      }
      trace
    })
    expect_identical(res$native, res$r, label = dtype)
  }
})
