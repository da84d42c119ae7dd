# Torch-style tensors: torch_tensor() (or tensor()), their dtypes and
# devices, creation functions, `$` methods, arithmetic, indexing, printing.
# The object itself, the recorded operations and the backward pass are in
# R/autograd.R (see its header for the internal API).

# dtypes ---------------------------------------------------------------------

# names of dtype constructors and strings, and the dtype they mean
dtype_calls <- c(
  torch_float = "float", torch_float32 = "float",
  torch_double = "double", torch_float64 = "double",
  torch_long = "long", torch_int64 = "long"
)
dtype_strings <- c(
  float = "float", float32 = "float", double = "double", float64 = "double",
  long = "long", int64 = "long"
)

new_dtype <- function(name) structure(list(name = name), class = "fwdprop_dtype")

#' Tensor element types and devices
#'
#' `torch_float()` (32-bit floating point, the default, as in torch),
#' `torch_double()` (64-bit) and `torch_long()` (64-bit integers) are the
#' element types (dtypes) of fwdprop's tensors; `torch_float32()`,
#' `torch_float64()` and `torch_int64()` are the same under their other
#' names. A float32 tensor holds float32 values: after each operation the
#' result is rounded to the nearest float32, so sums, products and
#' quotients are PyTorch's own. A double tensor computes with R's doubles.
#'
#' fwdprop computes on the CPU: `torch_device("cpu")` is accepted wherever
#' torch takes a device, `cuda_is_available()` is `FALSE`, and asking for
#' `"cuda"` is an error that says how to write the line for the CPU.
#'
#' @param type The device type: `"cpu"`.
#' @param index Ignored (for torch's signature).
#' @return A dtype object (printed as torch prints it, e.g. `torch_Float`),
#'   a device object, or `FALSE`.
#' @seealso [torch_tensor()]
#' @export
#' @examples
#' torch_float()
#' torch_tensor(c(0.1, 0.2))$dtype
#' torch_tensor(c(0.1, 0.2), dtype = torch_double())
#' cuda_is_available()
#' torch_device("cpu")
torch_float <- function() new_dtype("float")

#' @rdname torch_float
#' @export
torch_float32 <- function() new_dtype("float")

#' @rdname torch_float
#' @export
torch_double <- function() new_dtype("double")

#' @rdname torch_float
#' @export
torch_float64 <- function() new_dtype("double")

#' @rdname torch_float
#' @export
torch_long <- function() new_dtype("long")

#' @rdname torch_float
#' @export
torch_int64 <- function() new_dtype("long")

#' @export
print.fwdprop_dtype <- function(x, ...) {
  cat("torch_", dtype_label(x$name), "\n", sep = "")
  invisible(x)
}

#' @export
as.character.fwdprop_dtype <- function(x, ...) dtype_label(x$name)

# `dtype` from its unevaluated expression: torch's dtype constructors
# (also as `torch::torch_double()`, when torch is not installed) are read
# by name; anything else is evaluated in `env`. NULL for no dtype.
resolve_dtype <- function(expr, env, call) {
  if (is.null(expr)) {
    return(NULL)
  }
  if (is.call(expr)) {
    fn <- expr[[1L]]
    if (is.call(fn) && (identical(fn[[1L]], as.name("::")) || identical(fn[[1L]], as.name(":::")))) {
      fn <- fn[[3L]]
    }
    name <- if (is.symbol(fn)) as.character(fn) else ""
    if (name %in% names(dtype_calls) && length(expr) == 1L) {
      return(dtype_calls[[name]])
    }
    if (startsWith(name, "torch_")) {
      dtype_error(sprintf("`%s`", paste(deparse(expr, width.cutoff = 500L), collapse = " ")), call)
    }
  }
  value <- if (is.character(expr)) expr else eval(expr, env)
  dtype_from_value(value, call)
}

dtype_from_value <- function(value, call) {
  if (is.null(value)) {
    return(NULL)
  }
  if (inherits(value, "fwdprop_dtype")) {
    return(value$name)
  }
  if (inherits(value, "torch_dtype")) {
    type <- tolower(as.character(value))
    if (length(type) == 1L && type %in% names(dtype_strings)) {
      return(dtype_strings[[type]])
    }
    dtype_error(sprintf("torch's `%s`", paste(as.character(value), collapse = " ")), call)
  }
  if (is.character(value) && length(value) == 1L && !is.na(value)) {
    if (tolower(value) %in% names(dtype_strings)) {
      return(dtype_strings[[tolower(value)]])
    }
    dtype_error(sprintf("\"%s\"", value), call)
  }
  dtype_error(describe_value(value), call)
}

dtype_error <- function(what, call) {
  fwdprop_error(sprintf(
    "`dtype` must be `torch_float()` (float32), `torch_double()` (float64) or `torch_long()` (int64), or one of \"float\", \"double\", \"long\", not %s: fwdprop tensors hold these three types.",
    what
  ), call = call)
}

# Devices ------------------------------------------------------------------

#' @rdname torch_float
#' @export
torch_device <- function(type, index = NULL) {
  check_device(type, sys.call())
  structure(list(type = "cpu"), class = "fwdprop_device")
}

#' @rdname torch_float
#' @export
cuda_is_available <- function() FALSE

#' @export
print.fwdprop_device <- function(x, ...) {
  cat("torch_device(type='cpu')\n")
  invisible(x)
}

# A device argument: NULL, "cpu" or a cpu device; "cuda" and others are
# errors saying how to write the line.
check_device <- function(device, call) {
  if (is.null(device) || inherits(device, "fwdprop_device")) {
    return(invisible(TRUE))
  }
  type <- if (inherits(device, "torch_device")) device$type else device
  if (is.character(type) && length(type) == 1L && !is.na(type) && identical(tolower(sub(":.*", "", type)), "cpu")) {
    return(invisible(TRUE))
  }
  shown <- if (is.character(type) && length(type) == 1L) sprintf("\"%s\"", type) else describe_value(type)
  fwdprop_error(sprintf(
    "fwdprop computes on the CPU only, so device %s is not available (`cuda_is_available()` is FALSE). Leave out `device = ...` and `$cuda()`, or write `torch_device(\"cpu\")`; the computation is the same.",
    shown
  ), call = call)
}

cpu_device <- structure(list(type = "cpu"), class = "fwdprop_device")

# Constructors ----------------------------------------------------------------

