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
