# Every differentiable operation of the tensors against PyTorch's float64
# autograd and against central finite differences, on the seeded random
# shapes of fixtures/torch-autograd-ops.csv (made by
# torch-autograd-fixtures.py with PyTorch 2.15: the same operations, the
# same inputs, float.hex so the numbers round-trip exactly). Each case is
# sum(op(inputs) * W) for fixed random weights W of the output's shape, so
# every output value matters; its gradients with respect to every input
# that requires one are compared.

# The R side of each operation: a function of the input tensors (in the
# fixture's order) returning the output; a list of functions for cases
# whose gradients accumulate over several backward passes.
torch_ops <- list(
  add = function(a, b) a + b,
  sub = function(a, b) a - b,
  mul = function(a, b) a * b,
  div = function(a, b) a / b,
  pow = function(a, b) a^b,
  add_method = function(a, b) a$add(b),
  sub_method = function(a, b) a$sub(b),
  mul_method = function(a, b) a$mul(b),
  div_method = function(a, b) a$div(b),
  pow_method = function(a, b) a$pow(b),
  pow_method_num = function(a) a$pow(2),
  add_num = function(a) a + 0.75,
  rsub_num = function(a) 0.75 - a,
  mul_num = function(a) a * -1.25,
  div_num = function(a) a / 1.25,
  rdiv_num = function(a) 1.25 / a,
  pow_num = function(a) a^2.5,
  pow_int = function(a) a^3,
  pow_neg = function(a) a^-1.5,
  rpow_num = function(a) 1.7^a,
  neg = function(a) -a,
  exp = function(a) exp(a),
  log = function(a) log(a),
  sqrt = function(a) sqrt(a),
  sigmoid = function(a) sigmoid(a),
  tanh = function(a) tanh(a),
  relu = function(a) a$relu(),
  abs = function(a) abs(a),
  sin = function(a) sin(a),
  cos = function(a) cos(a),
  log1p = function(a) log1p(a),
  expm1 = function(a) expm1(a),
  log_base2 = function(a) log(a, 2),
  exp_method = function(a) a$exp(),
  log_method = function(a) a$log(),
  sqrt_method = function(a) a$sqrt(),
  abs_method = function(a) a$abs(),
  neg_method = function(a) a$neg(),
  nnf_sigmoid = function(a) nnf_sigmoid(a),
  nnf_tanh = function(a) nnf_tanh(a),
  nnf_relu = function(a) nnf_relu(a),
  log2_fn = function(a) log2(a),
  log10 = function(a) log10(a),
  tan = function(a) tan(a),
  sinh = function(a) sinh(a),
  cosh = function(a) cosh(a),
  asin = function(a) asin(a),
  acos = function(a) acos(a),
  atan = function(a) atan(a),
  asinh = function(a) asinh(a),
  acosh = function(a) acosh(a),
  atanh = function(a) atanh(a),
  lgamma = function(a) lgamma(a),
  digamma = function(a) digamma(a),
  tan_method = function(a) a$tan(),
  floor = function(a) floor(a),
  round = function(a) round(a),
  sign = function(a) sign(a),
  cumsum = function(a) cumsum(a),
  remainder = function(a, b) a %% b,
  remainder_num = function(a) a %% 0.7,
  clamp = function(a) a$clamp(-0.5, 0.7),
  clamp_min = function(a) a$clamp(min = -0.3),
  clamp_max = function(a) a$clamp(max = 0.4),
  sum_all = function(a) sum(a),
  mean_all = function(a) mean(a),
  sum_method = function(a) a$sum(),
  mean_method = function(a) a$mean(),
  max_all = function(a) max(a),
  min_all = function(a) min(a),
  max_method = function(a) a$max(),
  min_method = function(a) a$min(),
  sum_d1 = function(a) a$sum(dim = 1),
  sum_d2_keep = function(a) a$sum(dim = 2, keepdim = TRUE),
  sum_dneg1 = function(a) a$sum(dim = -1),
  sum_1d = function(a) a$sum(dim = 1),
  mean_1d_keep = function(a) a$mean(dim = -1, keepdim = TRUE),
  sum_d13 = function(a) a$sum(dim = c(1, 3)),
  mean_d1 = function(a) a$mean(dim = 1),
  mean_d2_keep = function(a) a$mean(dim = 2, keepdim = TRUE),
  mean_dneg1 = function(a) a$mean(dim = -1),
  mean_d13_keep = function(a) a$mean(dim = c(1, 3), keepdim = TRUE),
  mean_fn_d2 = function(a) mean(a, dim = 2),
  mm = function(a, b) a$mm(b),
  matmul_mm = function(a, b) a$matmul(b),
  matmul_dot = function(a, b) a$matmul(b),
  matmul_mv = function(a, b) a$matmul(b),
  matmul_vm = function(a, b) a$matmul(b),
  linear_bias = function(x, w, b) tensor_linear(x, w, b),
  linear_nobias = function(x, w) tensor_linear(x, w),
  t = function(a) a$t(),
  t_fn = function(a) t(a),
  transpose12 = function(a) a$transpose(1, 2),
  transpose13 = function(a) a$transpose(1, 3),
  transpose_neg = function(a) a$transpose(-1, -2),
  view_flat = function(a) a$view(-1),
  view_last = function(a) a$view(-1, a$shape[[length(a$shape)]]),
  reshape_rev = function(a) a$reshape(rev(a$shape)),
  squeeze = function(a) a$squeeze(),
  squeeze_d2 = function(a) a$squeeze(2),
  unsqueeze1 = function(a) a$unsqueeze(1),
  unsqueeze_neg = function(a) a$unsqueeze(-1),
  clone = function(a) a$clone(),
  idx_rows_dup = function(a) a[c(2, 1, 2), ],
  idx_cols = function(a) a[, c(2, 1)],
  idx_elem = function(a) a[2, 1],
  idx_vec_dup = function(a) a[c(1, 3, 3)],
  idx_neg_row = function(a) a[-1, ],
  idx_3d = function(a) a[2, , c(1, 2)],
  idx_block = function(a) a[c(1, 2), c(2, 3)],
  cat_d1 = function(a, b) tensor_cat(list(a, b), 1),
  cat_d2 = function(a, b, c) tensor_cat(list(a, b, c), 2),
  cat_neg = function(a, b) tensor_cat(list(a, b), -1),
  cat_fn = function(a, b) torch_cat(c(a, b), 1),
  cat_const = function(a, b) torch_cat(list(a, b), 2),
  stack_d1 = function(a, b, c) torch_stack(list(a, b, c), 1),
  stack_d2 = function(a, b) torch_stack(list(a, b), 2),
  stack_neg = function(a, b) torch_stack(list(a, b), -1),
  softmax_d1 = function(a) nnf_softmax(a, dim = 1),
  softmax_d2 = function(a) nnf_softmax(a, dim = 2),
  softmax_neg = function(a) nnf_softmax(a, dim = -1),
  log_softmax_d1 = function(a) nnf_log_softmax(a, dim = 1),
  log_softmax_d2 = function(a) nnf_log_softmax(a, dim = 2),
  log_softmax_neg = function(a) nnf_log_softmax(a, dim = -1),
  mse_mean = function(a, b) nnf_mse_loss(a, b),
  mse_sum = function(a, b) nnf_mse_loss(a, b, reduction = "sum"),
  mse_none = function(a, b) nnf_mse_loss(a, b, reduction = "none"),
  bce_mean = function(a, b) nnf_binary_cross_entropy(a, b),
  bce_sum = function(a, b) nnf_binary_cross_entropy(a, b, reduction = "sum"),
  bce_none = function(a, b) nnf_binary_cross_entropy(a, b, reduction = "none"),
  bce_logits_mean = function(a, b) nnf_binary_cross_entropy_with_logits(a, b),
  bce_logits_sum = function(a, b) nnf_binary_cross_entropy_with_logits(a, b, reduction = "sum"),
  bce_logits_none = function(a, b) nnf_binary_cross_entropy_with_logits(a, b, reduction = "none"),
  ce_mean = function(a, b) nnf_cross_entropy(a, b),
  ce_sum = function(a, b) nnf_cross_entropy(a, b, reduction = "sum"),
  ce_none = function(a, b) nnf_cross_entropy(a, b, reduction = "none"),
  bce_weight = function(a, b, w) nnf_binary_cross_entropy(a, b, weight = w),
  bce_logits_weight = function(a, b, w) nnf_binary_cross_entropy_with_logits(a, b, weight = w, reduction = "sum"),
  ce_weight = function(a, b, w) nnf_cross_entropy(a, b, weight = w),
  # torch's rules where the derivative has a kink or a 0^0
  edge_max_ties = function(a) max(a),
  edge_min_ties = function(a) a$min(),
  edge_pow_zero = function(a, b) a^b,
  edge_pow_zero_exponent = function(a) a^0,
  edge_rpow_zero = function(a) 0^a,
  edge_clamp_bounds = function(a) a$clamp(-0.5, 0.75),
  edge_clamp_min_bound = function(a) a$clamp(min = -0.5),
  edge_relu_abs_zero = function(a) a$relu() + abs(a)
)
# PyTorch's polygamma(1, x), the derivative of digamma(), is off by up to
# 4e-10 relative (mpmath: R's trigamma() is exact to 1e-16 at 0.6, 1.3,
# 2.2, where torch's is 3.6362096722 for 3.6362096709): a wider tolerance
# against PyTorch there (finite differences still check it to 1e-6)
torch_tolerance <- c(digamma = 1e-9)