#' Torch-style tensors with automatic differentiation
#'
#' `torch_tensor()` (or its short name `tensor()`) makes a tensor as torch
#' for R does, so the torch code of the lecture series runs with
#' library(torch) replaced by `library(fwdprop)` and prints what torch
#' prints; no `libtorch` is needed.
#'
#' A tensor has a shape (0 dimensions for a single number such as a mean,
#' 1 for a vector, 2 for a matrix, or more), a dtype ([torch_float()], the
#' default for numbers; [torch_double()]; [torch_long()], the default for
#' integers) and reference semantics: `$sub_()`, `$zero_()` and
#' `$backward()` change the tensor itself, wherever it is used. An R vector
#' becomes a 1-dimensional tensor, a matrix or array keeps its shape, and
#' `x[i, j]` indexes as in R.
#'
#' @section Automatic differentiation:
#' A tensor made with `requires_grad = TRUE` (or after `$requires_grad_()`)
#' is a leaf whose gradient is wanted. Operations on it are recorded; the
#' result shows the last one in `$grad_fn` (e.g. `MeanBackward0`).
#' `y$backward()` on a result with one value computes the gradients of `y`
#' and adds them to `$grad` of every leaf that requires gradients (they
#' accumulate over calls, as in torch: reset them with `$grad$zero_()`).
#' The recorded graph is freed by `$backward()` unless `retain_graph = TRUE`.
#' Inside [with_no_grad()] nothing is recorded, and leaves may be changed in
#' place. [gradcheck()] compares the gradients with finite differences.
#'
#' @section Methods:
#' Fields: `$grad`, `$requires_grad`, `$grad_fn`, `$is_leaf`, `$shape`,
#' `$dtype`, `$device`, `$ndim`.
#' Autograd: `$backward(gradient, retain_graph)`, `$requires_grad_()`,
#' `$detach()`, `$detach_()`.
#' In place: `$zero_()`, `$sub_(other, alpha)`, `$add_(other, alpha)`,
#' `$mul_(other)`, `$div_(other)`, `$copy_(src)`, `$fill_(value)`,
#' `$uniform_(from, to)`, `$normal_(mean, std)`.
#' Values: `$item()`, `$size(dim)`, `$dim()`, `$numel()`, `$view(...)`,
#' `$reshape(...)`, `$squeeze(dim)`, `$unsqueeze(dim)`, `$t()`,
#' `$transpose(dim0, dim1)`, `$clone()`, `$to(dtype, device)`, `$float()`,
#' `$double()`, `$long()`, `$cpu()`, `$cuda()` (an error: fwdprop computes
#' on the CPU).
#' Arithmetic: `$mm()`, `$matmul()`, `$add()`, `$sub()`, `$mul()`,
#' `$div()`, `$pow()`, `$neg()`, `$exp()`, `$log()`, `$sqrt()`, `$abs()`,
#' `$sigmoid()`, `$tanh()`, `$relu()`, `$sin()`, `$cos()`, `$tan()`,
#' `$log2()`, `$log10()`, `$log1p()`, `$expm1()`, `$sinh()`, `$cosh()`,
#' `$asin()`, `$acos()`, `$atan()`, `$asinh()`, `$acosh()`, `$atanh()`,
#' `$lgamma()`, `$digamma()`, `$mean(dim, keepdim)`,
#' `$sum(dim, keepdim)`, `$max()`, `$min()`, `$clamp(min, max)`,
#' `$prod(dim, keepdim)`, `$var(dim, unbiased, keepdim, correction)`,
#' `$std(dim, unbiased, keepdim, correction)` (`unbiased = TRUE` divides
#' by n - 1, as torch; `correction` gives another offset),
#' `$norm(p = 2, dim, keepdim)`, `$softmax(dim)`, `$log_softmax(dim)`,
#' `$cumprod(dim)`.
#' Along a dimension: `$max(dim, keepdim)` and `$min(dim, keepdim)` return
#' a list of the values and their indices (1-based, a [torch_long()]
#' tensor), as torch for R; the gradient goes to the value at the index.
#' `$argmax(dim, keepdim)` and `$argmin(dim, keepdim)` return the indices
#' only (without `dim`: the position among all values, in row-major order).
#' Shapes: `$permute(...)` (the dimensions in a new order),
#' `$expand(...)` (sizes 1 repeated to the given sizes, -1 keeps a size),
#' `$flatten(start_dim = 1, end_dim = -1)`. See also [torch_where()].
#' R functions: `+ - * / ^ %% %/%` and unary `-` (broadcast as in torch:
#' sizes equal or 1 in each dimension, counted from the last), `exp()`,
#' `log()`, `sqrt()`, `abs()`, `tanh()`, `sin()`, `cos()`, `sigmoid()`,
#' the other functions of the methods above (e.g. `log2()`, `atan()`),
#' `cumsum()` and `cumprod()` (of the values in row-major order),
#' `mean()`, `sum()`, `prod()`,
#' `max()`, `min()` return tensors with torch's gradients (`max()` and
#' `min()` share theirs among tied values; `floor()`, `round()`, `sign()`
#' have zero gradients; other functions, such as `cummax()`, are an error
#' on a tensor that requires gradients); comparisons return a
#' plain logical array; `as.numeric()`, `as.matrix()`, `as.array()`,
#' [as_array()], `dim()` and `length()` convert.
#'
#' @param data A numeric, integer or logical vector, matrix or array, or a
#'   tensor (copied).
#' @param dtype `NULL` (the default: [torch_long()] for integers without
#'   `NA`, else [torch_float()]), [torch_float()], [torch_double()],
#'   [torch_long()], or one of `"float"`, `"double"`, `"long"`.
#' @param device `NULL` or `"cpu"` (see [torch_device()]).
#' @param requires_grad `TRUE` to record operations for gradients.
#' @param ... Unused; a misspelt argument is an error.
#' @return A tensor (class `fwdprop_tensor`).
#' @seealso [with_no_grad()], [gradcheck()], [torch_zeros()],
#'   [format.fwdprop_tensor()], [tensor_cat()].
#' @export
#' @examples
#' x <- torch_tensor(c(5.1, 7.4, 7.2, 5.7))
#' mu <- torch_tensor(2.5, requires_grad = TRUE)
#' y <- mean((x - mu)^2)
#' y
#' y$grad_fn
#' y$backward()
#' mu$grad
#' # the lecture's matrices, in double precision
#' X <- tensor(matrix(1:6, ncol = 2, byrow = TRUE), dtype = torch_double())
#' X$mm(tensor(matrix(c(0.2827, 0.9234, 0.2923, 0.8373, 0.2862, 0.2668), 2), dtype = torch_double()))
torch_tensor <- function(data, dtype = NULL, device = NULL, requires_grad = FALSE, ...) {
  call <- sys.call()
  check_no_dots(..., fun = "torch_tensor()", call = call, choices = c("dtype", "device", "requires_grad"))
  dt <- resolve_dtype(substitute(dtype), parent.frame(), call)
  make_tensor(data, dt, device, requires_grad, call)
}

#' @rdname torch_tensor
#' @export
tensor <- function(data, dtype = NULL, device = NULL, requires_grad = FALSE, ...) {
  call <- sys.call()
  check_no_dots(..., fun = "tensor()", call = call, choices = c("dtype", "device", "requires_grad"))
  dt <- resolve_dtype(substitute(dtype), parent.frame(), call)
  make_tensor(data, dt, device, requires_grad, call)
}

make_tensor <- function(data, dtype, device, requires_grad, call) {
  check_device(device, call)
  check_flag(requires_grad, "requires_grad", call = call)
  parts <- tensor_parts(data, "data", call)
  dtype <- dtype %||% parts$dtype
  check_grad_dtype(requires_grad, dtype, call)
  d <- parts$data
  if (dtype == "long") {
    d <- trunc(d)
  }
  new_tensor_obj(round_dtype(d, dtype), parts$shape, dtype, requires_grad)
}

check_grad_dtype <- function(requires_grad, dtype, call) {
  if (isTRUE(requires_grad) && dtype == "long") {
    fwdprop_error(
      "only tensors of floating point dtype can require gradients, not torch_long(): use `dtype = torch_float()` or `torch_double()`.",
      call = call
    )
  }
}

torch_available <- function() requireNamespace("torch", quietly = TRUE)

# What `torch_tensor()` accepts as data: list(data = row-major doubles,
# shape, dtype = the natural dtype). Errors name `arg`.
tensor_parts <- function(x, arg, call) {
  if (is_tensor(x)) {
    return(list(data = .subset2(x, "data"), shape = .subset2(x, "shape"), dtype = .subset2(x, "dtype")))
  }
  if (inherits(x, "torch_tensor")) {
    if (!torch_available()) {
      fwdprop_error(sprintf(
        "`%s` is a torch tensor, but the torch package is not installed to convert it; use `as.matrix()` where torch is available.",
        arg
      ), call = call)
    }
    x <- as.array(x)
  }
  if (!is.atomic(x) || is.null(x) || !is_numeric_storage(x)) {
    hint <- if (is.data.frame(x)) " Use `as.matrix()` to convert it." else ""
    fwdprop_error(sprintf(
      "`%s` must be a numeric vector, matrix or array, not %s.%s", arg, describe_object(x), hint
    ), call = call)
  }
  dtype <- if (is.integer(x) && !anyNA(x)) "long" else "float"
  d <- dim(x)
  list(data = from_r_array(x), shape = if (is.null(d)) length(x) else as.integer(d), dtype = dtype)
}

