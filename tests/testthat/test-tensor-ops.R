# The operations of R/tensor-ops.R (and the losses added with them in
# R/nn.R) against PyTorch's float64 autograd and central finite
# differences, on the seeded random shapes of fixtures/torch-tensor-ops.csv
# (made by torch-autograd-fixtures.py with PyTorch 2.15, float.hex so the
# numbers round-trip exactly). Each case is sum(op(inputs) * W) for fixed
# random weights W of the output's shape: its value (1e-12), the output's
# shape and the gradients of every input that requires one (1e-10 against
# PyTorch, 1e-6 against finite differences).

# torch's 0-based indices + 1 (what torch for R returns), as doubles
idx <- function(i) i$to(dtype = torch_double())

tensor_ops_cases <- list(
  permute_2d = function(a) a$permute(2, 1),
  permute_3d = function(a) a$permute(3, 1, 2),
  permute_neg = function(a) a$permute(-1, -3, -2),
  expand_col = function(a) a$expand(a$shape[[1]], 4),
  expand_keep = function(a) a$expand(3, -1, -1),
  expand_new = function(a) a$expand(2, 3, a$shape[[1]]),
  flatten_all = function(a) a$flatten(),
  flatten_from2 = function(a) a$flatten(start_dim = 2),
  flatten_12 = function(a) a$flatten(1, 2),
  max_dim1 = function(a) a$max(dim = 1)[[1]],
  max_dim2_keep = function(a) a$max(dim = 2, keepdim = TRUE)[[1]],
  min_dim_neg = function(a) a$min(dim = -1)[[1]],
  max_dim_indices = function(a) idx(a$max(dim = 2)[[2]]),
  min_dim_indices_keep = function(a) idx(a$min(dim = 1, keepdim = TRUE)[[2]]),
  argmax_dim = function(a) idx(a$argmax(dim = 2)),
  argmin_dim_keep = function(a) idx(a$argmin(dim = -1, keepdim = TRUE)),
  argmax_all = function(a) idx(a$argmax()),
  argmin_all = function(a) idx(a$argmin()),
  prod_all = function(a) a$prod(),
  prod_fn = function(a) prod(a),
  prod_dim1 = function(a) a$prod(dim = 1),
  prod_dim2_keep = function(a) a$prod(dim = 2, keepdim = TRUE),
  var_all = function(a) a$var(),
  var_dim = function(a) a$var(dim = 2),
  var_dim_biased_keep = function(a) a$var(dim = 1, unbiased = FALSE, keepdim = TRUE),
  var_correction = function(a) a$var(dim = -1, correction = 0),
  std_all = function(a) a$std(),
  std_dim_keep = function(a) a$std(dim = 2, keepdim = TRUE),
  std_biased = function(a) a$std(unbiased = FALSE),
  norm_all = function(a) a$norm(),
  norm_p1 = function(a) a$norm(p = 1),
  norm_p3_dim = function(a) a$norm(p = 3, dim = 2),
  norm_dim_keep = function(a) a$norm(dim = 1, keepdim = TRUE),
  softmax_method = function(a) a$softmax(dim = 2),
  log_softmax_method = function(a) a$log_softmax(dim = -1),
  where = function(c, a, b) torch_where(c > 0, a, b),
  where_broadcast = function(c, a, b) torch_where(c > 0, a, b),
  where_number = function(a) torch_where(a > 0, a, 0),
  nnf_linear_bias = function(x, w, b) nnf_linear(x, w, b),
  nnf_linear_vector = function(x, w) nnf_linear(x, w),
  nnf_linear_3d = function(x, w, b) nnf_linear(x, w, b),
  l1_mean = function(a, b) nnf_l1_loss(a, b),
  l1_sum = function(a, b) nnf_l1_loss(a, b, reduction = "sum"),
  l1_none = function(a, b) nn_l1_loss(reduction = "none")(a, b),
  nll_mean = function(a, b) nnf_nll_loss(a, b),
  nll_sum = function(a, b) nnf_nll_loss(a, b, reduction = "sum"),
  nll_none = function(a, b) nn_nll_loss(reduction = "none")(a, b),
  nll_weight = function(a, b, w) nnf_nll_loss(a, b, weight = w),
  nll_of_log_softmax = function(a, b) nnf_nll_loss(nnf_log_softmax(a, dim = 2), b),
  cumprod = function(a) cumprod(a),
  cumprod_dim = function(a) a$cumprod(dim = 2),
  bce_target_grad = function(a, b) nnf_binary_cross_entropy(a, b),
  bce_logits_target_grad = function(a, b) nnf_binary_cross_entropy_with_logits(a, b, reduction = "sum"),
  bce_logits_target_weight = function(a, b, w) nn_bce_with_logits_loss(weight = w)(a, b),
  edge_prod_zeros = function(a) a$prod(),
  edge_prod_dim_zero = function(a) a$prod(dim = 2),
  edge_cumprod_zeros = function(a) a$cumprod(dim = 1),
  edge_max_dim_ties = function(a) a$max(dim = 2)[[1]]
)
# (central differences at a tie give the mean of the one-sided slopes, not
# torch's choice of one value: no finite differences there)
ops_at_kink <- "edge_max_dim_ties"

