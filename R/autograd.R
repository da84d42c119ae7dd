# Autograd for the torch-style tensors of R/tensor.R: the recording of
# operations, the backward pass, with_no_grad() and gradcheck().
#
# The internal API (used by R/tensor.R and by nn modules and optimisers):
#
# - A tensor is an environment of class "fwdprop_tensor" made by
#   new_tensor_obj(data, shape, dtype, requires_grad, node). Its fields:
#   `data` (a plain double vector, row-major as in torch), `shape` (an
#   integer vector, integer(0) for a 0-dimensional tensor), `dtype`
#   ("float", "double" or "long"), `requires_grad` (TRUE/FALSE), `grad`
#   (NULL or a tensor) and `node` (NULL for a leaf; for a result of a
#   recorded operation a list: `name` such as "MulBackward0", `inputs` (the
#   input tensors), `backward` (a function of the result's gradient, a
#   double vector, returning a list with one gradient per input, NULL where
#   none is needed; for the operations recorded in Rust, a list of saved
#   values that .Call(fwdprop_tensor_node_backward, backward, g) turns into
#   that list) and `seq` (the creation number, which orders the backward
#   pass)). Read fields with .subset2(x, "data"), write them with
#   assign("data", value, envir = x).
# - A parameter is a leaf: new_tensor_obj(data, shape, "float", TRUE).
# - An operation computes its result's data, rounds it with
#   round_dtype(data, dtype), and returns op_result(data, shape, dtype,
#   name, inputs, backward): a plain tensor when no input needs a gradient
#   (or under with_no_grad()), else a recorded one. `backward` is only
#   created when it is recorded (see grad_needed()).
# - The hot path: the operations that training loops repeat first try one
#   .Call into src/rust/glue/src/autograd.rs (fwdprop_tensor_arith,
#   _unary, _reduce_all, _linear, _inplace, _backward, fwdprop_sgd_step,
#   fwdprop_zero_grads), which computes and records the same values and
#   nodes as the R code or returns NULL for a case it does not take (then
#   the R code runs). The R code stays the reference: the tests run both
#   (both_paths() switches `autograd_state$native` off) and compare them.

autograd_state <- new.env(parent = emptyenv())
autograd_state$enabled <- TRUE
autograd_state$seq <- 0
# the hot path in Rust (src/rust/glue/src/autograd.rs) on; the tests switch
# it off to compare it with the R code
autograd_state$native <- TRUE

# The tensor object: an environment with the fields above (and `grad`
# NULL), classed, enclosed by the namespace (`autograd_state$ns`, set in
# .onLoad()). Made in Rust (src/rust/glue/src/autograd.rs), which also makes
# the results of the hot path of arithmetic, mean() and sum().
new_tensor_obj <- function(data, shape, dtype, requires_grad = FALSE, node = NULL) {
  .Call(fwdprop_tensor_new, data, shape, dtype, requires_grad, node, autograd_state)
}

dtype_labels <- c(float = "Float", double = "Double", long = "Long")
dtype_label <- function(dtype) dtype_labels[[dtype]]

is_tensor <- function(x) any(oldClass(x) == "fwdprop_tensor")

# R array (R's index order) <-> row-major doubles (torch's order).
from_r_array <- function(x) {
  d <- dim(x)
  if (length(d) <= 1L) {
    return(as.double(x))
  }
  if (length(d) == 2L) {
    return(as.double(t(x)))
  }
  as.double(aperm(x))
}

to_r_array <- function(data, shape) {
  nd <- length(shape)
  if (nd <= 1L) {
    return(data)
  }
  if (nd == 2L) {
    return(t(matrix(data, shape[[2L]], shape[[1L]])))
  }
  aperm(array(data, rev(shape)))
}

# "3x2", "7", or "0-dimensional" for a single number.
shape_label <- function(shape) {
  if (!length(shape)) "a scalar (0 dimensions)" else paste(shape, collapse = "x")
}

# Values rounded to the dtype: float32 tensors hold float32 values.
round_dtype <- function(data, dtype) {
  if (dtype == "float") .Call(fwdprop_round_f32, data) else data
}

# Doubles rounded to float32 (a plain vector, also for a matrix).
round_f32 <- function(v) .Call(fwdprop_round_f32, v)

# The sum of all values as PyTorch's CPU kernel adds them (its order of
# additions, in float32 for float tensors), so sums and means of float32
# tensors are PyTorch's own values.
sum_torch <- function(d, dtype) {
  if (dtype == "long") sum(d) else .Call(fwdprop_sum_torch, d, dtype == "float")
}

# TRUE when an operation on these tensors must be recorded.
grad_needed <- function(a, b = NULL) {
  autograd_state$enabled &&
    (.subset2(a, "requires_grad") || (!is.null(b) && .subset2(b, "requires_grad")))
}

# The result of an operation: recorded when `backward` is a function.
op_result <- function(data, shape, dtype, name = NULL, inputs = NULL, backward = NULL) {
  if (is.null(backward)) {
    return(new_tensor_obj(data, shape, dtype))
  }
  s <- autograd_state$seq + 1
  autograd_state$seq <- s
  new_tensor_obj(data, shape, dtype, TRUE, list(name = name, inputs = inputs, backward = backward, seq = s))
}

# with_no_grad() ----------------------------------------------------------

#' Evaluate code without recording gradients
#'
#' `with_no_grad(code)` runs `code` with gradient recording switched off, as
#' torch's `with_no_grad()` does: results of tensor operations inside have
#' no `grad_fn` and do not require gradients, and in-place changes of
#' parameters (`mu$sub_(lr * mu$grad)`) are allowed. Recording is switched
#' back on afterwards, also when `code` fails.
#'
#' @param code Code to evaluate.
#' @return The value of `code`.
#' @seealso [torch_tensor()]
#' @export
#' @examples
#' mu <- torch_tensor(0.5, requires_grad = TRUE)
#' x <- torch_tensor(c(1, 2, 4))
#' y <- mean((x - mu)^2)
#' y$backward()
#' with_no_grad({
#'   mu$sub_(0.1 * mu$grad)
#'   mu$grad$zero_()
#' })
#' mu
with_no_grad <- function(code) {
  old <- autograd_state$enabled
  autograd_state$enabled <- FALSE
  on.exit(autograd_state$enabled <- old)
  code
}

# The backward pass --------------------------------------------------------