# Creation functions ------------------------------------------------------------

#' Tensors of zeros, ones and random numbers
#'
#' `torch_zeros()`, `torch_ones()`, `torch_rand()` (uniform on \[0, 1)),
#' `torch_randn()` (standard normal), `torch_empty()` (zeros here) and
#' `torch_eye()` make tensors of the given sizes, as in torch:
#' `torch_rand(7)` is a 1-dimensional tensor of 7 values, `torch_zeros(3,
#' 5)` a 3x5 matrix. `torch_manual_seed()` seeds the random numbers.
#'
#' @param ... The sizes, as numbers or one vector.
#' @param dtype As in [torch_tensor()]; the default is [torch_float()].
#' @param device `NULL` or `"cpu"`.
#' @param requires_grad `TRUE` to make a leaf that requires gradients.
#' @param n Rows (and columns) of the identity matrix.
#' @param seed A whole number.
#' @return A tensor; `torch_manual_seed()` returns `NULL` invisibly.
#' @seealso [torch_tensor()]
#' @export
#' @examples
#' torch_zeros(3, 5)
#' torch_ones(2)
#' torch_manual_seed(2021)
#' torch_rand(2, 3)
torch_zeros <- function(..., dtype = NULL, device = NULL, requires_grad = FALSE) {
  call <- sys.call()
  filled_tensor(list(...), function(n, dtype) numeric(n), resolve_dtype(substitute(dtype), parent.frame(), call), device, requires_grad, call)
}

#' @rdname torch_zeros
#' @export
torch_ones <- function(..., dtype = NULL, device = NULL, requires_grad = FALSE) {
  call <- sys.call()
  filled_tensor(list(...), function(n, dtype) rep(1, n), resolve_dtype(substitute(dtype), parent.frame(), call), device, requires_grad, call)
}

#' @rdname torch_zeros
#' @export
torch_empty <- function(..., dtype = NULL, device = NULL, requires_grad = FALSE) {
  call <- sys.call()
  filled_tensor(list(...), function(n, dtype) numeric(n), resolve_dtype(substitute(dtype), parent.frame(), call), device, requires_grad, call)
}

#' @rdname torch_zeros
#' @export
torch_rand <- function(..., dtype = NULL, device = NULL, requires_grad = FALSE) {
  call <- sys.call()
  filled_tensor(list(...), .tensor_uniform, resolve_dtype(substitute(dtype), parent.frame(), call), device, requires_grad, call)
}

#' @rdname torch_zeros
#' @export
torch_randn <- function(..., dtype = NULL, device = NULL, requires_grad = FALSE) {
  call <- sys.call()
  filled_tensor(list(...), .tensor_normal, resolve_dtype(substitute(dtype), parent.frame(), call), device, requires_grad, call)
}

#' @rdname torch_zeros
#' @export
torch_eye <- function(n, dtype = NULL, device = NULL, requires_grad = FALSE) {
  call <- sys.call()
  n <- check_count(n, "n", call = call)
  filled_tensor(list(n, n), function(k, dtype) as.vector(diag(n)), resolve_dtype(substitute(dtype), parent.frame(), call), device, requires_grad, call)
}

#' @rdname torch_zeros
#' @export
torch_manual_seed <- function(seed) {
  call <- sys.call()
  if (!is.numeric(seed) || length(seed) != 1L || is.na(seed) || seed != round(seed)) {
    fwdprop_error(sprintf("`seed` must be a whole number, not %s.", describe_value(seed)), call = call)
  }
  .tensor_seed(seed)
  invisible(NULL)
}

filled_tensor <- function(sizes, fill, dtype, device, requires_grad, call) {
  check_device(device, call)
  check_flag(requires_grad, "requires_grad", call = call)
  shape <- unlist(sizes, use.names = FALSE)
  if (!is.numeric(shape) || !length(shape) || anyNA(shape) || any(shape < 0) || any(shape != round(shape))) {
    fwdprop_error(sprintf("the sizes must be whole numbers of at least 0 (e.g. `3, 5` or `c(3, 5)`), not %s.", describe_value(shape)), call = call)
  }
  dtype <- dtype %||% "float"
  check_grad_dtype(requires_grad, dtype, call)
  n <- prod(shape)
  new_tensor_obj(round_dtype(as.double(fill(n, dtype)), dtype), as.integer(shape), dtype, requires_grad)
}

# Random streams: libtorch's CPU generator (R/init.R), seeded as torch for
# R seeded it when the lectures were made, so torch_rand() after
# torch_manual_seed() gives the lectures' numbers.
stream_dtype <- function(dtype) if (dtype == "double") "double" else "float"
.tensor_uniform <- function(n, dtype) torch_stream_uniform(n, stream_dtype(dtype))
.tensor_normal <- function(n, dtype) torch_stream_normal(n, stream_dtype(dtype))
# (a bad seed is reported as torch_manual_seed()'s)
.tensor_seed <- function(s) torch_generator_seed(check_torch_seed(s, call = sys.call(-1L)))

# $ fields and methods ---------------------------------------------------------

# Each entry: function(self, expr) returning the field's value or the
# method (a closure on `self`); `expr` is the tensor's expression, for
# messages.
tensor_members <- new.env(parent = emptyenv())

