# More torch operations on the tensors of R/tensor.R, with torch's
# gradients: $permute(), $expand(), $flatten(); $max(dim) / $min(dim)
# (values and indices), $argmax(), $argmin(); $prod(), $var(), $std(),
# $norm(); $softmax(), $log_softmax(); cumprod(); torch_where(). They use
# the internal API described at the top of R/autograd.R. The `$` methods
# are registered in tensor_members by tensor_ops_members().

# Registers the methods of this file in `m` (the tensor_members
# environment of R/tensor.R).
tensor_ops_members <- function(m) {
  m$permute <- function(self, expr) function(...) tensor_permute(self, unlist(list(...)), sys.call())
  m$expand <- function(self, expr) function(...) tensor_expand(self, unlist(list(...)), sys.call())
  m$flatten <- function(self, expr) {
    function(start_dim = 1L, end_dim = -1L) tensor_flatten(self, start_dim, end_dim, sys.call())
  }
  m$max <- function(self, expr) {
    function(dim = NULL, keepdim = FALSE) tensor_extreme_dim(self, "max", dim, keepdim, sys.call())
  }
  m$min <- function(self, expr) {
    function(dim = NULL, keepdim = FALSE) tensor_extreme_dim(self, "min", dim, keepdim, sys.call())
  }
  m$argmax <- function(self, expr) {
    function(dim = NULL, keepdim = FALSE) tensor_argextreme(self, "max", dim, keepdim, sys.call())
  }
  m$argmin <- function(self, expr) {
    function(dim = NULL, keepdim = FALSE) tensor_argextreme(self, "min", dim, keepdim, sys.call())
  }
  m$prod <- function(self, expr) function(dim = NULL, keepdim = FALSE) tensor_prod(self, dim, keepdim, sys.call())
  m$var <- function(self, expr) {
    function(dim = NULL, unbiased = TRUE, keepdim = FALSE, correction = NULL) {
      tensor_var(self, dim, unbiased, keepdim, correction, FALSE, sys.call())
    }
  }
  m$std <- function(self, expr) {
    function(dim = NULL, unbiased = TRUE, keepdim = FALSE, correction = NULL) {
      tensor_var(self, dim, unbiased, keepdim, correction, TRUE, sys.call())
    }
  }
  m$norm <- function(self, expr) function(p = 2, dim = NULL, keepdim = FALSE) tensor_norm(self, p, dim, keepdim, sys.call())
  m$softmax <- function(self, expr) {
    function(dim) softmax_op(self, if (!missing(dim)) dim, log = FALSE, call = sys.call())
  }
  m$log_softmax <- function(self, expr) {
    function(dim) softmax_op(self, if (!missing(dim)) dim, log = TRUE, call = sys.call())
  }
  m$cumprod <- function(self, expr) function(dim) tensor_cumprod_dim(self, dim, sys.call())
  invisible(m)
}

# (log-)softmax along `dim`: x - max, then exp / sum or minus log-sum-exp
# (nnf_softmax(), nnf_log_softmax() and the methods).
softmax_op <- function(x, dim, log, call) {
  shape <- .subset2(x, "shape")
  if (!length(shape)) {
    shape <- 1L
  }
  if (is.null(dim)) {
    fwdprop_error("`dim` is required: the dimension along which the values sum to 1 (e.g. `dim = 2` for the rows of a matrix, as in torch).", call = call)
  }
  d <- reduce_dims(dim, shape, call)
  if (length(d) != 1L) {
    fwdprop_error(sprintf("`dim` must be one dimension, not %s.", describe_value(dim)), call = call)
  }
  dtype <- .subset2(x, "dtype")
  if (dtype == "long") dtype <- "float"
  # move `d` last: rows of the resulting matrix are the slices
  nd <- length(shape)
  perm <- c(setdiff(seq_len(nd), d), d)
  arr <- array(.subset2(x, "data"), rev(shape))
  rp <- rev(nd + 1L - perm)
  m <- matrix(aperm(arr, rp), nrow = shape[[d]])
  mx <- apply(m, 2L, max)
  z <- sweep(m, 2L, mx)
  lse <- log(colSums(exp(z)))
  res <- if (log) sweep(z, 2L, lse) else exp(sweep(z, 2L, lse))
  back_perm <- function(mm) as.vector(aperm(array(mm, rev(shape[perm])), order(rp)))
  out <- round_dtype(back_perm(res), dtype)
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, .subset2(x, "shape"), dtype))
  }
  soft <- if (log) exp(res) else res
  op_result(out, .subset2(x, "shape"), dtype, if (log) "LogSoftmaxBackward0" else "SoftmaxBackward0", list(x), function(g) {
    gm <- matrix(aperm(array(g, rev(shape)), rp), nrow = shape[[d]])
    gi <- if (log) gm - sweep(soft, 2L, colSums(gm), `*`) else soft * sweep(gm, 2L, colSums(gm * soft))
    list(round_dtype(back_perm(gi), dtype))
  })
}