hex_values <- function(s) if (is.na(s) || !nzchar(s)) numeric(0) else as.numeric(strsplit(s, " ", fixed = TRUE)[[1L]])
shape_values <- function(s) if (is.na(s) || !nzchar(s)) integer(0) else as.integer(strsplit(s, " ", fixed = TRUE)[[1L]])

# a float64 tensor of `shape` from row-major values
from_rowmajor <- function(v, shape, requires_grad = FALSE) {
  if (!length(shape)) {
    x <- torch_tensor(v, dtype = torch_double())$sum()$detach()
    return(if (requires_grad) x$requires_grad_() else x)
  }
  data <- if (length(shape) == 1L) v else aperm(array(v, rev(shape)))
  torch_tensor(data, dtype = torch_double(), requires_grad = requires_grad)
}

to_rowmajor <- function(x) {
  a <- as_array(x)
  if (is.null(dim(a)) || length(dim(a)) <= 1L) as.vector(a) else as.vector(aperm(a))
}

# the problems of one case (empty when every check passes) and its worst
# relative errors against PyTorch and finite differences
check_ops_case <- function(rows, with_fd) {
  name <- rows$case[[1L]]
  f <- tensor_ops_cases[[rows$op[[1L]]]]
  rows <- rows[order(rows$input), ]
  w_row <- rows[rows$input == 0L, ]
  rows <- rows[rows$input > 0L, ]
  shapes <- lapply(rows$shape, shape_values)
  values <- lapply(rows$values, hex_values)
  req <- as.logical(rows$requires_grad)
  w <- from_rowmajor(hex_values(w_row$values), shape_values(w_row$shape))
  leaves <- lapply(seq_along(values), function(i) from_rowmajor(values[[i]], shapes[[i]], req[[i]]))
  problems <- character()
  problem <- function(...) problems <<- c(problems, paste0(name, ": ", sprintf(...)))
  out <- do.call(f, leaves)
  y <- sum(out * w)
  want <- hex_values(rows$value[[1L]])
  if (!(abs(y$item() - want) / max(1, abs(want)) <= 1e-12)) {
    problem("value %.17g, PyTorch's %.17g", y$item(), want)
  }
  if (!identical(out$shape, shape_values(w_row$shape))) {
    problem("output shape %s, PyTorch's %s", paste(out$shape, collapse = "x"), w_row$shape)
  }
  err_torch <- 0
  err_fd <- if (with_fd && any(req) && !(rows$op[[1L]] %in% ops_at_kink)) 0 else NA
  if (any(req)) {
    y$backward()
  }
  total <- function(vals) {
    xs <- lapply(seq_along(vals), function(i) from_rowmajor(vals[[i]], shapes[[i]]))
    as.numeric(sum(do.call(f, xs) * w))
  }
  for (i in which(req)) {
    g <- leaves[[i]]$grad
    if (is.null(g) || !identical(g$shape, shapes[[i]])) {
      problem("input %d: no gradient, or not of the input's shape", i)
      next
    }
    got <- to_rowmajor(g)
    want_g <- hex_values(rows$grad[[i]])
    rel <- if (all(want_g == 0)) max(abs(got)) else max(abs(got - want_g)) / max(abs(want_g))
    if (!(rel <= 1e-10)) problem("input %d: relative error against PyTorch %.3g", i, rel)
    err_torch <- max(err_torch, rel)
    if (!is.na(err_fd)) {
      fd <- vapply(seq_along(values[[i]]), function(j) {
        up <- values
        down <- values
        up[[i]][[j]] <- up[[i]][[j]] + 1e-6
        down[[i]][[j]] <- down[[i]][[j]] - 1e-6
        (total(up) - total(down)) / 2e-6
      }, numeric(1L))
      rel_fd <- max(abs(got - fd) / pmax(1, abs(fd)))
      if (!(rel_fd <= 1e-6)) problem("input %d: relative error against finite differences %.3g", i, rel_fd)
      err_fd <- max(err_fd, rel_fd)
    }
  }
  list(problems = problems, row = data.frame(case = name, op = rows$op[[1L]], torch = err_torch, fd = err_fd))
}