# `root$backward(gradient)`: fills `$grad` of the leaves that require
# gradients. `call` is the user's call, for errors.
tensor_backward <- function(root, gradient = NULL, retain_graph = FALSE, call = sys.call(-1L)) {
  if (!.subset2(root, "requires_grad")) {
    fwdprop_error(
      "cannot call `$backward()` on a tensor that does not require gradients and has no `grad_fn`: create the inputs with `requires_grad = TRUE` (or call `$requires_grad_()`) before computing with them, outside `with_no_grad()`.",
      call = call
    )
  }
  if (!is.logical(retain_graph) || length(retain_graph) != 1L || is.na(retain_graph)) {
    fwdprop_error(sprintf("`retain_graph` must be TRUE or FALSE, not %s.", describe_value(retain_graph)), call = call)
  }
  g0 <- if (is.null(gradient) && length(.subset2(root, "data")) == 1L) 1 else backward_seed(root, gradient, call)
  node <- .subset2(root, "node")
  if (is.null(node)) {
    accumulate_grad(root, g0)
    return(invisible(NULL))
  }
  # the hot path: the pass in Rust (the same gradients, sums and order as
  # below; it calls the backward functions of operations recorded in R);
  # NULL, having changed nothing, for a freed graph or a leaf whose $grad
  # is not a tensor of its length, which the R code handles
  if (!is.null(.Call(fwdprop_tensor_backward, root, as.double(g0), retain_graph, nodes_without_saved_values, autograd_state))) {
    return(invisible(NULL))
  }
  # every recorded tensor reachable from the root; creation numbers give a
  # topological order (a result is made after its inputs)
  tensors <- list(root)
  seqs <- node$seq
  n <- 1L
  i <- 1L
  while (i <= n) {
    nd <- .subset2(tensors[[i]], "node")
    if (is.null(.subset2(nd, "backward"))) {
      freed_graph_error(call)
    }
    for (inp in .subset2(nd, "inputs")) {
      ind <- .subset2(inp, "node")
      if (!is.null(ind)) {
        s <- .subset2(ind, "seq")
        if (is.na(match(s, seqs))) {
          n <- n + 1L
          tensors[[n]] <- inp
          seqs[n] <- s
        }
      }
    }
    i <- i + 1L
  }
  grads <- vector("list", n)
  grads[[1L]] <- g0
  for (k in if (n == 1L) 1L else backward_order(seqs)) {
    g <- grads[[k]]
    if (is.null(g)) {
      next
    }
    t <- tensors[[k]]
    nd <- .subset2(t, "node")
    grads[k] <- list(NULL)
    back <- .subset2(nd, "backward")
    # an R function, or the saved values of an operation recorded in Rust
    gin <- if (is.function(back)) back(g) else .Call(fwdprop_tensor_node_backward, back, g)
    inputs <- .subset2(nd, "inputs")
    j <- 0L
    for (inp in inputs) {
      j <- j + 1L
      gj <- gin[[j]]
      if (is.null(gj)) {
        next
      }
      ind <- .subset2(inp, "node")
      if (is.null(ind)) {
        if (.subset2(inp, "requires_grad")) {
          accumulate_grad(inp, gj)
        }
      } else {
        p <- match(.subset2(ind, "seq"), seqs)
        gp <- grads[[p]]
        grads[[p]] <- if (is.null(gp)) gj else if (.subset2(inp, "dtype") == "float") .Call(fwdprop_round_f32, gp + gj) else gp + gj
      }
    }
    if (!retain_graph && is.na(match(.subset2(nd, "name"), nodes_without_saved_values))) {
      nd[["backward"]] <- NULL
      assign("node", nd, envir = t)
    }
  }
  invisible(NULL)
}

# Nodes that keep no values for the backward pass: as in torch, a second
# backward through them works (e.g. through `x$view()` of a leaf reused in
# every step of a training loop).
nodes_without_saved_values <- c("ViewBackward0", "TBackward0", "TransposeBackward0", "AddBackward0",
                                "SubBackward0", "NegBackward0", "CloneBackward0", "UnsqueezeBackward0",
                                "SqueezeBackward0", "SqueezeBackward1")

# Positions of `seqs` in decreasing order (order() costs tens of
# microseconds on a few values; graphs found from the root are mostly in
# order already).
backward_order <- function(seqs) {
  n <- length(seqs)
  if (n == 1L || all(seqs[-1L] < seqs[-n])) {
    return(seq_len(n))
  }
  if (n > 64L) {
    return(order(seqs, decreasing = TRUE))
  }
  ord <- integer(n)
  for (i in seq_len(n)) {
    k <- which.max(seqs)
    ord[i] <- k
    seqs[k] <- -Inf
  }
  ord
}

# The gradient the pass starts from: ones for a one-element result, else
# `gradient` (a tensor or numbers of the root's shape).
backward_seed <- function(root, gradient, call) {
  shape <- .subset2(root, "shape")
  n <- length(.subset2(root, "data"))
  if (is.null(gradient)) {
    if (n != 1L) {
      fwdprop_error(sprintf(
        "grad can be implicitly created only for scalar outputs: this tensor has shape %s (%d values). Reduce it first (e.g. `y$sum()$backward()` or `mean(y)$backward()`), or pass `gradient`, a tensor of the same shape.",
        shape_label(shape), n
      ), call = call)
    }
    return(1)
  }
  g <- if (is_tensor(gradient)) .subset2(gradient, "data") else gradient
  gshape <- if (is_tensor(gradient)) .subset2(gradient, "shape") else NULL
  if (!is.numeric(g) || length(g) != n || (!is.null(gshape) && !identical(gshape, shape))) {
    fwdprop_error(sprintf(
      "`gradient` must be a tensor of the same shape as the tensor (%s), not %s.",
      shape_label(shape), if (is_tensor(gradient)) sprintf("a tensor of shape %s", shape_label(gshape)) else describe_value(gradient)
    ), call = call)
  }
  round_dtype(as.double(g), .subset2(root, "dtype"))
}

freed_graph_error <- function(call) {
  fwdprop_error(
    "Trying to backward through the graph a second time: its saved values were freed by the first `$backward()`. Compute the result again before calling `$backward()` again (as a training loop does each step), or keep the graph with `$backward(retain_graph = TRUE)` the first time.",
    call = call
  )
}

# Adds `g` (a double vector) to a leaf's `$grad`, as torch accumulates.
accumulate_grad <- function(leaf, g) {
  old <- .subset2(leaf, "grad")
  dtype <- .subset2(leaf, "dtype")
  if (is.null(old)) {
    n <- length(.subset2(leaf, "data"))
    if (length(g) != n) {
      g <- rep_len(g, n)
    }
    leaf[["grad"]] <- new_tensor_obj(g, .subset2(leaf, "shape"), dtype)
  } else {
    v <- .subset2(old, "data") + g
    assign("data", if (dtype == "float") .Call(fwdprop_round_f32, v) else v, envir = old)
  }
  invisible(NULL)
}

# grad_fn -------------------------------------------------------------------

# `x$grad_fn`: NULL for a leaf, else an object printing the node's name.
tensor_grad_fn <- function(x) {
  node <- .subset2(x, "node")
  if (is.null(node)) {
    return(NULL)
  }
  structure(list(name = node$name, tensor = x), class = "fwdprop_grad_fn")
}

#' @export
print.fwdprop_grad_fn <- function(x, ...) {
  cat(.subset2(x, "name"), "\n", sep = "")
  invisible(x)
}

#' @export
format.fwdprop_grad_fn <- function(x, ...) .subset2(x, "name")

#' @export
`$.fwdprop_grad_fn` <- function(x, name) {
  switch(name,
    name = function() .subset2(x, "name"),
    next_functions = lapply(.subset2(.subset2(x, "tensor"), "node")$inputs, tensor_grad_fn),
    fwdprop_error(sprintf("`grad_fn$%s` is not available: a grad_fn has `$name()` and `$next_functions`.", name), call = sys.call())
  )
}

# Gradient check ---------------------------------------------------------------