# Row-major data of a permuted tensor: `v` of shape `s`, dimensions in the
# order `p` (the result has shape s[p]).
permute_data <- function(v, s, p) {
  nd <- length(s)
  if (nd < 2L || all(p == seq_len(nd))) {
    return(v)
  }
  as.vector(aperm(array(v, rev(s)), rev(nd + 1L - p)))
}

# `x$permute(...)`: the dimensions in a new order (1-based, negative
# counting from the end), as torch's permute().
tensor_permute <- function(x, dims, call) {
  shape <- .subset2(x, "shape")
  nd <- length(shape)
  ok <- is.numeric(dims) && length(dims) == nd && !anyNA(dims) && all(dims == round(dims)) &&
    all(dims != 0 & abs(dims) <= nd)
  p <- if (ok) as.integer(ifelse(dims < 0, nd + 1 + dims, dims)) else integer(0)
  if (!ok || anyDuplicated(p)) {
    fwdprop_error(sprintf(
      "`...` of `$permute()` must be an order of the %d dimensions of this tensor of shape %s (each of 1 to %d once, e.g. `%s`), not %s.",
      nd, shape_label(shape), nd, paste(rev(seq_len(nd)), collapse = ", "), paste(format(dims), collapse = ", ")
    ), call = call)
  }
  out <- permute_data(.subset2(x, "data"), shape, p)
  new_shape <- shape[p]
  dtype <- .subset2(x, "dtype")
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, new_shape, dtype))
  }
  inv <- order(p)
  op_result(out, new_shape, dtype, "PermuteBackward0", list(x), function(g) list(permute_data(g, new_shape, inv)))
}

# `x$expand(...)`: the tensor repeated along dimensions of size 1 (and new
# leading dimensions) to the given sizes; -1 keeps a size.
tensor_expand <- function(x, sizes, call) {
  shape <- .subset2(x, "shape")
  nd <- length(shape)
  k <- length(sizes)
  bad <- function(why) {
    fwdprop_error(sprintf(
      "cannot expand a tensor of shape %s to size [%s]: %s.",
      shape_label(shape), paste(sizes, collapse = ", "), why
    ), call = call)
  }
  if (!is.numeric(sizes) || !k || anyNA(sizes) || any(sizes != round(sizes)) || any(sizes < -1)) {
    bad("the sizes must be whole numbers of at least 0, or -1 to keep a size")
  }
  if (k < nd) {
    bad(sprintf("give at least %d sizes, one per dimension", nd))
  }
  pad <- c(rep.int(1L, k - nd), shape)
  new <- as.integer(sizes)
  lead <- seq_len(k - nd)
  if (any(new[lead] == -1L)) {
    bad("-1 keeps the size of an existing dimension, not of a new leading one")
  }
  keep <- new == -1L
  new[keep] <- pad[keep]
  if (any(pad != new & pad != 1L)) {
    j <- which(pad != new & pad != 1L)[[1L]]
    bad(sprintf("the size %d of dimension %d must be %d or 1 (only sizes 1 expand)", pad[[j]], j - (k - nd), new[[j]]))
  }
  d <- .subset2(x, "data")
  out <- rep_len(expand_data(d, pad, new), prod(new))
  dtype <- .subset2(x, "dtype")
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, new, dtype))
  }
  op_result(out, new, dtype, "ExpandBackward0", list(x), function(g) {
    list(round_dtype(as.double(reduce_grad(g, new, pad, dtype)), dtype))
  })
}