test_that("the new operations' values and gradients equal PyTorch's float64 autograd and finite differences", {
  fx <- utils::read.csv(test_path("fixtures", "torch-tensor-ops.csv"), stringsAsFactors = FALSE,
    colClasses = c(shape = "character", values = "character", grad = "character", value = "character"))
  expect_setequal(unique(fx$op), names(tensor_ops_cases))
  cases <- split(fx, factor(fx$case, levels = unique(fx$case)))
  with_fd <- identical(Sys.getenv("NOT_CRAN"), "true")
  results <- lapply(cases, check_ops_case, with_fd = with_fd)
  expect_identical(unname(unlist(lapply(results, `[[`, "problems"))), character())
  table <- do.call(rbind, lapply(results, `[[`, "row"))
  expect_gte(nrow(table), 120)
  expect_lte(max(table$torch), 1e-10)
  if (with_fd) {
    expect_lte(max(table$fd, na.rm = TRUE), 1e-6)
  }
})

test_that("the results print as torch's and name torch's grad_fn", {
  x <- torch_tensor(array(seq(-1.1, 1.2, by = 0.1), c(2, 3, 4)), dtype = torch_double(), requires_grad = TRUE)
  m <- x[1, , ]
  grad_fns <- c(
    permute = format(x$permute(3, 1, 2)$grad_fn), expand = format(m[, 1]$unsqueeze(2)$expand(-1, 5)$grad_fn),
    flatten = format(x$flatten()$grad_fn), max = format(m$max(dim = 2)[[1]]$grad_fn),
    min = format(m$min(dim = 1)[[1]]$grad_fn), max_all = format(m$max()$grad_fn),
    prod = format(m$prod()$grad_fn), prod_dim = format(m$prod(dim = 1)$grad_fn),
    var = format(m$var(dim = 1)$grad_fn), std = format(m$std()$grad_fn), norm = format(m$norm()$grad_fn),
    softmax = format(m$softmax(dim = 1)$grad_fn), log_softmax = format(m$log_softmax(dim = 1)$grad_fn),
    where = format(torch_where(m > 0, m, 0)$grad_fn), cumprod = format(cumprod(m)$grad_fn),
    nll = format(nnf_nll_loss(m, c(1, 2, 4))$grad_fn), l1 = format(nnf_l1_loss(m, 0)$grad_fn),
    linear = format(nnf_linear(m, m)$grad_fn)
  )
  # (the names PyTorch 2.15 prints for the same operations)
  expect_identical(unname(grad_fns), c(
    "PermuteBackward0", "ExpandBackward0", "ViewBackward0", "MaxBackward0", "MinBackward0", "MaxBackward1",
    "ProdBackward0", "ProdBackward1", "VarBackward0", "StdBackward0", "LinalgVectorNormBackward0",
    "SoftmaxBackward0", "LogSoftmaxBackward0", "WhereBackward0", "CumprodBackward0", "NllLossBackward0",
    "MeanBackward0", "MmBackward0"
  ))
  # $max(dim) is a list of values and 1-based long indices, as torch for R
  r <- torch_tensor(matrix(c(3, 1, 2, 5, 5, 0), 2), dtype = torch_double())$max(dim = 2)
  expect_length(r, 2L)
  expect_identical(as.numeric(r[[1]]), c(5, 5))
  expect_identical(r[[2]]$dtype$name, "long")
  expect_identical(as.integer(r[[2]]), c(3L, 2L))
  expect_snapshot({
    r
    torch_tensor(matrix(c(3, 1, 2, 5, 5, 0), 2))$argmin(dim = 2, keepdim = TRUE)
  })
  # without dim: the maximum of all values, as before
  expect_identical(as.numeric(x$max()), 1.2)
  expect_identical(as.numeric(max(x)), 1.2)
  expect_identical(x$argmax()$item(), 24L)
})