# (at a kink, central differences give the mean of the two one-sided
# slopes, not torch's rule: no finite-difference check there)
at_kink <- c("edge_max_ties", "edge_min_ties", "edge_clamp_bounds", "edge_clamp_min_bound", "edge_relu_abs_zero")

# the chains of 10 or more operations, written as in the fixture script
chain_elementwise <- function(a, b, c, d) {
  z <- sigmoid(a * b - c)
  z <- log(1 + exp(z * d))
  z <- z / (c + z^2)
  z <- sqrt(abs(z) + 0.5)
  sum((tanh(z) - mean(z))$pow(2))
}
chain_products <- function(a, b, c) {
  p <- a$mm(b)
  q <- torch_cat(list(p, tanh(p)), 2)
  s <- q$t()$mm(c$t())
  u <- s[c(1, 2, 2), ]
  v <- nnf_log_softmax(u, dim = -1)
  w <- torch_stack(list(v, v$exp()), 1)$sum(dim = 1)
  sum(mean(w$clamp(-3, 3)^2, dim = 2))
}
chain_network <- function(x, w1, b1, w2, b2, y, t) {
  h <- nnf_relu(tanh(tensor_linear(x, w1, b1)) + 0.2)
  o <- h$matmul(w2$t()) + b2
  l1 <- nnf_cross_entropy(o, y)
  l2 <- nnf_binary_cross_entropy_with_logits(o, t)
  l3 <- nnf_mse_loss(sigmoid(o), t, reduction = "sum")
  l4 <- nnf_binary_cross_entropy(nnf_softmax(o, 2), t)
  l1 + 0.5 * l2 + 0.1 * l3 + l4 * 0.25 + sum(w1^2) * 0.01
}
chain_3d <- function(a, b, c) {
  z <- a / b + c
  z <- z$transpose(1, 3)
  z <- sin(z) * cos(z * 0.5)
  z <- z$sum(dim = 3, keepdim = TRUE)$squeeze(3)
  z <- expm1(z * 0.3) + log1p(abs(z))
  z <- z$unsqueeze(1)$mean(dim = c(1, 2))
  sum(z * max(z)) - min(z) + z$view(-1, 1)[1, 1]
}
torch_ops$chain_elementwise <- chain_elementwise
torch_ops$chain_products <- chain_products
torch_ops$chain_network <- chain_network
torch_ops$chain_3d <- chain_3d
torch_ops$accumulate_two_graphs <- list(chain_elementwise, function(a, b, c, d) sum(a * b * d) + sum(log(c)))
torch_ops$accumulate_retain_graph <- "retain"