local({
  m <- tensor_members
  # fields
  m$grad <- function(self, expr) .subset2(self, "grad")
  m$requires_grad <- function(self, expr) .subset2(self, "requires_grad")
  m$grad_fn <- function(self, expr) tensor_grad_fn(self)
  m$is_leaf <- function(self, expr) is.null(.subset2(self, "node"))
  m$shape <- function(self, expr) .subset2(self, "shape")
  m$ndim <- function(self, expr) length(.subset2(self, "shape"))
  m$dtype <- function(self, expr) new_dtype(.subset2(self, "dtype"))
  m$device <- function(self, expr) cpu_device
  m$data <- function(self, expr) tensor_detach(self)
  # autograd
  m$backward <- function(self, expr) {
    function(gradient = NULL, retain_graph = FALSE, create_graph = FALSE) {
      if (!isFALSE(create_graph)) {
        fwdprop_error("`create_graph = TRUE` (gradients of gradients) is not supported by fwdprop.", call = sys.call())
      }
      tensor_backward(self, gradient, retain_graph, call = sys.call())
    }
  }
  m$requires_grad_ <- function(self, expr) {
    function(requires_grad = TRUE) {
      call <- sys.call()
      check_flag(requires_grad, "requires_grad", call = call)
      if (!is.null(.subset2(self, "node")) && !requires_grad) {
        fwdprop_error("`requires_grad_(FALSE)` works on leaves only; this tensor is the result of an operation: use `$detach()`.", call = call)
      }
      check_grad_dtype(requires_grad, .subset2(self, "dtype"), call)
      assign("requires_grad", requires_grad || !is.null(.subset2(self, "node")), envir = self)
      self
    }
  }
  m$detach <- function(self, expr) function() tensor_detach(self)
  m$detach_ <- function(self, expr) {
    function() {
      assign("node", NULL, envir = self)
      assign("requires_grad", FALSE, envir = self)
      self
    }
  }
  m$retain_grad <- function(self, expr) function() invisible(self)
  # in place
  m$zero_ <- function(self, expr) {
    function() {
      check_inplace(self, "zero_", sys.call())
      assign("data", numeric(length(.subset2(self, "data"))), envir = self)
      self
    }
  }
  m$fill_ <- function(self, expr) function(value) inplace_set(self, rep(as.double(value), length(.subset2(self, "data"))), "fill_", sys.call())
  # (the hot path in Rust first: it returns `self`, or NULL for the R code)
  m$sub_ <- function(self, expr) {
    function(other, alpha = 1) {
      .Call(fwdprop_tensor_inplace, "-", self, other, alpha, autograd_state) %||%
        inplace_arith(self, other, "-", alpha, "sub_", sys.call())
    }
  }
  m$add_ <- function(self, expr) {
    function(other, alpha = 1) {
      .Call(fwdprop_tensor_inplace, "+", self, other, alpha, autograd_state) %||%
        inplace_arith(self, other, "+", alpha, "add_", sys.call())
    }
  }
  m$mul_ <- function(self, expr) function(other) inplace_arith(self, other, "*", 1, "mul_", sys.call())
  m$div_ <- function(self, expr) function(other) inplace_arith(self, other, "/", 1, "div_", sys.call())
  m$copy_ <- function(self, expr) function(src) inplace_arith(self, src, "copy", 1, "copy_", sys.call())
  m$uniform_ <- function(self, expr) {
    function(from = 0, to = 1) {
      n <- length(.subset2(self, "data"))
      inplace_set(self, from + (to - from) * .tensor_uniform(n, .subset2(self, "dtype")), "uniform_", sys.call())
    }
  }
  m$normal_ <- function(self, expr) {
    function(mean = 0, std = 1) {
      n <- length(.subset2(self, "data"))
      inplace_set(self, mean + std * .tensor_normal(n, .subset2(self, "dtype")), "normal_", sys.call())
    }
  }
  # values and shapes
  m$item <- function(self, expr) function() tensor_item(self, sys.call())
  m$size <- function(self, expr) function(dim) tensor_size(self, dim, sys.call())
  m$dim <- function(self, expr) function() length(.subset2(self, "shape"))
  m$numel <- function(self, expr) function() length(.subset2(self, "data"))
  m$view <- function(self, expr) function(...) tensor_view(self, unlist(list(...)), call = sys.call())
  m$reshape <- function(self, expr) function(...) tensor_view(self, unlist(list(...)), name = "ViewBackward0", call = sys.call())
  m$squeeze <- function(self, expr) function(dim = NULL) tensor_squeeze(self, dim, sys.call())
  m$unsqueeze <- function(self, expr) function(dim) tensor_unsqueeze(self, dim, sys.call())
  m$t <- function(self, expr) function() tensor_t(self, call = sys.call())
  m$transpose <- function(self, expr) function(dim0, dim1) tensor_transpose(self, dim0, dim1, call = sys.call())
  m$clone <- function(self, expr) function() tensor_clone(self)
  m$to <- function(self, expr) {
    function(dtype = NULL, device = NULL, ...) {
      call <- sys.call()
      check_device(device, call)
      dt <- resolve_dtype(substitute(dtype), parent.frame(), call)
      if (is.null(dt)) self else tensor_to_dtype(self, dt)
    }
  }
  m$float <- function(self, expr) function() tensor_to_dtype(self, "float")
  m$double <- function(self, expr) function() tensor_to_dtype(self, "double")
  m$long <- function(self, expr) function() tensor_to_dtype(self, "long")
  m$cpu <- function(self, expr) function() self
  m$cuda <- function(self, expr) function(...) check_device("cuda", sys.call())
  # arithmetic
  m$mm <- function(self, expr) {
    function(mat2) {
      call <- sys.call()
      # labels are promises: deparsed only for an error message
      tensor_mm(
        self, as_operand(mat2, self, "mm", call, arg_label(substitute(mat2), "mat2")),
        arg_label(expr, "self"), arg_label(substitute(mat2), "mat2"), call
      )
    }
  }
  m$matmul <- function(self, expr) {
    function(other) {
      call <- sys.call()
      tensor_matmul(
        self, as_operand(other, self, "matmul", call, arg_label(substitute(other), "other")),
        arg_label(expr, "self"), arg_label(substitute(other), "other"), call
      )
    }
  }
  arith_methods <- c(add = "+", sub = "-", mul = "*", div = "/", pow = "^")
  for (nm in names(arith_methods)) {
    local({
      o <- arith_methods[[nm]]
      m[[nm]] <- function(self, expr) {
        function(other) {
          call <- sys.call()
          if (is_tensor(other)) {
            return(tensor_arith(o, self, other, 1L, call))
          }
          tensor_arith(o, self, as_operand(other, self, o, call, arg_label(substitute(other), "other")), 2L, call)
        }
      }
    })
  }
  for (f in names(unary_ops)) {
    local({
      fun <- f
      m[[fun]] <- function(self, expr) function() tensor_unary(fun, self)
    })
  }
  m$mean <- function(self, expr) function(dim = NULL, keepdim = FALSE) tensor_reduce(self, "mean", dim, keepdim, sys.call())
  m$sum <- function(self, expr) function(dim = NULL, keepdim = FALSE) tensor_reduce(self, "sum", dim, keepdim, sys.call())
  m$clamp <- function(self, expr) function(min = NULL, max = NULL) tensor_clamp(self, min, max, sys.call())
  tensor_ops_members(m)
})

#' @export
`$.fwdprop_tensor` <- function(x, name) {
  f <- tensor_members[[name]]
  if (is.null(f)) {
    unknown_member(substitute(x), name, sys.call())
  }
  f(x, substitute(x))
}

#' @export
`[[.fwdprop_tensor` <- function(x, i, ...) {
  if (is.character(i) && length(i) == 1L && ...length() == 0L) {
    f <- tensor_members[[i]]
    if (is.null(f)) {
      unknown_member(substitute(x), i, sys.call())
    }
    return(f(x, substitute(x)))
  }
  to_r_array(.subset2(x, "data"), .subset2(x, "shape"))[[i, ...]]
}

unknown_member <- function(expr, name, call) {
  fwdprop_error(sprintf(
    "`%s$%s` is not available: fwdprop tensors have the fields and methods listed in `?torch_tensor` (e.g. `$grad`, `$backward()`, `$mm()`, `$view()`, `$item()`).",
    arg_label(expr, "x"), name
  ), call = call)
}

#' @export
`$<-.fwdprop_tensor` <- function(x, name, value) {
  call <- sys.call()
  if (identical(name, "requires_grad")) {
    check_flag(value, "requires_grad", call = call)
    check_grad_dtype(value, .subset2(x, "dtype"), call)
    assign("requires_grad", value || !is.null(.subset2(x, "node")), envir = x)
    return(x)
  }
  if (identical(name, "grad") && (is.null(value) || is_tensor(value))) {
    assign("grad", value, envir = x)
    return(x)
  }
  fwdprop_error(sprintf(
    "cannot set `$%s`: only `$requires_grad` (TRUE or FALSE) and `$grad` (NULL or a tensor) can be set. Use `x[i] <- value` or in-place methods such as `$copy_()` to change values.",
    name
  ), call = call)
}

# An argument's expression as a short label for messages, or `fallback`.
arg_label <- function(expr, fallback) {
  if (is.symbol(expr)) {
    return(as.character(expr))
  }
  if (is.call(expr)) {
    txt <- deparse(expr, width.cutoff = 500L)
    if (length(txt) == 1L && nchar(txt) <= 30L) {
      return(txt)
    }
  }
  fallback
}