test_that("the values equal base R's on larger random tensors", {
  set.seed(7)
  a <- array(rnorm(60), c(3, 4, 5))
  x <- torch_tensor(a, dtype = torch_double())
  expect_equal(as_array(x$permute(3, 1, 2)), aperm(a, c(3, 1, 2)), tolerance = 0)
  expect_equal(as_array(x$max(dim = 2)[[1]]), apply(a, c(1, 3), max), tolerance = 0)
  expect_identical(as_array(x$argmin(dim = 3)), apply(a, c(1, 2), which.min))
  expect_equal(as_array(x$prod(dim = 1)), apply(a, c(2, 3), prod), tolerance = 1e-14)
  expect_equal(as_array(x$var(dim = 2)), apply(a, c(1, 3), var), tolerance = 1e-14)
  expect_equal(as_array(x$std(dim = 3, unbiased = FALSE)), apply(a, c(1, 2), function(v) sqrt(mean((v - mean(v))^2))), tolerance = 1e-14)
  expect_equal(x$norm(p = 3)$item(), sum(abs(a)^3)^(1 / 3), tolerance = 1e-14)
  expect_equal(as_array(x$norm(dim = 1)), apply(a, c(2, 3), function(v) sqrt(sum(v^2))), tolerance = 1e-14)
  expect_equal(as_array(x$flatten(2, 3)), matrix(aperm(a, c(1, 3, 2)), 3), tolerance = 0)
  # (x[i, j, k] of the expanded tensor is a[i, 1, k])
  expect_equal(as_array(x[, 1, ]$unsqueeze(2)$expand(-1, 6, -1)), aperm(array(a[, 1, ], c(3, 5, 6)), c(1, 3, 2)), tolerance = 0)
  expect_equal(as_array(torch_where(a > 0, x, -x)), abs(a), tolerance = 0)
  # a tensor as the condition (non-zero is TRUE), numbers on either side
  cnd <- torch_tensor(c(0, 2, 0, -1))
  expect_identical(as.numeric(torch_where(cnd, torch_tensor(c(1, 2, 3, 4)), 9)), c(9, 2, 9, 4))
  expect_identical(as.numeric(torch_where(cnd, 7, torch_tensor(c(1, 2, 3, 4)))), c(1, 7, 3, 7))
  expect_identical(torch_where(cnd, torch_tensor(1:4), 0L)$dtype$name, "long")
  # float tensors: results rounded to float32, as torch's
  f <- torch_tensor(a)
  expect_identical(f$prod(dim = 1)$dtype$name, "float")
  expect_equal(as_array(f$var(dim = 2)), apply(as_array(f), c(1, 3), var), tolerance = 1e-6)
})