torch_ops_fixture <- function() {
  fx <- utils::read.csv(test_path("fixtures", "torch-autograd-ops.csv"), stringsAsFactors = FALSE,
    colClasses = c(shape = "character", values = "character", grad = "character", value = "character"))
  fx
}

# "0x1.8p+1 -0x1p-2" -> c(3, -0.25), exactly
hex_nums <- function(s) if (is.na(s) || !nzchar(s)) numeric(0) else as.numeric(strsplit(s, " ", fixed = TRUE)[[1L]])
shape_nums <- function(s) if (is.na(s) || !nzchar(s)) integer(0) else as.integer(strsplit(s, " ", fixed = TRUE)[[1L]])

# A float64 tensor of `shape` from row-major values (0 dimensions: the
# 0-dimensional sum of a one-value tensor, made a leaf again).
rowmajor_tensor <- function(v, shape, requires_grad) {
  if (!length(shape)) {
    x <- torch_tensor(v, dtype = torch_double())$sum()$detach()
    return(if (requires_grad) x$requires_grad_() else x)
  }
  data <- if (length(shape) == 1L) v else aperm(array(v, rev(shape)))
  torch_tensor(data, dtype = torch_double(), requires_grad = requires_grad)
}

# row-major values of a tensor, as the fixture stores them
rowmajor <- function(x) {
  a <- as_array(x)
  if (is.null(dim(a)) || length(dim(a)) <= 1L) as.vector(a) else as.vector(aperm(a))
}