# The other operand of a method or operator as a tensor: a tensor, or R
# numbers, which take `like`'s dtype (a fractional number with an integer
# tensor gives float).
as_operand <- function(x, like, what, call, arg = NULL) {
  if (is.environment(x) && any(oldClass(x) == "fwdprop_tensor")) {
    return(x)
  }
  if (is.double(x) && length(x) == 1L && is.null(attributes(x))) {
    # the common case: one number
    dtype <- .subset2(like, "dtype")
    if (dtype == "double") {
      return(new_tensor_obj(x, integer(0), dtype))
    }
    return(new_tensor_obj(.Call(fwdprop_round_f32, x), integer(0), "float"))
  }
  if (!is.atomic(x) || is.null(x) || !is_numeric_storage(x) || is.object(x) && !is.matrix(x)) {
    if (!is.null(arg)) {
      fwdprop_error(sprintf("`%s` must be a tensor or numbers, not %s.", arg, describe_object(x)), call = call)
    }
    fwdprop_error(sprintf(
      "cannot use %s with a tensor in `%s`: the other operand must be a tensor or numbers.",
      describe_object(x), what
    ), call = call)
  }
  dtype <- .subset2(like, "dtype")
  if (dtype == "long" && typeof(x) == "double") {
    dtype <- "float"
  }
  d <- dim(x)
  if (is.null(d) && length(x) == 1L) {
    return(new_tensor_obj(round_dtype(as.double(x), dtype), integer(0), dtype))
  }
  new_tensor_obj(round_dtype(from_r_array(x), dtype), if (is.null(d)) length(x) else as.integer(d), dtype)
}

tensor_detach <- function(x) {
  new_tensor_obj(.subset2(x, "data"), .subset2(x, "shape"), .subset2(x, "dtype"))
}

tensor_clone <- function(x) {
  if (!grad_needed(x)) {
    return(tensor_detach(x))
  }
  op_result(.subset2(x, "data"), .subset2(x, "shape"), .subset2(x, "dtype"), "CloneBackward0", list(x), function(g) list(g))
}

tensor_to_dtype <- function(x, dtype) {
  from <- .subset2(x, "dtype")
  if (from == dtype) {
    return(x)
  }
  d <- .subset2(x, "data")
  out <- if (dtype == "long") trunc(d) else round_dtype(d, dtype)
  if (!grad_needed(x) || dtype == "long") {
    return(new_tensor_obj(out, .subset2(x, "shape"), dtype))
  }
  op_result(out, .subset2(x, "shape"), dtype, "ToCopyBackward0", list(x), function(g) list(round_dtype(g, from)))
}

tensor_item <- function(x, call) {
  d <- .subset2(x, "data")
  if (length(d) != 1L) {
    fwdprop_error(sprintf(
      "`$item()` needs a tensor with one value, not one of shape %s (%d values): use `as.numeric()` or `as_array()` for all of them.",
      shape_label(.subset2(x, "shape")), length(d)
    ), call = call)
  }
  if (.subset2(x, "dtype") == "long") as.integer(d) else d
}

tensor_size <- function(x, dim, call) {
  shape <- .subset2(x, "shape")
  if (missing(dim)) {
    return(shape)
  }
  nd <- length(shape)
  ok <- is.numeric(dim) && length(dim) == 1L && !is.na(dim) && dim == round(dim) && dim != 0 && abs(dim) <= nd
  if (!ok) {
    fwdprop_error(sprintf(
      "`dim` must be a dimension of this %d-dimensional tensor (1 to %d, or -1 to -%d counting from the end), not %s.",
      nd, nd, nd, describe_value(dim)
    ), call = call)
  }
  shape[[if (dim < 0) nd + 1L + as.integer(dim) else as.integer(dim)]]
}

tensor_squeeze <- function(x, dim, call) {
  shape <- .subset2(x, "shape")
  if (is.null(dim)) {
    new_shape <- shape[shape != 1L]
  } else {
    k <- reduce_dims(dim, shape, call)
    new_shape <- if (length(shape) && shape[[k]] == 1L) shape[-k] else shape
  }
  tensor_view(x, new_shape, name = if (is.null(dim)) "SqueezeBackward0" else "SqueezeBackward1", call = call)
}

tensor_unsqueeze <- function(x, dim, call) {
  shape <- .subset2(x, "shape")
  nd <- length(shape) + 1L
  if (!is.numeric(dim) || length(dim) != 1L || is.na(dim) || dim != round(dim) || dim == 0 || abs(dim) > nd) {
    fwdprop_error(sprintf("`dim` must be a position 1 to %d (or -1 to -%d), not %s.", nd, nd, describe_value(dim)), call = call)
  }
  k <- if (dim < 0) nd + 1L + as.integer(dim) else as.integer(dim)
  tensor_view(x, append(shape, 1L, after = k - 1L), name = "UnsqueezeBackward0", call = call)
}

# In-place changes --------------------------------------------------------------

# torch's rule: a leaf that requires gradients may change in place only
# inside with_no_grad(); a recorded result not at all (here).
check_inplace <- function(self, what, call) {
  if (autograd_state$enabled && .subset2(self, "requires_grad")) {
    shown <- if (what == "[<-") "`x[...] <- value`" else sprintf("`$%s()`", what)
    if (is.null(.subset2(self, "node"))) {
      fwdprop_error(sprintf(
        "a leaf tensor that requires grad is being used in an in-place operation (%s): wrap the update in `with_no_grad({ ... })`, as an optimiser step does.",
        shown
      ), call = call)
    }
    fwdprop_error(sprintf(
      "%s on the result of a recorded operation is not supported: write it out of place (e.g. `y <- y - 1` instead of `y$sub_(1)`), or `$detach()` first.",
      shown
    ), call = call)
  }
}

inplace_set <- function(self, data, what, call) {
  check_inplace(self, what, call)
  assign("data", round_dtype(as.double(data), .subset2(self, "dtype")), envir = self)
  self
}

inplace_arith <- function(self, other, op, alpha, what, call) {
  check_inplace(self, what, call)
  o <- as_operand(other, self, what, call)
  shape <- .subset2(self, "shape")
  so <- .subset2(o, "shape")
  if (!(length(so) == length(shape) && all(so == shape)) && !identical(broadcast_shape(shape, so), shape)) {
    fwdprop_error(sprintf(
      "`$%s()` cannot change the shape of the tensor (%s) to broadcast with the other operand (%s).",
      what, shape_label(shape), shape_label(so)
    ), call = call)
  }
  od <- if (length(so) == length(shape) && all(so == shape)) .subset2(o, "data") else expand_data(.subset2(o, "data"), so, shape)
  d <- .subset2(self, "data")
  out <- switch(op,
    "-" = d - alpha * od,
    "+" = d + alpha * od,
    "*" = d * od,
    "/" = d / od,
    "copy" = rep_len(od, length(d))
  )
  dtype <- .subset2(self, "dtype")
  if (dtype == "long") {
    out <- trunc(out)
  }
  assign("data", round_dtype(as.double(out), dtype), envir = self)
  self
}

# Group generics --------------------------------------------------------------

arith_ops <- c("+", "-", "*", "/", "^", "%%", "%/%")

#' @export
Ops.fwdprop_tensor <- function(e1, e2) {
  op <- .Generic
  if (nargs() == 1L) {
    return(switch(op,
      "-" = tensor_unary("neg", e1),
      "+" = e1,
      "!" = !to_r_array(.subset2(e1, "data") != 0, .subset2(e1, "shape"))
    ))
  }
  # the hot path (+ - * / ^ of float or double tensors of one dtype and
  # shapes R recycles as torch broadcasts), the same values and graph as
  # tensor_arith() gives; NULL for every other case
  res <- .Call(fwdprop_tensor_arith, op, e1, e2, autograd_state)
  if (!is.null(res)) {
    return(res)
  }
  # (oldClass() and any() are builtins: cheaper than inherits())
  t1 <- is.environment(e1) && any(oldClass(e1) == "fwdprop_tensor")
  t2 <- is.environment(e2) && any(oldClass(e2) == "fwdprop_tensor")
  if (t1 && t2) {
    a <- e1
    b <- e2
    kind <- 1L
  } else if (t1) {
    a <- e1
    b <- as_operand(e2, e1, op, sys.call())
    kind <- 2L
  } else {
    a <- as_operand(e1, e2, op, sys.call())
    b <- e2
    kind <- 3L
  }
  if (any(op == arith_ops)) {
    return(tensor_arith(op, a, b, kind, sys.call()))
  }
  # comparisons and logic: a plain logical array of the broadcast shape
  out <- with_no_grad(tensor_arith("-", a, b, kind, sys.call()))
  shape <- .subset2(out, "shape")
  fun <- get(op, envir = baseenv(), mode = "function")
  res <- fun(expand_data(.subset2(a, "data"), .subset2(a, "shape"), shape), expand_data(.subset2(b, "data"), .subset2(b, "shape"), shape))
  to_r_array(res, shape)
}