#' Check gradients against finite differences
#'
#' `gradcheck(f, inputs)` compares the gradients that autograd computes for
#' `f(inputs)` with central finite differences, in double precision, and
#' reports the worst relative error. `f` takes the input tensors (as
#' separate arguments) and returns a tensor; a result with more than one
#' value is summed with random weights first, so every output value is
#' checked.
#'
#' Each input is converted to `torch_double()` for the check. The relative
#' error of a gradient entry is `|auto - numeric| / max(1, |numeric|)`.
#'
#' @param f A function of the input tensors returning a tensor.
#' @param inputs A tensor, or a list of tensors (inputs that do not require
#'   gradients are held fixed).
#' @param eps Step of the finite differences.
#' @param tolerance Largest relative error accepted.
#' @return Invisibly, a list with `ok` (TRUE when the worst relative error
#'   is at most `tolerance`), `max_error`, and for each checked input its
#'   `analytic` and `numeric` gradients. A message reports the worst error.
#' @seealso [torch_tensor()], [with_no_grad()]
#' @export
#' @examples
#' a <- torch_tensor(matrix(c(0.5, -1, 2, 0.25), 2), requires_grad = TRUE)
#' b <- torch_tensor(c(1.5, -0.5), requires_grad = TRUE)
#' res <- gradcheck(function(a, b) sum(tanh(a$mm(a) + b)^2), list(a, b))
#' res$ok
gradcheck <- function(f, inputs, eps = 1e-6, tolerance = 1e-6) {
  call <- sys.call()
  if (!is.function(f)) {
    fwdprop_error(sprintf("`f` must be a function of the input tensors, not %s.", describe_object(f)), call = call)
  }
  if (is_tensor(inputs)) {
    inputs <- list(inputs)
  }
  if (!is.list(inputs) || is.object(inputs) || length(inputs) == 0L ||
    !all(vapply(inputs, is_tensor, logical(1L)))) {
    fwdprop_error(sprintf("`inputs` must be a tensor or a list of tensors, not %s.", describe_object(inputs)), call = call)
  }
  check_positive(eps, "eps", call)
  check_positive(tolerance, "tolerance", call)
  xs <- lapply(inputs, function(x) {
    new_tensor_obj(.subset2(x, "data"), .subset2(x, "shape"), "double", .subset2(x, "requires_grad"))
  })
  evaluate <- function(args) {
    out <- do.call(f, args)
    if (!is_tensor(out)) {
      fwdprop_error(sprintf("`f` must return a tensor, not %s.", describe_object(out)), call = call)
    }
    out
  }
  out <- evaluate(xs)
  w <- if (length(.subset2(out, "data")) == 1L) 1 else stats::runif(length(.subset2(out, "data")), 0.5, 1.5)
  scalar <- function(out) sum(w * .subset2(out, "data"))
  if (!.subset2(out, "requires_grad")) {
    fwdprop_error("`f`'s result does not depend on any input that requires gradients.", call = call)
  }
  seed <- new_tensor_obj(rep(w, length.out = length(.subset2(out, "data"))), .subset2(out, "shape"), "double")
  tensor_backward(out, seed, call = call)
  checked <- which(vapply(xs, function(x) .subset2(x, "requires_grad"), logical(1L)))
  worst <- 0
  report <- list()
  for (k in checked) {
    x <- xs[[k]]
    v <- .subset2(x, "data")
    num <- numeric(length(v))
    for (i in seq_along(v)) {
      shifted <- function(h) {
        args <- xs
        vi <- v
        vi[i] <- vi[i] + h
        args[[k]] <- new_tensor_obj(vi, .subset2(x, "shape"), "double")
        with_no_grad(scalar(evaluate(args)))
      }
      num[i] <- (shifted(eps) - shifted(-eps)) / (2 * eps)
    }
    g <- .subset2(x, "grad")
    auto <- if (is.null(g)) numeric(length(v)) else .subset2(g, "data")
    err <- if (length(v)) max(abs(auto - num) / pmax(1, abs(num))) else 0
    worst <- max(worst, err)
    report[[length(report) + 1L]] <- list(input = k, analytic = auto, numeric = num, max_error = err)
  }
  message(sprintf("gradcheck: worst relative error %.3g over %d input%s (tolerance %g).",
    worst, length(checked), if (length(checked) == 1L) "" else "s", tolerance))
  invisible(list(ok = worst <= tolerance, max_error = worst, inputs = report))
}

# Broadcasting ---------------------------------------------------------------

# torch's broadcast shape of two shapes, or NULL when they do not broadcast.
broadcast_shape <- function(sa, sb) {
  n <- max(length(sa), length(sb))
  pa <- c(rep.int(1L, n - length(sa)), sa)
  pb <- c(rep.int(1L, n - length(sb)), sb)
  if (!all(pa == pb | pa == 1L | pb == 1L)) {
    return(NULL)
  }
  one <- pa == 1L
  pa[one] <- pb[one]
  as.integer(pa)
}

# TRUE when row-major data of shape `s` recycles (as R recycles) to `shape`:
# one value, as many values, or `s` (without leading 1s) the trailing part.
recycles_to <- function(s, shape) {
  if (length(s) == length(shape) && all(s == shape)) {
    return(TRUE)
  }
  n <- prod(s)
  if (n == 1 || n == prod(shape)) {
    return(TRUE)
  }
  while (length(s) && s[[1L]] == 1L) {
    s <- s[-1L]
  }
  k <- length(s)
  k <= length(shape) && all(s == shape[seq.int(length(shape) - k + 1L, length.out = k)])
}

# Row-major data of shape `s` expanded to `shape` (R's recycling where it
# gives the same values).
expand_data <- function(d, s, shape) {
  if (recycles_to(s, shape)) {
    return(d)
  }
  pad <- c(rep.int(1L, length(shape) - length(s)), s)
  arr <- array(d, rev(pad))
  idx <- lapply(rev(seq_along(shape)), function(k) {
    if (pad[[k]] == shape[[k]]) seq_len(shape[[k]]) else rep.int(1L, shape[[k]])
  })
  as.vector(do.call(`[`, c(list(arr), idx, list(drop = FALSE))))
}

# The gradient `g` of a broadcast result of shape `shape` summed back to an
# operand's shape `s` (of dtype `dtype`: a sum to one value is PyTorch's).
reduce_grad <- function(g, shape, s, dtype = "double") {
  n <- prod(s)
  total <- length(g)
  if (n == total) {
    return(g)
  }
  if (n == 1) {
    return(sum_torch(as.double(g), dtype))
  }
  if (recycles_to(s, shape)) {
    return(.rowSums(g, n, total %/% n))
  }
  pad <- c(rep.int(1L, length(shape) - length(s)), s)
  keep <- rev(which(pad == shape))
  keep <- length(shape) + 1L - keep
  arr <- array(g, rev(shape))
  as.vector(apply(arr, sort(keep), sum))
}

# dtypes of results ------------------------------------------------------------

dtype_rank <- c(long = 1L, float = 2L, double = 3L)

promote_dtype <- function(a, b) {
  if (a == b) a else if (dtype_rank[[a]] > dtype_rank[[b]]) a else b
}

# Elementwise binary operations ------------------------------------------------