# `x$flatten(start_dim, end_dim)`: dimensions start_dim to end_dim as one.
tensor_flatten <- function(x, start_dim, end_dim, call) {
  shape <- .subset2(x, "shape")
  if (!length(shape)) {
    return(tensor_view(x, 1L, call = call))
  }
  s <- reduce_dims_one(start_dim, shape, "start_dim", call)
  e <- reduce_dims_one(end_dim, shape, "end_dim", call)
  if (s > e) {
    fwdprop_error(sprintf(
      "`start_dim` (%d) must not come after `end_dim` (%d) in `$flatten()` of a tensor of shape %s.",
      s, e, shape_label(shape)
    ), call = call)
  }
  if (s == e) {
    return(x)
  }
  new_shape <- c(shape[seq_len(s - 1L)], prod(shape[s:e]), shape[seq_along(shape) > e])
  tensor_view(x, new_shape, call = call)
}

# One dimension (1-based, negative from the end) as a position in `shape`.
reduce_dims_one <- function(dim, shape, arg, call) {
  nd <- max(length(shape), 1L)
  if (!is.numeric(dim) || length(dim) != 1L || is.na(dim) || dim != round(dim) || dim == 0 || abs(dim) > nd) {
    fwdprop_error(sprintf(
      "`%s` must be one dimension of this tensor of shape %s (1 to %d, or -1 to -%d counting from the end), not %s.",
      arg, shape_label(shape), nd, nd, describe_value(dim)
    ), call = call)
  }
  as.integer(if (dim < 0) nd + 1 + dim else dim)
}

# The values of `x` as a matrix whose columns are the slices along
# dimension `k` (the columns in the row-major order of the other
# dimensions), and the inverse: back(m) is row-major data of x's shape.
slice_matrix <- function(d, shape, k) {
  nd <- length(shape)
  perm <- c(setdiff(seq_len(nd), k), k)
  rp <- rev(nd + 1L - perm)
  m <- matrix(aperm(array(d, rev(shape)), rp), nrow = shape[[k]])
  list(m = m, back = function(mm) as.vector(aperm(array(mm, rev(shape[perm])), order(rp))))
}

# Shape of a reduction over dimension `k`.
reduced_shape <- function(shape, k, keepdim) {
  if (keepdim) {
    shape[[k]] <- 1L
    shape
  } else {
    shape[-k]
  }
}

# The reduction of `x`'s data `d` along `dim`, or over all values when
# `dim` is NULL: the values as a matrix with one column per result value,
# the inverse `back` (a matrix of that shape to row-major data of x's
# shape), and the result's shape (`all_shape` when reducing all values).
reduction_slices <- function(x, d, dim, keepdim, all_shape, call) {
  if (is.null(dim)) {
    return(list(m = matrix(d, ncol = 1L), back = as.vector, out_shape = all_shape))
  }
  shape <- .subset2(x, "shape")
  if (!length(shape)) {
    shape <- 1L
  }
  k <- reduce_dims_one(dim, shape, "dim", call)
  sm <- slice_matrix(d, shape, k)
  sm$out_shape <- if (length(.subset2(x, "shape"))) reduced_shape(shape, k, keepdim) else integer(0)
  sm
}

# `x$max(dim)` / `x$min(dim)`: a list of the values and their (1-based,
# long) indices along `dim`, as torch for R; without `dim`, the maximum of
# all values (as max()). The gradient goes to the value at the index (the
# first one among ties, as torch's CPU kernel chooses it).
tensor_extreme_dim <- function(x, how, dim, keepdim, call) {
  if (is.null(dim)) {
    return(tensor_extreme(x, how))
  }
  check_flag(keepdim, "keepdim", call = call)
  shape <- .subset2(x, "shape")
  if (!length(shape)) {
    shape <- 1L
  }
  k <- reduce_dims_one(dim, shape, "dim", call)
  if (shape[[k]] == 0L) {
    fwdprop_error(sprintf("`$%s(dim = %d)` of a tensor of shape %s: dimension %d is empty.", how, k, shape_label(shape), k), call = call)
  }
  sm <- slice_matrix(.subset2(x, "data"), shape, k)
  idx <- apply(sm$m, 2L, if (how == "max") which.max else which.min)
  # a slice that is all NaN: torch returns the NaN
  if (is.list(idx)) {
    idx <- vapply(idx, function(i) if (length(i)) i else 1L, integer(1L))
  }
  idx <- as.integer(idx)
  nan <- apply(sm$m, 2L, function(v) which(is.na(v))[1L])
  idx[!is.na(nan)] <- nan[!is.na(nan)]
  rows <- shape[[k]]
  pos <- (seq_along(idx) - 1L) * rows + idx
  vals <- sm$m[pos]
  out_shape <- if (length(.subset2(x, "shape"))) reduced_shape(shape, k, keepdim) else integer(0)
  dtype <- .subset2(x, "dtype")
  indices <- new_tensor_obj(as.double(idx), out_shape, "long")
  values <- if (!grad_needed(x)) {
    new_tensor_obj(vals, out_shape, dtype)
  } else {
    n <- length(sm$m)
    op_result(vals, out_shape, dtype, if (how == "max") "MaxBackward0" else "MinBackward0", list(x), function(g) {
      v <- numeric(n)
      v[pos] <- g
      list(sm$back(v))
    })
  }
  list(values, indices)
}