#' @export
Math.fwdprop_tensor <- function(x, ...) {
  g <- .Generic
  if (!is.null(unary_ops[[g]]) && ...length() == 0L) {
    return(tensor_unary(g, x))
  }
  if (g == "log") {
    base <- list(...)[[1L]]
    return(tensor_arith("/", tensor_unary("log", x), as_operand(log(base), x, "log", sys.call()), 2L))
  }
  # no gradient (zero in torch): floor(), round(), sign(), ...; cumsum()
  # of the values in (row-major) order
  if (g == "cumprod") {
    return(tensor_cumprod(x))
  }
  out <- get(g, envir = baseenv(), mode = "function")(.subset2(x, "data"), ...)
  shape <- .subset2(x, "shape")
  if (length(out) != length(.subset2(x, "data"))) {
    return(out)
  }
  dtype <- .subset2(x, "dtype")
  out <- round_dtype(as.double(out), dtype)
  if (!grad_needed(x)) {
    return(new_tensor_obj(out, shape, dtype))
  }
  name <- paste0(toupper(substr(g, 1L, 1L)), substring(g, 2L), "Backward0")
  if (g == "cumsum") {
    return(op_result(out, shape, dtype, name, list(x), function(g) list(round_dtype(rev(cumsum(rev(g))), dtype))))
  }
  if (!any(g == math_zero_grad)) {
    fwdprop_error(sprintf(
      "`%s()` of a tensor that requires gradients has no gradient in fwdprop: compute it inside `with_no_grad()` or on `$detach()`, or write it with operations that have one (see `?torch_tensor`).",
      g
    ), call = as.call(c(as.name(g), as.list(sys.call())[-1L])))
  }
  op_result(out, shape, dtype, name, list(x), function(g) list(numeric(length(g))))
}

#' @export
Summary.fwdprop_tensor <- function(..., na.rm = FALSE) {
  args <- list(...)
  g <- .Generic
  if (length(args) == 1L && is_tensor(args[[1L]]) && g %in% c("sum", "max", "min", "prod")) {
    x <- args[[1L]]
    if (g == "prod") {
      return(tensor_prod(x, NULL, FALSE, sys.call()))
    }
    return(if (g == "sum") tensor_reduce(x, "sum", call = sys.call()) else tensor_extreme(x, g))
  }
  vals <- lapply(args, function(a) if (is_tensor(a)) .subset2(a, "data") else a)
  do.call(g, c(vals, na.rm = na.rm))
}

#' @export
mean.fwdprop_tensor <- function(x, dim = NULL, keepdim = FALSE, ...) {
  tensor_reduce(x, "mean", dim, keepdim, sys.call())
}

#' @export
sigmoid.fwdprop_tensor <- function(x) tensor_unary("sigmoid", x)

#' @export
t.fwdprop_tensor <- function(x) tensor_t(x, call = sys.call())

# Conversions ---------------------------------------------------------------------

#' Convert a tensor to an R array
#'
#' `as_array(x)` returns the values of a tensor as an R array with the
#' tensor's shape (R's index order: `as_array(x)[i, j]` is `x[i, j]`), a
#' vector for a 1-dimensional tensor and a single number for a
#' 0-dimensional one, as torch's `as_array()`. `as.matrix()`,
#' `as.numeric()` and `as.vector()` work as on that array.
#'
#' @param x A tensor.
#' @return A double array (integer for [torch_long()] tensors).
#' @seealso [torch_tensor()]
#' @export
#' @examples
#' x <- torch_tensor(matrix(1:6, 2), dtype = torch_double())
#' as_array(x)
#' as.numeric(x)
as_array <- function(x) {
  if (!is_tensor(x)) {
    if (inherits(x, "torch_tensor") && torch_available()) {
      return(getExportedValue("torch", "as_array")(x))
    }
    fwdprop_error(sprintf("`x` must be a tensor, not %s.", describe_object(x)), call = sys.call())
  }
  tensor_array(x)
}

tensor_array <- function(x) {
  d <- .subset2(x, "data")
  if (.subset2(x, "dtype") == "long" && all(abs(d) <= .Machine$integer.max)) {
    d <- as.integer(d)
  }
  to_r_array(d, .subset2(x, "shape"))
}

#' @export
as.array.fwdprop_tensor <- function(x, ...) tensor_array(x)

#' @export
as.matrix.fwdprop_tensor <- function(x, ...) as.matrix(tensor_array(x))

#' @export
as.vector.fwdprop_tensor <- function(x, mode = "any") as.vector(tensor_array(x), mode)

#' @export
as.double.fwdprop_tensor <- function(x, ...) as.double(tensor_array(x))

#' @export
as.numeric.fwdprop_tensor <- function(x, ...) as.double(tensor_array(x))

#' @export
as.integer.fwdprop_tensor <- function(x, ...) as.integer(tensor_array(x))

#' @export
as.logical.fwdprop_tensor <- function(x, ...) as.logical(tensor_array(x))

#' @export
as.data.frame.fwdprop_tensor <- function(x, ...) as.data.frame(as.matrix(x), ...)

#' @export
dim.fwdprop_tensor <- function(x) .subset2(x, "shape")

#' @export
length.fwdprop_tensor <- function(x) length(.subset2(x, "data"))

#' @export
`[.fwdprop_tensor` <- function(x, ..., drop = TRUE) {
  call <- sys.call()
  idx <- tensor_index_args(x, sys.call(), parent.frame(), call)
  tensor_index(x, idx, drop, call)
}

#' @export
`[<-.fwdprop_tensor` <- function(x, ..., value) {
  call <- sys.call()
  check_inplace(x, "[<-", call)
  idx <- tensor_index_args(x, call[-length(call)], parent.frame(), call)
  v <- if (is_tensor(value)) to_r_array(.subset2(value, "data"), .subset2(value, "shape")) else value
  if (!is.atomic(v) || is.null(v) || !is_numeric_storage(v)) {
    fwdprop_error(sprintf("cannot assign %s into a tensor: the value must be numeric.", describe_object(value)), call = call)
  }
  shape <- .subset2(x, "shape")
  arr <- to_r_array(.subset2(x, "data"), shape)
  arr <- do.call(`[<-`, c(list(arr), idx, list(value = as.double(v))))
  assign("data", round_dtype(from_r_array(arr), .subset2(x, "dtype")), envir = x)
  x
}