# names of the recorded nodes: [[op]][[kind]], kind 1 = two tensors, 2 =
# tensor op number, 3 = number op tensor; the names PyTorch gives (a number
# is wrapped as a tensor; `2 - x` is rsub, `2 / x` is 2 * reciprocal(x))
binary_names <- list(
  "+" = c("AddBackward0", "AddBackward0", "AddBackward0"),
  "-" = c("SubBackward0", "SubBackward0", "RsubBackward1"),
  "*" = c("MulBackward0", "MulBackward0", "MulBackward0"),
  "/" = c("DivBackward0", "DivBackward0", "MulBackward0"),
  "^" = c("PowBackward1", "PowBackward0", "PowBackward2"),
  "%%" = c("RemainderBackward0", "RemainderBackward0", "RemainderBackward0")
)

# `a op b` for tensors `a` and `b` (numbers already made tensors; `kind` as
# for binary_names).
tensor_arith <- function(op, a, b, kind = 1L, call = sys.call(-1L)) {
  sa <- .subset2(a, "shape")
  sb <- .subset2(b, "shape")
  da <- .subset2(a, "data")
  db <- .subset2(b, "data")
  ta <- .subset2(a, "dtype")
  tb <- .subset2(b, "dtype")
  dtype <- if (ta == tb) ta else promote_dtype(ta, tb)
  if (dtype == "long" && op == "/") {
    dtype <- "float"
  }
  if (length(sa) == length(sb) && all(sa == sb)) {
    shape <- sa
  } else if (length(db) == 1L && length(sb) <= length(sa)) {
    # b is one value with no more dimensions: R recycles it
    shape <- sa
  } else if (length(da) == 1L && length(sa) <= length(sb)) {
    shape <- sb
  } else {
    shape <- broadcast_shape(sa, sb)
    if (is.null(shape)) {
      broadcast_error(op, a, b, call)
    }
    da <- expand_data(da, sa, shape)
    db <- expand_data(db, sb, shape)
  }
  out <- switch(op,
    "+" = da + db,
    "-" = da - db,
    "*" = da * db,
    "/" = da / db,
    "^" = da^db,
    "%%" = da %% db,
    "%/%" = da %/% db
  )
  if (dtype == "float") {
    out <- .Call(fwdprop_round_f32, out)
  }
  if (!(autograd_state$enabled && (.subset2(a, "requires_grad") || .subset2(b, "requires_grad")))) {
    return(new_tensor_obj(out, shape, dtype))
  }
  if (is.null(binary_names[[op]])) {
    fwdprop_error(sprintf("`%s` has no gradient: use it on tensors that do not require gradients (e.g. inside `with_no_grad()` or on `$detach()`).", op), call = call)
  }
  ra <- .subset2(a, "requires_grad")
  rb <- .subset2(b, "requires_grad")
  back_a <- back_fun(shape, sa, ta, length(out))
  back_b <- back_fun(shape, sb, tb, length(out))
  r <- if (dtype == "float") round_f32 else identity
  backward <- switch(op,
    "+" = function(g) list(if (ra) back_a(g), if (rb) back_b(g)),
    "-" = function(g) list(if (ra) back_a(g), if (rb) back_b(-g)),
    "*" = function(g) list(if (ra) back_a(r(g * db)), if (rb) back_b(r(g * da))),
    "/" = function(g) {
      list(
        if (ra) back_a(r(g / db)),
        if (rb) back_b(r(-g * r(r(da / db) / db)))
      )
    },
    "^" = function(g) {
      # torch's masks: no gradient to the base where the exponent is 0,
      # nor to the exponent where the base is 0 and the exponent >= 0
      list(
        if (ra) {
          d <- r(db * r(da^(db - 1)))
          d[db == 0] <- 0
          back_a(r(g * d))
        },
        if (rb) {
          d <- r(out * suppressWarnings(log(da)))
          d[da == 0 & db >= 0] <- 0
          back_b(r(g * d))
        }
      )
    },
    # torch's remainder: a - floor(a / b) * b
    "%%" = function(g) list(if (ra) back_a(g), if (rb) back_b(r(-g * floor(da / db))))
  )
  op_result(out, shape, dtype, binary_names[[op]][[kind]], list(a, b), backward)
}

# The gradient of a broadcast result (`n` values of shape `shape`) summed
# to an operand's shape `s` and rounded to its dtype `dt`: as
# round_dtype(reduce_grad(v, shape, s, dt), dt), without the calls when
# the operand has all `n` values.
back_fun <- function(shape, s, dt, n) {
  if (prod(s) == n) {
    return(if (dt == "float") round_f32 else identity)
  }
  function(v) round_dtype(reduce_grad(v, shape, s, dt), dt)
}

broadcast_error <- function(op, a, b, call) {
  fwdprop_error(sprintf(
    "cannot apply `%s` to tensors of shapes %s and %s: the sizes must be equal or 1 in each dimension, counted from the last (torch's broadcasting).",
    op, shape_label(.subset2(a, "shape")), shape_label(.subset2(b, "shape"))
  ), call = call)
}

# Elementwise unary operations -------------------------------------------------

unary_ops <- list(
  neg = list(name = "NegBackward0", f = function(x) -x, d = function(g, x, y) -g),
  exp = list(name = "ExpBackward0", f = exp, d = function(g, x, y) g * y),
  log = list(name = "LogBackward0", f = log, d = function(g, x, y) g / x),
  sqrt = list(name = "SqrtBackward0", f = sqrt, d = function(g, x, y) g / (2 * y)),
  sigmoid = list(name = "SigmoidBackward0", f = function(x) sigmoid(x), d = function(g, x, y) g * (1 - y) * y),
  tanh = list(name = "TanhBackward0", f = tanh, d = function(g, x, y) g * (1 - y * y)),
  relu = list(name = "ReluBackward0", f = function(x) x * (x > 0), d = function(g, x, y) g * (y > 0)),
  abs = list(name = "AbsBackward0", f = abs, d = function(g, x, y) g * sign(x)),
  sin = list(name = "SinBackward0", f = sin, d = function(g, x, y) g * cos(x)),
  cos = list(name = "CosBackward0", f = cos, d = function(g, x, y) -g * sin(x)),
  log1p = list(name = "Log1PBackward0", f = log1p, d = function(g, x, y) g / (1 + x)),
  expm1 = list(name = "Expm1Backward0", f = expm1, d = function(g, x, y) g * (y + 1)),
  log2 = list(name = "Log2Backward0", f = log2, d = function(g, x, y) g / (x * log(2))),
  log10 = list(name = "Log10Backward0", f = log10, d = function(g, x, y) g / (x * log(10))),
  tan = list(name = "TanBackward0", f = tan, d = function(g, x, y) g * (1 + y * y)),
  sinh = list(name = "SinhBackward0", f = sinh, d = function(g, x, y) g * cosh(x)),
  cosh = list(name = "CoshBackward0", f = cosh, d = function(g, x, y) g * sinh(x)),
  asin = list(name = "AsinBackward0", f = asin, d = function(g, x, y) g / sqrt(1 - x * x)),
  acos = list(name = "AcosBackward0", f = acos, d = function(g, x, y) -g / sqrt(1 - x * x)),
  atan = list(name = "AtanBackward0", f = atan, d = function(g, x, y) g / (1 + x * x)),
  asinh = list(name = "AsinhBackward0", f = asinh, d = function(g, x, y) g / sqrt(x * x + 1)),
  acosh = list(name = "AcoshBackward0", f = acosh, d = function(g, x, y) g / sqrt(x * x - 1)),
  atanh = list(name = "AtanhBackward0", f = atanh, d = function(g, x, y) g / (1 - x * x)),
  lgamma = list(name = "LgammaBackward0", f = lgamma, d = function(g, x, y) g * digamma(x)),
  digamma = list(name = "DigammaBackward0", f = digamma, d = function(g, x, y) g * trigamma(x))
)