test_that("nnf_nll_loss() of nnf_log_softmax() is nnf_cross_entropy(), with gradients", {
  set.seed(3)
  for (red in c("mean", "sum", "none")) {
    s1 <- torch_tensor(matrix(rnorm(20), 5), dtype = torch_double(), requires_grad = TRUE)
    s2 <- torch_tensor(as_array(s1), dtype = torch_double(), requires_grad = TRUE)
    y <- c(1, 4, 2, 2, 3)
    w <- c(0.5, 1, 2, 1.5)
    a <- nnf_nll_loss(nnf_log_softmax(s1, dim = 2), y, weight = w, reduction = red)
    b <- nnf_cross_entropy(s2, y, weight = w, reduction = red)
    expect_equal(as_array(a), as_array(b), tolerance = 1e-14)
    sum(a * seq_len(a$numel()))$backward()
    sum(b * seq_len(b$numel()))$backward()
    expect_equal(as_array(s1$grad), as_array(s2$grad), tolerance = 1e-14)
  }
})

test_that("loss targets that require gradients get torch's", {
  x <- torch_tensor(c(0.2, 0.7, 0.9), dtype = torch_double())
  t <- torch_tensor(c(0.1, 0.5, 1), dtype = torch_double(), requires_grad = TRUE)
  nnf_binary_cross_entropy_with_logits(x, t)$backward()
  # d/dt of max(z, 0) - z t + log(1 + exp(-|z|)), averaged
  expect_equal(as.numeric(t$grad), -as.numeric(x) / 3, tolerance = 1e-15)
  t$grad <- NULL
  nnf_binary_cross_entropy(x, t, reduction = "sum")$backward()
  expect_equal(as.numeric(t$grad), log(1 - as.numeric(x)) - log(as.numeric(x)), tolerance = 1e-15)
  # an n x 1 input with n targets, paired in order: the gradient reaches
  # the target of its own shape
  t$grad <- NULL
  nnf_binary_cross_entropy_with_logits(x$view(c(3, 1)), t, reduction = "sum")$backward()
  expect_equal(as.numeric(t$grad), -as.numeric(x), tolerance = 1e-15)
  expect_identical(t$grad$shape, 3L)
  # nnf_l1_loss(): both sides; a target of one value broadcasts
  p <- torch_tensor(c(1, -2, 3), dtype = torch_double(), requires_grad = TRUE)
  q <- torch_tensor(0.5, dtype = torch_double(), requires_grad = TRUE)
  nn_l1_loss(reduction = "sum")(p, q)$backward()
  expect_identical(as.numeric(p$grad), c(1, -1, 1))
  expect_identical(as.numeric(q$grad), -1)
})

test_that("cumprod() has torch's gradient, also through zeros", {
  v <- c(1.5, -2, 0, 0.5, 3, 0, 2)
  x <- torch_tensor(v, dtype = torch_double(), requires_grad = TRUE)
  w <- seq(0.3, 2.1, by = 0.3)
  sum(cumprod(x) * w)$backward()
  # d/dv_i sum_j w_j prod_{k <= j} v_k, by the definition
  want <- vapply(seq_along(v), function(i) sum(vapply(seq_along(v), function(j) if (j < i) 0 else w[[j]] * prod(v[setdiff(seq_len(j), i)]), 0)), 0)
  expect_equal(as.numeric(x$grad), want, tolerance = 1e-15)
  expect_identical(as.numeric(cumprod(x)), cumprod(v))
})