# The index arguments of `x[...]` as a list (an empty argument as the
# empty symbol); a negative single number counts from the end, as in torch.
tensor_index_args <- function(x, cl, env, call) {
  args <- as.list(cl)[-(1:2)]
  if (!is.null(names(args))) {
    args <- args[names(args) != "drop"]
  }
  shape <- .subset2(x, "shape")
  if (length(args) != max(1L, length(shape))) {
    fwdprop_error(sprintf(
      "a tensor of shape %s takes %d index%s in `[`, not %d.",
      shape_label(shape), max(1L, length(shape)), if (length(shape) > 1L) "es" else "", length(args)
    ), call = call)
  }
  # an empty index (`x[, 2]`) selects everything: seq_len() of its size
  lapply(seq_along(args), function(k) {
    if (identical(args[[k]], quote(expr = ))) {
      return(structure(seq_len(if (length(shape)) shape[[k]] else 1L), fwdprop_all = TRUE))
    }
    v <- eval(args[[k]], env)
    if (is_tensor(v)) {
      v <- tensor_array(v)
    }
    if (is.numeric(v) && length(v) == 1L && !is.na(v) && v < 0) {
      v <- shape[[k]] + 1 + v
    }
    v
  })
}

#' @export
c.fwdprop_tensor <- function(...) {
  args <- list(...)
  nms <- names(args)
  pieces <- lapply(seq_along(args), function(i) {
    a <- args[[i]]
    piece <- if (is.list(a) && !is.object(a)) a else list(a)
    if (!is.null(nms) && nzchar(nms[[i]]) && !(is.list(a) && !is.object(a))) {
      names(piece) <- nms[[i]]
    }
    piece
  })
  do.call(c, pieces)
}

# Concatenation ------------------------------------------------------------

#' Concatenate tensors, like torch's `torch_cat()`
#'
#' `tensor_cat(tensors, dim)` joins a list of tensors along dimension `dim`,
#' as `torch_cat()` does in torch for R: for matrices `dim = 1` stacks rows
#' (like [rbind()]) and `dim = 2` columns (like [cbind()]); `-1` counts from
#' the end. Gradients flow back to each piece.
#'
#' `torch_stack(tensors, dim)` joins tensors of one shape along a new
#' dimension `dim` (so 8 vectors of length 2 make an 8x2 matrix with the
#' default `dim = 1`).
#'
#' `torch_cat()` is the same function under torch's name, so lecture code
#' such as `torch_cat(c(beta_1, beta_2, beta_3), 2)` runs unchanged (`c()`
#' on tensors returns a list). When every element is a real torch tensor
#' (class `torch_tensor`) and the torch package is installed, `torch_cat()`
#' hands the call to torch's own torch_cat() instead. If both packages are
#' attached, whichever was attached last provides `torch_cat()`.
#'
#' @param tensors A `list()` of tensors, or of numeric matrices and arrays
#'   (made tensors as by [torch_tensor()]).
#' @param dim The dimension to join along.
#' @return A tensor. All pieces need the same number of dimensions and the
#'   same sizes except along `dim`; the dtype is the widest of theirs.
#' @seealso [torch_tensor()]
#' @export
#' @examples
#' beta_1 <- tensor(matrix(c(0.6234, 0.8609), ncol = 1), dtype = torch_double())
#' beta_2 <- tensor(matrix(c(0.6403, 0.0095), ncol = 1), dtype = torch_double())
#' torch_cat(c(beta_1, beta_2), 2)
#' tensor_cat(list(beta_1, beta_2), 1)
tensor_cat <- function(tensors, dim = 1L) {
  cat_tensors(tensors, dim, call = sys.call())
}

#' @rdname tensor_cat
#' @export
torch_cat <- function(tensors, dim = 1L) {
  if (is.list(tensors) && !is.object(tensors) && length(tensors) > 0L &&
    all(vapply(tensors, inherits, logical(1L), what = "torch_tensor")) &&
    torch_available()) {
    return(getExportedValue("torch", "torch_cat")(tensors, dim))
  }
  cat_tensors(tensors, dim, call = sys.call())
}

#' @rdname tensor_cat
#' @export
torch_stack <- function(tensors, dim = 1L) {
  call <- sys.call()
  if (!is.list(tensors) || is.object(tensors) || !length(tensors) || !all(vapply(tensors, is_tensor, logical(1L)))) {
    fwdprop_error(sprintf("`tensors` must be a non-empty list of tensors, not %s.", describe_object(tensors)), call = call)
  }
  shapes <- lapply(tensors, function(t) .subset2(t, "shape"))
  for (k in seq_along(shapes)) {
    if (!identical(shapes[[k]], shapes[[1L]])) {
      fwdprop_error(sprintf(
        "stack expects each tensor to be equal size, but `tensors[[1]]` is %s and `tensors[[%d]]` is %s.",
        shape_label(shapes[[1L]]), k, shape_label(shapes[[k]])
      ), call = call)
    }
  }
  tensor_cat_impl(lapply(tensors, tensor_unsqueeze, dim = dim, call = call), dim, call)
}

cat_tensors <- function(tensors, dim, call) {
  if (!is.list(tensors) || is.object(tensors)) {
    what <- if (is_tensor(tensors)) sprintf("a tensor of shape %s", shape_label(.subset2(tensors, "shape"))) else describe_object(tensors)
    fwdprop_error(sprintf(
      "`tensors` must be a list of tensors (e.g. `list(a, b)` or `c(a, b)`), not %s.",
      what
    ), call = call)
  }
  if (length(tensors) == 0L) {
    fwdprop_error("`tensors` must hold at least one tensor, not an empty list.", call = call)
  }
  first <- Find(is_tensor, tensors)
  tensors <- lapply(seq_along(tensors), function(i) {
    t <- tensors[[i]]
    if (is_tensor(t)) {
      return(t)
    }
    parts <- tensor_parts(t, sprintf("tensors[[%d]]", i), call)
    dtype <- if (is.null(first)) parts$dtype else .subset2(first, "dtype")
    new_tensor_obj(round_dtype(parts$data, dtype), parts$shape, dtype)
  })
  ok <- is.numeric(dim) && length(dim) == 1L && !is.na(dim) && dim == round(dim)
  if (!ok) {
    fwdprop_error(sprintf("`dim` must be a whole number, a dimension of the tensors, not %s.", describe_value(dim)), call = call)
  }
  tensor_cat_impl(tensors, dim, call)
}

# Printing -----------------------------------------------------------------