# Functions of R's Math group whose gradient is zero wherever it exists
# (piecewise constant), as torch's floor(), round(), sign(), ...
math_zero_grad <- c("floor", "ceiling", "trunc", "round", "signif", "sign")

# `fun(x)` elementwise, recorded with the derivative of unary_ops[[fun]].
tensor_unary <- function(fun, x) {
  # the hot path (neg, exp, log, sigmoid, tanh, relu of float and double
  # tensors): the same values and graph as below
  res <- .Call(fwdprop_tensor_unary, fun, x, autograd_state)
  if (!is.null(res)) {
    return(res)
  }
  spec <- unary_ops[[fun]]
  d <- .subset2(x, "data")
  dtype <- .subset2(x, "dtype")
  if (dtype == "long" && fun != "neg" && fun != "abs" && fun != "relu") {
    dtype <- "float"
  }
  out <- spec$f(d)
  if (dtype != "double") {
    out <- round_dtype(as.double(out), dtype)
  }
  shape <- .subset2(x, "shape")
  if (!(autograd_state$enabled && .subset2(x, "requires_grad"))) {
    return(new_tensor_obj(out, shape, dtype))
  }
  deriv <- spec$d
  backward <- if (dtype == "float") {
    function(g) list(.Call(fwdprop_round_f32, deriv(g, d, out)))
  } else {
    function(g) list(deriv(g, d, out))
  }
  op_result(out, shape, dtype, spec$name, list(x), backward)
}

# `x$clamp(min, max)`: values limited to [min, max] (either may be NULL);
# the gradient passes where the value was strictly inside, as in torch
# (none at a value equal to a bound).
tensor_clamp <- function(x, min = NULL, max = NULL, call = sys.call(-1L)) {
  for (arg in c("min", "max")) {
    v <- get(arg)
    if (!is.null(v) && (!is.numeric(v) || length(v) != 1L || is.na(v))) {
      fwdprop_error(sprintf("`%s` must be a number or NULL, not %s.", arg, describe_value(v)), call = call)
    }
  }
  d <- .subset2(x, "data")
  dtype <- .subset2(x, "dtype")
  out <- d
  if (!is.null(min)) {
    out <- pmax(out, round_dtype(as.double(min), dtype))
  }
  if (!is.null(max)) {
    out <- pmin(out, round_dtype(as.double(max), dtype))
  }
  shape <- .subset2(x, "shape")
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, shape, dtype))
  }
  inside <- rep(TRUE, length(d))
  if (!is.null(min)) {
    inside <- inside & d > round_dtype(as.double(min), dtype)
  }
  if (!is.null(max)) {
    inside <- inside & d < round_dtype(as.double(max), dtype)
  }
  op_result(out, shape, dtype, "ClampBackward1", list(x), function(g) list(g * inside))
}

# Reductions ---------------------------------------------------------------------

# A `dim` argument (1-based; negative counts from the end) as 1-based
# positions in `shape`.
reduce_dims <- function(dim, shape, call) {
  nd <- length(shape)
  ok <- is.numeric(dim) && length(dim) >= 1L && !anyNA(dim) && all(dim == round(dim)) &&
    all(dim >= -max(nd, 1L) & dim <= max(nd, 1L) & dim != 0)
  if (!ok) {
    fwdprop_error(sprintf(
      "`dim` must be dimensions of the tensor (1 to %d, or -1 to -%d counting from the end), not %s.",
      max(nd, 1L), max(nd, 1L), describe_value(dim)
    ), call = call)
  }
  d <- as.integer(ifelse(dim < 0, nd + 1 + dim, dim))
  sort(unique(d))
}

# sum() or mean() of a tensor, over everything or over `dim`. The mean is
# torch's: the sum, rounded to the dtype, divided by the count.
tensor_reduce <- function(x, how, dim = NULL, keepdim = FALSE, call = sys.call(-1L)) {
  if (is.null(dim)) {
    # the hot path (float and double tensors), the same values as below
    res <- .Call(fwdprop_tensor_reduce_all, x, how == "mean", autograd_state)
    if (!is.null(res)) {
      return(res)
    }
  }
  d <- .subset2(x, "data")
  shape <- .subset2(x, "shape")
  dtype <- .subset2(x, "dtype")
  if (how == "mean" && dtype == "long") {
    fwdprop_error("mean() of a long (integer) tensor is not defined, as in torch: convert it first with `$to(dtype = torch_float())`.", call = call)
  }
  n_in <- length(d)
  if (is.null(dim)) {
    out <- if (how == "sum") sum_torch(d, dtype) else sum_torch(d, dtype) / n_in
    out_shape <- integer(0)
    name <- if (how == "sum") "SumBackward0" else "MeanBackward0"
    count <- n_in
    expand <- function(g) rep.int(g, n_in)
  } else {
    dims <- reduce_dims(dim, shape, call)
    if (!length(shape)) {
      dims <- integer(0)
    }
    keep <- setdiff(seq_along(shape), dims)
    count <- prod(shape[dims])
    arr <- array(d, rev(pmax(shape, 0L)))
    rk <- rev(length(shape) + 1L - keep)
    out <- if (length(keep)) as.vector(apply(arr, sort(rk), sum)) else sum(d)
    if (how == "mean") {
      out <- round_dtype(out, dtype) / count
    }
    kept_shape <- shape
    kept_shape[dims] <- 1L
    out_shape <- if (keepdim) kept_shape else shape[keep]
    name <- if (how == "sum") "SumBackward1" else "MeanBackward1"
    expand <- function(g) expand_data(g, kept_shape, shape)
  }
  out <- round_dtype(as.double(out), dtype)
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, as.integer(out_shape), dtype))
  }
  backward <- if (how == "sum") {
    function(g) list(expand(g))
  } else {
    function(g) list(round_dtype(expand(g) / count, dtype))
  }
  op_result(out, as.integer(out_shape), dtype, name, list(x), backward)
}

# max() or min() of all values. As in torch, the gradient is shared
# evenly by all the values equal to the extreme.
tensor_extreme <- function(x, how) {
  d <- .subset2(x, "data")
  i <- if (how == "max") which.max(d) else which.min(d)
  if (!length(i)) {
    i <- 1L
  }
  dtype <- .subset2(x, "dtype")
  out <- d[[i]]
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, integer(0), dtype))
  }
  n <- length(d)
  ties <- which(d == out)
  if (!length(ties)) {
    # a NaN extreme: the gradient goes to it
    ties <- i
  }
  op_result(out, integer(0), dtype, if (how == "max") "MaxBackward1" else "MinBackward1", list(x), function(g) {
    v <- numeric(n)
    v[ties] <- round_dtype(g / length(ties), dtype)
    list(v)
  })
}