# `x$argmax(dim)` / `x$argmin(dim)`: the 1-based indices (long) of the
# extremes along `dim`, or of all values in row-major order.
tensor_argextreme <- function(x, how, dim, keepdim, call) {
  if (is.null(dim)) {
    d <- .subset2(x, "data")
    i <- if (anyNA(d)) which(is.na(d))[[1L]] else if (how == "max") which.max(d) else which.min(d)
    shape <- if (keepdim) rep.int(1L, length(.subset2(x, "shape"))) else integer(0)
    return(new_tensor_obj(as.double(i), shape, "long"))
  }
  with_no_grad(tensor_extreme_dim(x, how, dim, keepdim, call))[[2L]]
}

# The products of the values of each column of `m` without one of them
# (prod_{k != i} m[k, j]), exactly where values are 0, as torch's rule.
prod_without <- function(m) {
  apply(m, 2L, function(v) {
    zero <- which(v == 0)
    if (!length(zero)) {
      return(prod(v) / v)
    }
    out <- numeric(length(v))
    if (length(zero) == 1L) {
      out[zero] <- prod(v[-zero])
    }
    out
  })
}

# `x$prod()` (all values) or `x$prod(dim)`.
tensor_prod <- function(x, dim, keepdim, call) {
  check_flag(keepdim, "keepdim", call = call)
  d <- .subset2(x, "data")
  dtype <- .subset2(x, "dtype")
  sl <- reduction_slices(x, d, dim, keepdim, integer(0), call)
  m <- sl$m
  back <- sl$back
  out_shape <- sl$out_shape
  name <- if (is.null(dim)) "ProdBackward0" else "ProdBackward1"
  out <- round_dtype(apply(m, 2L, prod), dtype)
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, out_shape, dtype))
  }
  op_result(out, out_shape, dtype, name, list(x), function(g) {
    others <- matrix(prod_without(m), nrow = nrow(m))
    list(round_dtype(back(sweep(others, 2L, g, `*`)), dtype))
  })
}

# `x$var()` / `x$std()`: over all values or along `dim`, divided by
# n - correction (correction 1 when `unbiased`, as torch's default).
tensor_var <- function(x, dim, unbiased, keepdim, correction, std, call) {
  check_flag(keepdim, "keepdim", call = call)
  check_flag(unbiased, "unbiased", call = call)
  if (is.null(correction)) {
    correction <- if (unbiased) 1 else 0
  } else if (!is.numeric(correction) || length(correction) != 1L || is.na(correction) || correction < 0) {
    fwdprop_error(sprintf("`correction` must be a number of at least 0 (1 for the unbiased estimate), not %s.", describe_value(correction)), call = call)
  }
  d <- .subset2(x, "data")
  dtype <- .subset2(x, "dtype")
  if (dtype == "long") {
    fwdprop_error(sprintf("`$%s()` of a long (integer) tensor is not defined, as in torch: convert it first with `$to(dtype = torch_float())`.", if (std) "std" else "var"), call = call)
  }
  sl <- reduction_slices(x, d, dim, keepdim, integer(0), call)
  m <- sl$m
  back <- sl$back
  out_shape <- sl$out_shape
  n <- nrow(m)
  centred <- sweep(m, 2L, colMeans(m))
  denom <- max(n - correction, 0)
  v <- colSums(centred^2) / denom
  out <- round_dtype(if (std) sqrt(v) else v, dtype)
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, out_shape, dtype))
  }
  name <- if (std) "StdBackward0" else "VarBackward0"
  op_result(out, out_shape, dtype, name, list(x), function(g) {
    scale <- if (std) g / (denom * out) else 2 * g / denom
    list(round_dtype(back(sweep(centred, 2L, scale, `*`)), dtype))
  })
}