test_that("bad arguments are fwdprop_errors naming the argument and the shapes", {
  x <- torch_tensor(array(1:24, c(2, 3, 4)), dtype = torch_double(), requires_grad = TRUE)
  y <- torch_tensor(matrix(1:6, 2), dtype = torch_double())
  expect_error(x$permute(1, 2), "`\\.\\.\\.` of `\\$permute\\(\\)` must be an order of the 3 dimensions of this tensor of shape 2x3x4", class = "fwdprop_error")
  expect_error(x$permute(1, 1, 2), "each of 1 to 3 once.*not 1, 1, 2", class = "fwdprop_error")
  expect_error(y$expand(3, 3), "cannot expand a tensor of shape 2x3 to size \\[3, 3\\]: the size 2 of dimension 1 must be 3 or 1", class = "fwdprop_error")
  expect_error(y$expand(3), "shape 2x3 to size \\[3\\]: give at least 2 sizes", class = "fwdprop_error")
  expect_error(y$expand(-1, 2, 3), "\\[-1, 2, 3\\]: -1 keeps the size of an existing dimension", class = "fwdprop_error")
  expect_error(x$flatten(3, 1), "`start_dim` \\(3\\) must not come after `end_dim` \\(1\\).*shape 2x3x4", class = "fwdprop_error")
  expect_error(x$flatten(start_dim = 5), "`start_dim` must be one dimension of this tensor of shape 2x3x4 \\(1 to 3", class = "fwdprop_error")
  expect_error(x$max(dim = 4), "`dim` must be one dimension of this tensor of shape 2x3x4.*not 4", class = "fwdprop_error")
  expect_error(x$max(dim = 1, keepdim = NA), "`keepdim` must be TRUE or FALSE, not NA", class = "fwdprop_error")
  expect_error(x$argmin(dim = 0), "`dim` must be one dimension.*not 0", class = "fwdprop_error")
  expect_error(x$prod(dim = c(1, 2)), "`dim` must be one dimension.*length 2", class = "fwdprop_error")
  expect_error(x$var(correction = -1), "`correction` must be a number of at least 0.*not -1", class = "fwdprop_error")
  expect_error(x$std(unbiased = "yes"), "`unbiased` must be TRUE or FALSE", class = "fwdprop_error")
  expect_error(torch_tensor(1:3)$var(), "`\\$var\\(\\)` of a long \\(integer\\) tensor", class = "fwdprop_error")
  expect_error(x$norm(p = 0), "`p` must be a positive number", class = "fwdprop_error")
  expect_error(x$softmax(), "`dim` is required", class = "fwdprop_error")
  expect_error(x$log_softmax(dim = 4), "`dim` must be dimensions of the tensor \\(1 to 3", class = "fwdprop_error")
  expect_error(x$cumprod(dim = 5), "`dim` must be one dimension", class = "fwdprop_error")
  expect_error(torch_where(c(TRUE, NA), y, 0), "`condition` of `torch_where\\(\\)` must be a logical array.*without NA", class = "fwdprop_error")
  expect_error(torch_where(matrix(TRUE, 3, 3), y, 0), "cannot broadcast `condition` \\(3x3\\), `self` \\(2x3\\) and `other`", class = "fwdprop_error")
  expect_error(torch_where(y > 2, 1, 0), "at least one of `self` and `other`", class = "fwdprop_error")
  expect_error(torch_where(y > 2, y, "a"), "`other` of `torch_where\\(\\)` must be a tensor or numbers, not a character vector", class = "fwdprop_error")
  expect_error(nnf_linear(y, torch_tensor(matrix(1, 4, 2))), "`weight` \\(4x2\\) of `nnf_linear\\(\\)` must be out x in with in = the last size of `input` \\(2x3\\)", class = "fwdprop_error")
  expect_error(nnf_linear(y, y, torch_tensor(1:3)), "`bias` \\(3\\) of `nnf_linear\\(\\)` must have 2 values", class = "fwdprop_error")
  expect_error(nnf_linear(1:3, y), "`input` of `nnf_linear\\(\\)` must be a tensor", class = "fwdprop_error")
  expect_error(nnf_l1_loss(y, c(1, 2)), "`target` \\(shape 2\\) and `input` \\(2x3\\) of `nnf_l1_loss\\(\\)`", class = "fwdprop_error")
  expect_error(nnf_nll_loss(y, c(1, 4)), "`target` of `nnf_nll_loss\\(\\)` must be 2 class numbers, whole numbers from 1 to 3", class = "fwdprop_error")
  expect_error(nnf_nll_loss(x, 1), "`input` of `nnf_nll_loss\\(\\)` must be an n x C matrix, not shape 2x3x4", class = "fwdprop_error")
  expect_error(nnf_nll_loss(y, c(1, 2), weight = c(1, 2)), "`weight` of `nnf_nll_loss\\(\\)` must be 3 class weights", class = "fwdprop_error")
  expect_error(nn_nll_loss(reduction = "avg"), "`reduction` must be one of", class = "fwdprop_error")
  expect_identical(conditionCall(tryCatch(x$permute(1, 2), error = identity)), quote(x$permute(1, 2)))
})