# The scalar of a case: sum(out * W), W the weights of the output's shape.
weighted <- function(out, w) sum(out * w)

run_case <- function(f, leaves, w) {
  if (identical(f, "retain")) {
    y <- weighted(chain_products(leaves[[1]], leaves[[2]], leaves[[3]]), w)
    y$backward(retain_graph = TRUE)
    y$backward()
    return(y)
  }
  fs <- if (is.function(f)) list(f) else f
  out <- do.call(fs[[1L]], leaves)
  y <- weighted(out, w)
  y$backward()
  for (g in fs[-1L]) {
    weighted(do.call(g, leaves), w)$backward()
  }
  attr(y, "out_shape") <- out$shape
  y
}

# Central finite differences (step 1e-6) of the sum over the passes of
# sum(f(inputs) * W), in float64, for input `k`.
fd_gradient <- function(f, values, shapes, req, w, k, h = 1e-6) {
  fs <- if (identical(f, "retain")) list(chain_products, chain_products) else if (is.function(f)) list(f) else f
  total <- function(vals) {
    xs <- lapply(seq_along(vals), function(i) rowmajor_tensor(vals[[i]], shapes[[i]], FALSE))
    sum(vapply(fs, function(g) as.numeric(weighted(do.call(g, xs), w)), numeric(1L)))
  }
  v <- values[[k]]
  vapply(seq_along(v), function(i) {
    up <- values
    down <- values
    up[[k]][[i]] <- v[[i]] + h
    down[[k]][[i]] <- v[[i]] - h
    (total(up) - total(down)) / (2 * h)
  }, numeric(1L))
}

# Runs one case (the fixture's rows of one `case`): its problems (a
# character vector, empty when every check passes) and its worst relative
# errors against PyTorch and against finite differences (NA: not checked).
check_case <- function(rows, with_fd) {
  name <- rows$case[[1L]]
  op <- rows$op[[1L]]
  f <- torch_ops[[op]]
  rows <- rows[order(rows$input), ]
  w_row <- rows[rows$input == 0L, ]
  rows <- rows[rows$input > 0L, ]
  shapes <- lapply(rows$shape, shape_nums)
  values <- lapply(rows$values, hex_nums)
  req <- as.logical(rows$requires_grad)
  w <- rowmajor_tensor(hex_nums(w_row$values), shape_nums(w_row$shape), FALSE)
  leaves <- lapply(seq_along(values), function(i) rowmajor_tensor(values[[i]], shapes[[i]], req[[i]]))
  problems <- character()
  problem <- function(...) problems <<- c(problems, paste0(name, ": ", sprintf(...)))
  y <- run_case(f, leaves, w)
  # the forward value and the output's shape are torch's
  want_value <- hex_nums(rows$value[[1L]])
  if (!(abs(y$item() - want_value) / max(1, abs(want_value)) <= 1e-12)) {
    problem("value %.17g, PyTorch's %.17g", y$item(), want_value)
  }
  if (!is.null(attr(y, "out_shape")) && !identical(attr(y, "out_shape"), shape_nums(w_row$shape))) {
    problem("output shape %s, PyTorch's %s", paste(attr(y, "out_shape"), collapse = "x"), w_row$shape)
  }
  tol <- if (op %in% names(torch_tolerance)) torch_tolerance[[op]] else 1e-10
  err_torch <- 0
  err_fd <- if (with_fd && !(op %in% at_kink)) 0 else NA
  for (i in which(req)) {
    want <- hex_nums(rows$grad[[i]])
    g <- leaves[[i]]$grad
    if (is.null(g) || !identical(g$shape, shapes[[i]])) {
      problem("input %d: no gradient, or not of the input's shape", i)
      next
    }
    got <- rowmajor(g)
    rel <- if (all(want == 0)) max(abs(got)) else max(abs(got - want)) / max(abs(want))
    if (!(rel <= tol)) {
      problem("input %d: relative error against PyTorch %.3g", i, rel)
    }
    err_torch <- max(err_torch, rel)
    if (!is.na(err_fd)) {
      fd <- fd_gradient(f, values, shapes, req, w, i)
      rel_fd <- max(abs(got - fd) / pmax(1, abs(fd)))
      if (!(rel_fd <= 1e-6)) {
        problem("input %d: relative error against finite differences %.3g", i, rel_fd)
      }
      err_fd <- max(err_fd, rel_fd)
    }
  }
  shape_text <- vapply(shapes, function(s) if (length(s)) paste(s, collapse = "x") else "()", "")
  list(problems = problems, row = data.frame(
    case = name, op = op, shapes = paste(shape_text, collapse = ", "), torch = err_torch, fd = err_fd
  ))
}