# `x$norm(p)`: the p-norm of all values or along `dim` (p > 0, or Inf).
tensor_norm <- function(x, p, dim, keepdim, call) {
  check_flag(keepdim, "keepdim", call = call)
  if (!is.numeric(p) || length(p) != 1L || is.na(p) || p <= 0) {
    fwdprop_error(sprintf("`p` must be a positive number (2 for the Euclidean norm, or Inf), not %s.", describe_value(p)), call = call)
  }
  shape <- .subset2(x, "shape")
  d <- .subset2(x, "data")
  dtype <- .subset2(x, "dtype")
  if (dtype == "long") {
    fwdprop_error("`$norm()` of a long (integer) tensor is not defined, as in torch: convert it first with `$to(dtype = torch_float())`.", call = call)
  }
  sl <- reduction_slices(x, d, dim, keepdim, if (keepdim) rep.int(1L, length(shape)) else integer(0), call)
  m <- sl$m
  back <- sl$back
  out_shape <- sl$out_shape
  a <- abs(m)
  nrm <- if (is.infinite(p)) apply(a, 2L, max) else colSums(a^p)^(1 / p)
  out <- round_dtype(as.double(nrm), dtype)
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, out_shape, dtype))
  }
  op_result(out, out_shape, dtype, "LinalgVectorNormBackward0", list(x), function(g) {
    gm <- if (is.infinite(p)) {
      # shared evenly among the values of the largest magnitude, as torch
      at <- sweep(a, 2L, nrm, `==`)
      sweep(sign(m) * at, 2L, colSums(at), `/`)
    } else {
      # d||x||_p / dx = sign(x) |x|^(p-1) / ||x||^(p-1); 0 for a zero norm
      r <- sweep(sign(m) * a^(p - 1), 2L, nrm^(p - 1), `/`)
      r[, nrm == 0] <- 0
      r
    }
    list(round_dtype(back(sweep(gm, 2L, g, `*`)), dtype))
  })
}

# The gradient of cumprod(v) (a vector), exact where values are 0:
# d/dv_i sum_j g_j prod_{k <= j} v_k.
cumprod_grad <- function(v, out, g) {
  n <- length(v)
  zero <- which(v == 0)
  grad <- numeric(n)
  first <- if (length(zero)) zero[[1L]] else n + 1L
  before <- seq_len(first - 1L)
  if (length(before)) {
    # (out_j = 0 for j >= first)
    grad[before] <- rev(cumsum(rev((g * out)[before]))) / v[before]
  }
  if (first <= n) {
    # v_first's own gradient: its products with the others (prefix before
    # it times the values after it, up to each j)
    pre <- if (first > 1L) out[[first - 1L]] else 1
    after <- if (first < n) cumprod(v[seq.int(first + 1L, n)]) else numeric(0)
    grad[[first]] <- sum(g[seq.int(first, n)] * pre * c(1, after))
  }
  grad
}

# cumprod() of a tensor: of the values in row-major order (as cumsum()).
tensor_cumprod <- function(x) {
  d <- .subset2(x, "data")
  dtype <- .subset2(x, "dtype")
  out <- round_dtype(cumprod(d), dtype)
  shape <- .subset2(x, "shape")
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, shape, dtype))
  }
  op_result(out, shape, dtype, "CumprodBackward0", list(x), function(g) list(round_dtype(cumprod_grad(d, out, g), dtype)))
}

# `x$cumprod(dim)`: cumulative products along `dim`.
tensor_cumprod_dim <- function(x, dim, call) {
  shape <- .subset2(x, "shape")
  if (!length(shape)) {
    shape <- 1L
  }
  k <- reduce_dims_one(dim, shape, "dim", call)
  sm <- slice_matrix(.subset2(x, "data"), shape, k)
  dtype <- .subset2(x, "dtype")
  res <- apply(sm$m, 2L, cumprod)
  out <- round_dtype(sm$back(res), dtype)
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, .subset2(x, "shape"), dtype))
  }
  op_result(out, .subset2(x, "shape"), dtype, "CumprodBackward0", list(x), function(g) {
    gm <- slice_matrix(g, shape, k)$m
    res <- matrix(res, nrow = shape[[k]])
    grads <- vapply(seq_len(ncol(gm)), function(j) cumprod_grad(sm$m[, j], res[, j], gm[, j]), numeric(shape[[k]]))
    list(round_dtype(sm$back(grads), dtype))
  })
}