#' Print tensors as torch for R does
#'
#' `print()` shows a tensor as torch for R prints it: a first line
#' `torch_tensor`, the values, and a footer such as `[ CPUFloatType{3,2} ]`
#' giving the dtype and the shape (`{}` for a single number, `{7}` for a
#' vector of 7). `format()` returns those lines as a character vector.
#'
#' A 0-dimensional tensor (a mean, a loss) shows its value with 6
#' significant digits (C's `%g`: `20.0462`, `-5.61331`). A vector is shown
#' as a column. A tensor of more than 2 dimensions is shown matrix by
#' matrix, each headed `(i,.,.) = ` and laid out on its own.
#'
#' The layout is libtorch's rule. Let `hi` and `lo` be
#' `floor(log10(v)) + 1` of the largest and the smallest absolute finite
#' value (1 when that value is 0):
#' - all finite values whole numbers: printed as integers (`" 1  2"`), in a
#'   width of `hi + 1`, with C's `%g` (so 7 to 9 digits show 6 significant
#'   digits, `1.23457e+06`); from 10 digits on, in scientific notation with 4
#'   decimals (`1.0000e+10`).
#' - otherwise, when `hi - lo > 4` (values spanning more than four orders of
#'   magnitude): scientific notation with 4 decimals (`1.2346e-05`), width
#'   11 (12 for three-digit exponents).
#' - otherwise 4 decimals (`0.1137`), width 7 (or `hi + 6` for values of 10
#'   and more); when `hi > 5` or `hi < 0` (values from 100000 on, or all
#'   below 0.01) the values are divided by a common factor `10^(hi - 1)`
#'   shown above them (`1e+05 *`, `0.001 *`).
#'
#' Values are right-aligned in that width and separated by one space.
#' `NA` and `NaN` print as `nan`, `Inf` and `-Inf` as `inf` and `-inf`
#' (torch has no `NA`). A tensor with no rows or no columns prints only the
#' header and footer. Columns that do not fit in `width` characters are
#' printed in blocks headed `Columns 1 to 10`, and output longer than `n`
#' lines is cut as torch cuts it (`... [the output was truncated (use n=-1
#' to disable)]`).
#'
#' Three deliberate differences from libtorch, all keeping the columns
#' aligned: the width comes from the largest *absolute* value (libtorch
#' uses the largest positive one, so large negative values overflow their
#' column); a `Columns` heading is on its own line (libtorch runs the
#' first row into it); and rows after the first are not shifted by a space
#' under a common factor.
#'
#' @param x A tensor.
#' @param n Lines of values to show before cutting the output; `-1` (or
#'   any value below 2) shows everything. torch's default is 30.
#' @param width Line width used to split wide tensors into column blocks;
#'   torch uses 80.
#' @param ... Ignored.
#' @return `format()`: a character vector, one element per line.
#'   `print()`: `x`, invisibly.
#' @seealso [torch_tensor()]
#' @export
#' @examples
#' tensor(matrix(c(0.1137034, 0.6222994), ncol = 1), dtype = torch_double())
#' tensor(matrix(1:6, ncol = 2, byrow = TRUE))
#' tensor(matrix(c(1e-6, 1, NA, Inf), 2))
#' torch_tensor(20.04621)$mean()
#' torch_tensor(array(1:12, c(2, 3, 2)))
#' format(tensor(matrix(c(123456.7, 234567.8), 1)))
format.fwdprop_tensor <- function(x, n = 30L, width = 80L, ...) {
  call <- sys.call()
  if (!is.numeric(n) || length(n) != 1L || is.na(n)) {
    fwdprop_error(sprintf("`n` must be a single number (-1 for no limit), not %s.", describe_value(n)), call = call)
  }
  width <- check_count(width, "width", call = call)
  shape <- .subset2(x, "shape")
  v <- .subset2(x, "data")
  footer <- sprintf("[ CPU%sType{%s} ]", dtype_label(.subset2(x, "dtype")), paste(shape, collapse = ","))
  body <- switch(as.character(min(length(shape), 3L)),
    "0" = format_scalar(v),
    "1" = tensor_body_lines(matrix(v, ncol = 1L), n, width),
    "2" = tensor_body_lines(matrix(v, shape[[1L]], shape[[2L]], byrow = TRUE), n, width),
    "3" = tensor_slices_lines(v, shape, n, width)
  )
  if (n > 1 && length(body) + 1L > n) {
    body <- c(body[seq_len(n)], "... [the output was truncated (use n=-1 to disable)]")
  }
  c("torch_tensor", body, footer)
}

#' @rdname format.fwdprop_tensor
#' @export
print.fwdprop_tensor <- function(x, n = 30L, width = 80L, ...) {
  cat(format(x, n = n, width = width), sep = "\n")
  invisible(x)
}

# libtorch's choice of number format for a set of values (see the docs of
# format.fwdprop_tensor): the width `sz`, a sprintf format and a scale.
tensor_print_layout <- function(v) {
  fin <- v[is.finite(v)]
  int_mode <- all(fin == ceiling(fin))
  if (length(fin) == 0L) {
    exp_min <- 1
    exp_max <- 1
  } else {
    lo <- min(abs(fin))
    hi <- max(abs(fin))
    exp_min <- if (lo != 0) floor(log10(lo)) + 1 else 1
    exp_max <- if (hi != 0) floor(log10(hi)) + 1 else 1
  }
  scale <- 1
  if (int_mode) {
    if (exp_max > 9) {
      sz <- 11
      fmt <- "%.4e"
    } else {
      sz <- exp_max + 1
      fmt <- "%g"
    }
  } else if (exp_max - exp_min > 4) {
    sz <- if (abs(exp_max) > 99 || abs(exp_min) > 99) 12 else 11
    fmt <- "%.4e"
  } else if (exp_max > 5 || exp_max < 0) {
    sz <- 7
    scale <- 10^(exp_max - 1)
    fmt <- "%.4f"
  } else {
    sz <- if (exp_max == 0) 7 else exp_max + 6
    fmt <- "%.4f"
  }
  list(sz = as.integer(sz), fmt = fmt, scale = scale)
}

# The cells of `m` as right-aligned strings (a character matrix).
format_tensor_cells <- function(m, layout) {
  v <- as.vector(m)
  s <- character(length(v))
  fin <- is.finite(v)
  s[fin] <- sprintf(layout$fmt, v[fin] / layout$scale)
  s[is.na(v)] <- "nan"
  s[!fin & !is.na(v)] <- ifelse(v[!fin & !is.na(v)] > 0, "inf", "-inf")
  pad <- pmax(0L, layout$sz - nchar(s))
  s <- paste0(strrep(" ", pad), s)
  dim(s) <- dim(m)
  s
}

# The value lines (without header and footer). Only the rows and columns
# that can appear within `n` lines are formatted; the layout uses all values.
tensor_body_lines <- function(m, n, width) {
  d <- dim(m)
  if (d[1L] == 0L || d[2L] == 0L) {
    return(character())
  }
  layout <- tensor_print_layout(as.vector(m))
  per_line <- max(1L, width %/% (layout$sz + 1L))
  rows <- d[1L]
  cols <- d[2L]
  if (n > 1) {
    rows <- min(rows, n)
    cols <- min(cols, n * per_line)
  }
  cells <- format_tensor_cells(m[seq_len(rows), seq_len(cols), drop = FALSE], layout)
  blocks <- d[2L] > per_line
  scale_line <- if (layout$scale != 1) sprintf("%s *", sprintf("%.4g", layout$scale)) else NULL
  lines <- character()
  for (first in seq.int(1L, cols, by = per_line)) {
    last <- min(first + per_line - 1L, d[2L])
    if (blocks) {
      if (first > 1L) {
        lines <- c(lines, "")
      }
      lines <- c(lines, sprintf("Columns %d to %d", first, last))
    }
    block <- cells[, first:min(last, cols), drop = FALSE]
    lines <- c(lines, scale_line, do.call(paste, c(asplit(block, 2L), sep = " ")))
  }
  lines
}

# A 0-dimensional tensor's value as C++'s default stream output (`%g`).
format_scalar <- function(v) {
  if (is.na(v)) {
    return("nan")
  }
  if (is.infinite(v)) {
    return(if (v > 0) "inf" else "-inf")
  }
  sprintf("%g", v)
}

# A tensor of 3 or more dimensions: one block per matrix, headed
# "(i,j,.,.) = ", each laid out on its own (as libtorch does; the first
# index runs fastest) and indented by one space.
tensor_slices_lines <- function(v, shape, n, width) {
  nd <- length(shape)
  lead <- shape[seq_len(nd - 2L)]
  r <- shape[[nd - 1L]]
  k <- shape[[nd]]
  per <- r * k
  if (per == 0 || prod(lead) == 0) {
    return(character())
  }
  lines <- character()
  # slice s (row-major over the leading dims) starts at (s - 1) * per
  counters <- as.matrix(expand.grid(lapply(lead, seq_len)))
  for (row in seq_len(nrow(counters))) {
    ctr <- counters[row, ]
    s <- sum((ctr - 1) * rev(cumprod(rev(c(lead[-1L], 1)))))
    m <- matrix(v[s * per + seq_len(per)], r, k, byrow = TRUE)
    block <- tensor_body_lines(m, -1, width - 1L)
    block <- ifelse(nzchar(block) & !startsWith(block, "Columns"), paste0(" ", block), block)
    if (row > 1L) {
      lines <- c(lines, "")
    }
    lines <- c(lines, sprintf("(%s,.,.) = ", paste(ctr, collapse = ",")), block)
    if (n > 1 && length(lines) > n) {
      break
    }
  }
  lines
}