test_that("every differentiable operation's gradient equals PyTorch's float64 autograd and finite differences", {
  fx <- torch_ops_fixture()
  expect_setequal(unique(fx$op), names(torch_ops))
  cases <- split(fx, factor(fx$case, levels = unique(fx$case)))
  # (the finite differences take most of the time: not on CRAN)
  with_fd <- identical(Sys.getenv("NOT_CRAN"), "true")
  results <- lapply(cases, check_case, with_fd = with_fd)
  # every check of every case, reported together (one expectation: each
  # expectation costs testthat a millisecond)
  expect_identical(unname(unlist(lapply(results, `[[`, "problems"))), character())
  table <- do.call(rbind, lapply(results, `[[`, "row"))
  # what was covered: random shapes, broadcasting, chains, accumulation
  expect_gte(length(unique(table$op)), 150)
  expect_gte(nrow(table), 400)
  expect_gte(sum(grepl("^chain_", table$op)), 7)
  expect_lte(max(table$torch[!table$op %in% names(torch_tolerance)]), 1e-10)
  if (with_fd) {
    expect_lte(max(table$fd, na.rm = TRUE), 1e-6)
    expect_identical(sort(unique(table$op[is.na(table$fd)])), sort(at_kink))
  }
  # (the table of the report: Sys.setenv(FWDPROP_GRAD_TABLE = "file.csv"))
  out <- Sys.getenv("FWDPROP_GRAD_TABLE")
  if (nzchar(out)) {
    utils::write.csv(table, out, row.names = FALSE)
  }
})