#' Choose values from two tensors by a condition
#'
#' `torch_where(condition, self, other)` takes `self`'s value where
#' `condition` is `TRUE` and `other`'s elsewhere, as torch's
#' `torch_where()`: the three broadcast to one shape (sizes equal or 1 in
#' each dimension, counted from the last). Gradients flow to `self` where
#' the condition holds and to `other` where it does not.
#'
#' @param condition A logical vector, matrix or array (such as `x > 0` of a
#'   tensor `x`), or a tensor (non-zero values are `TRUE`).
#' @param self,other Tensors or numbers.
#' @return A tensor.
#' @seealso [torch_tensor()]
#' @export
#' @examples
#' x <- torch_tensor(c(-1, 0.5, 2), requires_grad = TRUE)
#' y <- torch_where(x > 0, x, 0)
#' y
#' sum(y * 3)$backward()
#' x$grad
torch_where <- function(condition, self, other) {
  call <- sys.call()
  if (is_tensor(condition)) {
    cond <- .subset2(condition, "data") != 0
    sc <- .subset2(condition, "shape")
  } else if ((is.logical(condition) || is.numeric(condition)) && length(condition) && !anyNA(condition) &&
    (!is.object(condition) || is.array(condition))) {
    cond <- from_r_array(condition) != 0
    sc <- if (is.null(dim(condition))) length(condition) else as.integer(dim(condition))
    if (is.null(dim(condition)) && length(condition) == 1L) {
      sc <- integer(0)
    }
  } else {
    fwdprop_error(sprintf("`condition` of `torch_where()` must be a logical array (e.g. `x > 0`) or a tensor, without NA, not %s.", describe_object(condition)), call = call)
  }
  if (!is_tensor(self) && !is_tensor(other)) {
    fwdprop_error("at least one of `self` and `other` of `torch_where()` must be a tensor.", call = call)
  }
  a <- if (is_tensor(self)) self else where_operand(self, other, "self", call)
  b <- if (is_tensor(other)) other else where_operand(other, a, "other", call)
  sa <- .subset2(a, "shape")
  sb <- .subset2(b, "shape")
  shape <- broadcast_shape(sa, sb)
  shape <- if (is.null(shape)) NULL else broadcast_shape(shape, sc)
  if (is.null(shape)) {
    fwdprop_error(sprintf(
      "cannot broadcast `condition` (%s), `self` (%s) and `other` (%s) of `torch_where()` to one shape: the sizes must be equal or 1 in each dimension, counted from the last.",
      shape_label(sc), shape_label(sa), shape_label(sb)
    ), call = call)
  }
  n <- prod(shape)
  cond <- rep_len(expand_data(cond, sc, shape), n)
  da <- rep_len(expand_data(.subset2(a, "data"), sa, shape), n)
  db <- rep_len(expand_data(.subset2(b, "data"), sb, shape), n)
  ta <- .subset2(a, "dtype")
  tb <- .subset2(b, "dtype")
  dtype <- promote_dtype(ta, tb)
  out <- round_dtype(ifelse(cond, da, db), dtype)
  if (!grad_needed(a, b)) {
    return(new_tensor_obj(out, shape, dtype))
  }
  ra <- .subset2(a, "requires_grad")
  rb <- .subset2(b, "requires_grad")
  op_result(out, shape, dtype, "WhereBackward0", list(a, b), function(g) {
    list(
      if (ra) round_dtype(as.double(reduce_grad(g * cond, shape, sa, ta)), ta),
      if (rb) round_dtype(as.double(reduce_grad(g * !cond, shape, sb, tb)), tb)
    )
  })
}

# Numbers given to torch_where() as a tensor of `like`'s dtype (float for
# fractions with a long tensor).
where_operand <- function(x, like, arg, call) {
  if (!is.atomic(x) || !length(x) || !is_numeric_storage(x) || is.object(x) && !is.array(x)) {
    fwdprop_error(sprintf("`%s` of `torch_where()` must be a tensor or numbers, not %s.", arg, describe_object(x)), call = call)
  }
  dtype <- .subset2(like, "dtype")
  if (dtype == "long" && typeof(x) == "double") {
    dtype <- "float"
  }
  d <- dim(x)
  shape <- if (!is.null(d)) as.integer(d) else if (length(x) == 1L) integer(0) else length(x)
  new_tensor_obj(round_dtype(from_r_array(x), dtype), shape, dtype)
}