# Products and shapes ------------------------------------------------------------

# `x$mm(y)`: both 2-dimensional, x's columns = y's rows. Labels name the
# operands in errors.
tensor_mm <- function(x, y, x_label = "self", y_label = "mat2", call = sys.call(-1L), what = "`$mm()`") {
  sx <- .subset2(x, "shape")
  sy <- .subset2(y, "shape")
  if (length(sx) != 2L || length(sy) != 2L || sx[[2L]] != sy[[1L]]) {
    mm_shape_error(sx, sy, x_label, y_label, call)
  }
  dtype <- same_dtype(x, y, what, x_label, y_label, call)
  r <- sx[[1L]]
  k <- sx[[2L]]
  n <- sy[[2L]]
  at <- matrix(.subset2(x, "data"), k, r)
  bt <- matrix(.subset2(y, "data"), n, k)
  # row-major data: t(x %*% y) = t(y) %*% t(x), column-major
  out <- as.vector(mm(bt, at))
  if (dtype != "double") {
    out <- round_dtype(out, dtype)
  }
  shape <- c(r, n)
  if (!grad_needed(x, y)) {
    return(new_tensor_obj(out, shape, dtype))
  }
  rx <- .subset2(x, "requires_grad")
  ry <- .subset2(y, "requires_grad")
  op_result(out, shape, dtype, "MmBackward0", list(x, y), function(g) {
    gt <- matrix(g, n, r)
    list(
      if (rx) round_dtype(as.vector(crossprod(bt, gt)), dtype),
      if (ry) round_dtype(as.vector(tcrossprod(gt, at)), dtype)
    )
  })
}

mm_shape_error <- function(sx, sy, x_label, y_label, call) {
  if (length(sx) != 2L || length(sy) != 2L) {
    bad <- if (length(sx) != 2L) x_label else y_label
    fwdprop_error(sprintf(
      "cannot multiply `%s` (%s) by `%s` (%s): `$mm()` needs two 2-dimensional tensors, and `%s` has %d dimension%s. Use `$view()` to make a matrix, or `$matmul()`.",
      x_label, shape_label(sx), y_label, shape_label(sy), bad,
      length(if (bad == x_label) sx else sy), if (length(if (bad == x_label) sx else sy) == 1L) "" else "s"
    ), call = call)
  }
  fwdprop_error(sprintf(
    "cannot multiply `%s` (%s) by `%s` (%s): `%s` has %d column%s but `%s` has %d row%s.",
    x_label, shape_label(sx), y_label, shape_label(sy),
    x_label, sx[[2L]], if (sx[[2L]] == 1L) "" else "s",
    y_label, sy[[1L]], if (sy[[1L]] == 1L) "" else "s"
  ), call = call)
}

# The common dtype of two tensors an operation needs to be equal.
same_dtype <- function(x, y, what, x_label, y_label, call) {
  tx <- .subset2(x, "dtype")
  ty <- .subset2(y, "dtype")
  if (tx != ty) {
    fwdprop_error(sprintf(
      "%s needs tensors of one dtype, but `%s` is %s and `%s` is %s: convert one with `$to(dtype = torch_%s())`.",
      what, x_label, dtype_label(tx), y_label, dtype_label(ty), if (tx == "long") ty else tx
    ), call = call)
  }
  tx
}

# `x$matmul(y)`: mm for matrices, with torch's rules for 1-dimensional
# operands.
tensor_matmul <- function(x, y, x_label = "self", y_label = "other", call = sys.call(-1L)) {
  sx <- .subset2(x, "shape")
  sy <- .subset2(y, "shape")
  nx <- length(sx)
  ny <- length(sy)
  what <- "`$matmul()`"
  if (nx == 2L && ny == 2L) {
    return(tensor_mm(x, y, x_label, y_label, call, what))
  }
  if (nx == 1L && ny == 1L) {
    return(tensor_dot(x, y, x_label, y_label, call))
  }
  if (nx + ny == 3L && sx[[nx]] != sy[[1L]]) {
    fwdprop_error(sprintf(
      "cannot multiply `%s` (%s) by `%s` (%s) with `$matmul()`: the last size of `%s` (%d) must equal the first size of `%s` (%d).",
      x_label, shape_label(sx), y_label, shape_label(sy), x_label, sx[[nx]], y_label, sy[[1L]]
    ), call = call)
  }
  if (nx == 2L && ny == 1L) {
    out <- tensor_mm(x, tensor_view(y, c(-1L, 1L)), x_label, y_label, call, what)
    return(tensor_view(out, -1L, name = "MvBackward0"))
  }
  if (nx == 1L && ny == 2L) {
    out <- tensor_mm(tensor_view(x, c(1L, -1L)), y, x_label, y_label, call, what)
    return(tensor_view(out, -1L, name = "SqueezeBackward4"))
  }
  fwdprop_error(sprintf(
    "`$matmul()` takes 1- and 2-dimensional tensors only, not shapes %s and %s.",
    shape_label(.subset2(x, "shape")), shape_label(.subset2(y, "shape"))
  ), call = call)
}

tensor_dot <- function(x, y, x_label, y_label, call) {
  dx <- .subset2(x, "data")
  dy <- .subset2(y, "data")
  if (length(dx) != length(dy)) {
    fwdprop_error(sprintf(
      "cannot take the dot product of `%s` (%s) and `%s` (%s): the lengths differ.",
      x_label, shape_label(.subset2(x, "shape")), y_label, shape_label(.subset2(y, "shape"))
    ), call = call)
  }
  dtype <- same_dtype(x, y, "`$matmul()`", x_label, y_label, call)
  out <- round_dtype(sum(dx * dy), dtype)
  if (!grad_needed(x, y)) {
    return(new_tensor_obj(out, integer(0), dtype))
  }
  rx <- .subset2(x, "requires_grad")
  ry <- .subset2(y, "requires_grad")
  op_result(out, integer(0), dtype, "DotBackward0", list(x, y), function(g) {
    list(if (rx) round_dtype(g * dy, dtype), if (ry) round_dtype(g * dx, dtype))
  })
}

# `x$t()`: a 2-dimensional tensor transposed (fewer dimensions: itself).
tensor_t <- function(x, call = sys.call(-1L)) {
  shape <- .subset2(x, "shape")
  if (length(shape) < 2L) {
    return(x)
  }
  if (length(shape) > 2L) {
    fwdprop_error(sprintf("`$t()` expects a tensor with at most 2 dimensions, not %s: use `$transpose()`.", shape_label(shape)), call = call)
  }
  # a matrix: row-major data of r x c is column-major c x r
  r <- shape[[1L]]
  k <- shape[[2L]]
  out <- as.vector(t(matrix(.subset2(x, "data"), k, r)))
  dtype <- .subset2(x, "dtype")
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, c(k, r), dtype))
  }
  op_result(out, c(k, r), dtype, "TBackward0", list(x), function(g) list(as.vector(t(matrix(g, r, k)))))
}