test_that("autograd's errors are torch's, as fwdprop_errors that name the fix", {
  x <- torch_tensor(c(1, 2, 3), dtype = torch_double())
  w <- torch_tensor(c(0.5, -1, 2), dtype = torch_double(), requires_grad = TRUE)
  # backward() of a non-scalar without `gradient` (torch: "grad can be
  # implicitly created only for scalar outputs")
  y <- w * x
  expect_error(y$backward(), "^grad can be implicitly created only for scalar outputs.*pass `gradient`", class = "fwdprop_error")
  # on a tensor without a graph (torch: "element 0 of tensors does not
  # require grad and does not have a grad_fn")
  expect_error(x$backward(), "does not require gradients and has no `grad_fn`.*requires_grad = TRUE", class = "fwdprop_error")
  # a second backward() through a freed graph; retain_graph keeps it
  s <- sum(w^2)
  s$backward()
  expect_error(s$backward(), "^Trying to backward through the graph a second time.*retain_graph = TRUE", class = "fwdprop_error")
  # in-place changes of a leaf that requires grad (torch: "a leaf Variable
  # that requires grad is being used in an in-place operation"), by every
  # in-place method, and of a recorded result
  leaf_msg <- "^a leaf tensor that requires grad is being used in an in-place operation.*with_no_grad"
  expect_error(w$sub_(1), leaf_msg, class = "fwdprop_error")
  expect_error(w$add_(1), leaf_msg, class = "fwdprop_error")
  expect_error(w$mul_(2), leaf_msg, class = "fwdprop_error")
  expect_error(w$div_(2), leaf_msg, class = "fwdprop_error")
  expect_error(w$copy_(c(1, 2, 3)), leaf_msg, class = "fwdprop_error")
  expect_error(w$fill_(0), leaf_msg, class = "fwdprop_error")
  expect_error(w$zero_(), leaf_msg, class = "fwdprop_error")
  expect_error(w$uniform_(), leaf_msg, class = "fwdprop_error")
  expect_error(w$normal_(), leaf_msg, class = "fwdprop_error")
  expect_error(w[1] <- 5, leaf_msg, class = "fwdprop_error")
  expect_identical(as.numeric(w), c(0.5, -1, 2))
  expect_error(y$sub_(1), "on the result of a recorded operation is not supported.*\\$detach\\(\\)", class = "fwdprop_error")
  # $grad of a tensor that does not require it, or of a result: NULL
  expect_null(x$grad)
  expect_null(y$grad)
  expect_equal(as.numeric(w$grad), 2 * c(0.5, -1, 2))
  # $mm() with mismatched shapes (torch: "mat1 and mat2 shapes cannot be
  # multiplied (3x2 and 3x2)"), $matmul() too
  A <- torch_tensor(matrix(1:6, 3), dtype = torch_double(), requires_grad = TRUE)
  expect_error(A$mm(A), "cannot multiply `A` \\(3x2\\) by `A` \\(3x2\\): `A` has 2 columns but `A` has 3 rows", class = "fwdprop_error")
  expect_error(A$matmul(x), "cannot multiply `A` \\(3x2\\) by `x` \\(3\\) with `\\$matmul\\(\\)`", class = "fwdprop_error")
  expect_error(x$matmul(A$t()), "cannot multiply `x` \\(3\\) by `A\\$t\\(\\)` \\(2x3\\)", class = "fwdprop_error")
  expect_error(x$matmul(w[1:2]), "the lengths differ", class = "fwdprop_error")
  # a dtype mismatch (torch: "expected m1 and m2 to have the same dtype")
  f <- torch_tensor(matrix(1, 2, 2))
  expect_error(A$mm(f), "`\\$mm\\(\\)` needs tensors of one dtype.*Double.*Float.*\\$to\\(dtype = torch_double\\(\\)\\)", class = "fwdprop_error")
  expect_error(A$matmul(f), "`\\$matmul\\(\\)` needs tensors of one dtype", class = "fwdprop_error")
  expect_error(x$matmul(torch_tensor(c(1, 2, 3))), "`\\$matmul\\(\\)` needs tensors of one dtype", class = "fwdprop_error")
  # (arithmetic promotes, as torch: float with double is double)
  expect_identical((torch_ones(3) + x)$dtype$name, "double")
  # optim_sgd() given something other than parameters
  expect_error(optim_sgd(w * 2, lr = 0.1), "`params\\[\\[1\\]\\]` must be a leaf tensor that requires gradients.*result of an operation", class = "fwdprop_error")
  expect_error(optim_sgd(list(x), lr = 0.1), "does not require gradients", class = "fwdprop_error")
  expect_error(optim_sgd(list(w, "b"), lr = 0.1), "`params\\[\\[2\\]\\]` must be a tensor \\(a parameter\\)", class = "fwdprop_error")
  expect_error(optim_sgd(NULL, lr = 0.1), "`params` of `optim_sgd\\(\\)` must be a list of parameters", class = "fwdprop_error")
  # a function without a gradient is an error, not a silent zero
  expect_error(cummax(w), "`cummax\\(\\)` of a tensor that requires gradients has no gradient", class = "fwdprop_error")
  expect_error(w %/% 2, "`%/%` has no gradient", class = "fwdprop_error")
  expect_identical(conditionCall(tryCatch(cummax(w), error = identity)), quote(cummax(w)))
  expect_identical(as.numeric(with_no_grad(cummax(w))), cummax(c(0.5, -1, 2)))
  expect_snapshot(error = TRUE, {
    y$backward()
    s$backward()
    w[1] <- 5
    A$matmul(x)
    A$matmul(f)
    cummax(w)
  })
})