# Swaps dimensions `d0` and `d1` (1-based).
tensor_transpose <- function(x, d0, d1, name = "TransposeBackward0", call = sys.call(-1L)) {
  shape <- .subset2(x, "shape")
  d0 <- reduce_dims(d0, shape, call)
  d1 <- reduce_dims(d1, shape, call)
  nd <- length(shape)
  perm <- seq_len(nd)
  perm[c(d0, d1)] <- perm[c(d1, d0)]
  permute <- function(v, s, p) {
    if (nd < 2L || d0 == d1) {
      return(v)
    }
    # row-major data of shape s is a column-major array of dims rev(s)
    rp <- rev(nd + 1L - p)
    as.vector(aperm(array(v, rev(s)), rp))
  }
  out <- permute(.subset2(x, "data"), shape, perm)
  new_shape <- shape[perm]
  dtype <- .subset2(x, "dtype")
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, new_shape, dtype))
  }
  op_result(out, new_shape, dtype, name, list(x), function(g) list(permute(g, new_shape, perm)))
}

# A new shape for the same values (row-major order), one -1 inferred.
tensor_view <- function(x, size, name = "ViewBackward0", call = sys.call(-1L)) {
  d <- .subset2(x, "data")
  n <- length(d)
  shape <- .subset2(x, "shape")
  if (!is.numeric(size) || anyNA(size) || any(size != round(size)) || any(size < -1) || sum(size == -1) > 1L) {
    fwdprop_error(sprintf("`size` must be whole numbers (one of them may be -1), not %s.", describe_value(size)), call = call)
  }
  size <- as.integer(size)
  if (any(size == -1L)) {
    known <- prod(size[size != -1L])
    if (known == 0 || n %% known != 0) {
      view_error(shape, size, call)
    }
    size[size == -1L] <- as.integer(n %/% known)
  }
  if (prod(size) != n) {
    view_error(shape, size, call)
  }
  if (!grad_needed(x)) {
    return(new_tensor_obj(d, size, .subset2(x, "dtype")))
  }
  op_result(d, size, .subset2(x, "dtype"), name, list(x), function(g) list(g))
}

view_error <- function(shape, size, call) {
  fwdprop_error(sprintf(
    "shape '[%s]' is invalid for a tensor of shape %s (%d values): the sizes must multiply to the number of values.",
    paste(size, collapse = ", "), shape_label(shape), as.integer(prod(shape))
  ), call = call)
}

# Joins tensors along dimension `dim` (1-based).
tensor_cat_impl <- function(tensors, dim, call) {
  shapes <- lapply(tensors, .subset2, "shape")
  nd <- length(shapes[[1L]])
  for (k in seq_along(shapes)) {
    if (length(shapes[[k]]) != nd || nd == 0L) {
      fwdprop_error(sprintf(
        "cannot concatenate `tensors[[1]]` (%s) and `tensors[[%d]]` (%s): the tensors need the same number of dimensions, at least 1.",
        shape_label(shapes[[1L]]), k, shape_label(shapes[[k]])
      ), call = call)
    }
  }
  along <- reduce_dims(dim, shapes[[1L]], call)
  for (k in seq_along(shapes)) {
    s <- shapes[[k]]
    if (length(s) != nd || any(s[-along] != shapes[[1L]][-along])) {
      fwdprop_error(sprintf(
        "cannot concatenate along dim %d: every tensor needs the same size in the other dimensions, but `tensors[[1]]` is %s and `tensors[[%d]]` is %s.",
        along, shape_label(shapes[[1L]]), k, shape_label(s)
      ), call = call)
    }
  }
  dtype <- Reduce(promote_dtype, lapply(tensors, .subset2, "dtype"))
  outer <- prod(shapes[[1L]][seq_len(along - 1L)])
  inner <- vapply(shapes, function(s) prod(s[along:nd]), numeric(1L))
  pieces <- lapply(seq_along(tensors), function(k) matrix(.subset2(tensors[[k]], "data"), inner[[k]], outer))
  out <- as.vector(do.call(rbind, pieces))
  shape <- shapes[[1L]]
  shape[along] <- sum(vapply(shapes, function(s) s[[along]], integer(1L)))
  out <- round_dtype(out, dtype)
  needs <- autograd_state$enabled && any(vapply(tensors, .subset2, logical(1L), "requires_grad"))
  if (!needs) {
    return(new_tensor_obj(out, shape, dtype))
  }
  ends <- cumsum(inner)
  op_result(out, shape, dtype, "CatBackward0", tensors, function(g) {
    gm <- matrix(g, sum(inner), outer)
    lapply(seq_along(tensors), function(k) {
      if (.subset2(tensors[[k]], "requires_grad")) {
        round_dtype(as.vector(gm[seq.int(ends[[k]] - inner[[k]] + 1, ends[[k]]), , drop = FALSE]), .subset2(tensors[[k]], "dtype"))
      }
    })
  })
}

# Indexing: `x[...]` with R index vectors per dimension (an empty index
# already made seq_len() of its size); a single number drops its
# dimension, as in torch.
tensor_index <- function(x, idx, drop, call) {
  shape <- .subset2(x, "shape")
  n <- length(.subset2(x, "data"))
  pos <- to_r_array(as.double(seq_len(n)), shape)
  sel <- tryCatch(
    do.call(`[`, c(list(pos), idx, list(drop = FALSE))),
    error = function(e) {
      fwdprop_error(sprintf("cannot index a tensor of shape %s: %s", shape_label(shape), conditionMessage(e)), call = call)
    }
  )
  new_shape <- if (length(shape) <= 1L) length(sel) else dim(sel)
  if (drop) {
    single <- vapply(idx, function(i) is.numeric(i) && length(i) == 1L && is.null(attr(i, "fwdprop_all")), logical(1L))
    new_shape <- new_shape[!single]
  }
  p <- from_r_array(sel)
  dtype <- .subset2(x, "dtype")
  out <- .subset2(x, "data")[p]
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, as.integer(new_shape), dtype))
  }
  op_result(out, as.integer(new_shape), dtype, if (all(lengths(idx) == 1L)) "SelectBackward0" else "IndexBackward0", list(x), function(g) {
    v <- numeric(n)
    if (anyDuplicated(p)) {
      s <- rowsum(g, p)
      v[as.integer(rownames(s))] <- s[, 1L]
    } else {
      v[p] <- g
    }
    list(round_dtype(v, dtype))
  })
}

# Drawing the graph ----------------------------------------------------------------

#' Draw the computation graph of a tensor
#'
#' `plot()` on a tensor that has a `grad_fn` draws the operations that
#' `$backward()` would go through, as torch records them: the result at the
#' top, each operation (e.g. `MeanBackward0`) above the operations and
#' leaves it takes gradients to, and the leaves that require gradients at
#' the bottom (labelled with their shape). Tensors that need no gradient
#' (data, numbers) are left out, as torch leaves them out of the graph.
#' The drawing uses base graphics on the current device, so it works in R
#' Markdown documents.
#'
#' @param x A tensor.
#' @param ... Unused; a misspelt argument is an error.
#' @return Invisibly, a list with `nodes` (a data frame: `id`, `label`,
#'   `depth` from the top, `leaf`) and `edges` (a data frame: `from`, `to`,
#'   the gradient flowing from `from` to `to`).
#' @seealso [torch_tensor()]
#' @export
#' @examples
#' x <- torch_tensor(c(5.1, 7.4, 7.2, 5.7))
#' mu <- torch_tensor(2.5, requires_grad = TRUE)
#' y <- mean((x - mu)^2)
#' plot(y)
plot.fwdprop_tensor <- function(x, ...) {
  call <- sys.call()
  check_no_dots(..., fun = "plot()", call = call)
  if (!.subset2(x, "requires_grad")) {
    fwdprop_error("this tensor has no computation graph to draw: it does not require gradients (make its inputs with `requires_grad = TRUE`).", call = call)
  }
  g <- tensor_graph(x)
  draw_tensor_graph(g)
  invisible(g)
}

# The graph below `root`: nodes (tensors that require gradients) with their
# longest distance from the root, and the edges between them.
tensor_graph <- function(root) {
  tensors <- list(root)
  depth <- 0L
  from <- integer(0)
  to <- integer(0)
  i <- 1L
  while (i <= length(tensors)) {
    node <- .subset2(tensors[[i]], "node")
    for (inp in node$inputs) {
      if (!.subset2(inp, "requires_grad")) {
        next
      }
      k <- Position(function(t) identical(t, inp), tensors)
      if (is.na(k)) {
        tensors[[length(tensors) + 1L]] <- inp
        depth <- c(depth, depth[[i]] + 1L)
        k <- length(tensors)
      } else if (depth[[k]] < depth[[i]] + 1L) {
        depth[[k]] <- depth[[i]] + 1L
      }
      from <- c(from, i)
      to <- c(to, k)
    }
    i <- i + 1L
  }
  # depths pushed down later must reach the nodes below them too
  for (pass in seq_along(tensors)) {
    deeper <- depth[to] < depth[from] + 1L
    if (!any(deeper)) {
      break
    }
    for (e in which(deeper)) {
      depth[to[[e]]] <- max(depth[to[[e]]], depth[from[[e]]] + 1L)
    }
  }
  leaf <- vapply(tensors, function(t) is.null(.subset2(t, "node")), logical(1L))
  label <- vapply(tensors, function(t) {
    node <- .subset2(t, "node")
    if (is.null(node)) sprintf("leaf {%s}", paste(.subset2(t, "shape"), collapse = ",")) else node$name
  }, character(1L))
  list(
    nodes = data.frame(id = seq_along(tensors), label = label, depth = depth, leaf = leaf, stringsAsFactors = FALSE),
    edges = data.frame(from = from, to = to)
  )
}

draw_tensor_graph <- function(g) {
  nodes <- g$nodes
  edges <- g$edges
  old <- graphics::par(mar = c(0.5, 0.5, 0.5, 0.5))
  on.exit(graphics::par(old))
  max_depth <- max(nodes$depth)
  graphics::plot.new()
  graphics::plot.window(xlim = c(0, 1), ylim = c(-max_depth - 0.5, 0.5))
  # x positions: spread each level evenly
  x <- numeric(nrow(nodes))
  for (d in unique(nodes$depth)) {
    at <- which(nodes$depth == d)
    x[at] <- seq_along(at) / (length(at) + 1)
  }
  y <- -nodes$depth
  cex <- 0.85
  w <- graphics::strwidth(nodes$label, cex = cex) / 2 + 0.02
  h <- graphics::strheight("M", cex = cex) * 1.2
  for (e in seq_len(nrow(edges))) {
    a <- edges$from[[e]]
    b <- edges$to[[e]]
    graphics::arrows(x[b], y[b] + h, x[a], y[a] - h, length = 0.08, col = "grey40")
  }
  fill <- ifelse(nodes$leaf, "#d9ead3", "#dbe8f6")
  graphics::rect(x - w, y - h, x + w, y + h, col = fill, border = "grey30")
  graphics::text(x, y, nodes$label, cex = cex)
}

# A fused linear layer ---------------------------------------------------------

# `x W^T + b` for a 2-dimensional `x` (n x in), `weight` (out x in, torch's
# layout) and `bias` (out, or NULL), recorded as one node (torch's
# AddmmBackward0; MmBackward0 without a bias). For nn modules: one node
# instead of three (transpose, product, broadcast sum).
tensor_linear <- function(x, weight, bias = NULL, call = sys.call(-1L)) {
  # the hot path (float and double tensors, up to 2^20 products): each
  # value a dot product summed in order, as the reference BLAS sums it;
  # NULL for anything else, also for shape errors, reported below
  res <- .Call(fwdprop_tensor_linear, x, weight, bias, autograd_state)
  if (!is.null(res)) {
    return(res)
  }
  sx <- .subset2(x, "shape")
  sw <- .subset2(weight, "shape")
  if (length(sx) != 2L || length(sw) != 2L || sx[[2L]] != sw[[2L]]) {
    fwdprop_error(sprintf(
      "cannot apply a linear layer with weight %s (out x in) to input %s: the input needs 2 dimensions and %d columns.",
      shape_label(sw), shape_label(sx), if (length(sw) == 2L) sw[[2L]] else NA_integer_
    ), call = call)
  }
  if (!is.null(bias) && !identical(.subset2(bias, "shape"), sw[[1L]])) {
    fwdprop_error(sprintf(
      "the bias of a linear layer with weight %s must have %d values, not shape %s.",
      shape_label(sw), sw[[1L]], shape_label(.subset2(bias, "shape"))
    ), call = call)
  }
  dtype <- same_dtype(x, weight, "a linear layer", "input", "weight", call)
  n <- sx[[1L]]
  i <- sx[[2L]]
  o <- sw[[1L]]
  xt <- matrix(.subset2(x, "data"), i, n)
  wt <- matrix(.subset2(weight, "data"), i, o)
  # row-major data: t(x W^T + b) = W x^T + b, column-major o x n
  out <- crossprod(wt, xt)
  # (the rounding returns a plain vector: no as.vector() copies for float)
  f32 <- dtype == "float"
  out <- if (f32) .Call(fwdprop_round_f32, out) else as.vector(out)
  if (!is.null(bias)) {
    out <- out + .subset2(bias, "data")
    if (f32) {
      out <- .Call(fwdprop_round_f32, out)
    }
  }
  shape <- c(n, o)
  needs <- autograd_state$enabled && (.subset2(x, "requires_grad") || .subset2(weight, "requires_grad") ||
    (!is.null(bias) && .subset2(bias, "requires_grad")))
  if (!needs) {
    return(new_tensor_obj(out, shape, dtype))
  }
  rx <- .subset2(x, "requires_grad")
  rw <- .subset2(weight, "requires_grad")
  rb <- !is.null(bias) && .subset2(bias, "requires_grad")
  inputs <- if (is.null(bias)) list(x, weight) else list(x, weight, bias)
  op_result(out, shape, dtype, if (is.null(bias)) "MmBackward0" else "AddmmBackward0", inputs, function(g) {
    gt <- matrix(g, o, n)
    r <- if (f32) round_f32 else as.vector
    grads <- list(
      if (rx) r(wt %*% gt),
      if (rw) r(tcrossprod(xt, gt))
    )
    if (!is.null(bias)) {
      grads[3L] <- list(if (rb) r(.rowSums(g, o, n)))
    }
    grads
  })
}
