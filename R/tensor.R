# Torch-style tensors on plain matrices: a light S3 class over a double
# matrix, so the lecture's torch code runs with `torch_tensor()` renamed to
# `tensor()`.

# Constructor and conversion ---------------------------------------------

#' Torch-style tensors on plain R matrices
#'
#' `tensor()` wraps a numeric matrix in the light class `fwdprop_tensor`, so
#' code written for torch for R runs with only the constructor renamed:
#' `X$mm(beta)`, `sigmoid(z)`, `a * gamma`, `1 / (1 + exp(-z))` and
#' [torch_cat()] work and print as torch does. Underneath is an ordinary
#' double matrix, and every computation is fwdprop's ([mm()], [sigmoid()]):
#' no `libtorch` is needed.
#'
#' @section Shape:
#' A tensor is always 2-dimensional. A matrix keeps its shape; a vector
#' (where `torch_tensor(1:3)` would give a 1-dimensional tensor of size
#' `{3}`) becomes a one-column matrix, `3x1`, as [as.matrix()] makes it, with
#' the vector's names as row names. Arrays of more than 2 dimensions are
#' refused. Integer and logical values are stored as double.
#'
#' @section Methods:
#' - `X$mm(mat2)`: the matrix product, as a tensor, with the rules and
#'   values of [mm()]; `mat2` may be a tensor or a plain numeric matrix.
#' - `X$sigmoid()`, `X$t()`: [sigmoid()] and [t()] as tensors.
#' - `X$shape`: the dimensions (an integer vector), like torch's `$shape`;
#'   `X$size()` the same, `X$size(1)` one of them (negative `dim` counts
#'   from the end, as in torch).
#' - `as.matrix(X)` (or `as.array()`) returns the plain matrix, and
#'   `as.data.frame(X)` a data frame of its columns;
#'   `as.numeric(X)` and `as.vector(X)` the values, column by column.
#' - `dim()`, `nrow()`, `ncol()`, `length()`, `sum()`, `max()`, `mean()`
#'   and the like work as on the matrix underneath.
#' - Arithmetic (`+ - * / ^ %% %/%`, unary `-`) and the `Math` functions
#'   (`exp()`, `log()`, `abs()`, `sqrt()`, `round()`, ...) return tensors,
#'   so the formula `1 / (1 + exp(-z))` (that of the CRAN package
#'   `sigmoid`'s `sigmoid()`) gives a tensor equal to `sigmoid(z)`. The
#'   other operand may be a number, a numeric matrix or a tensor. Two
#'   matrices of different shapes are broadcast as torch does: each
#'   dimension must be equal or 1 (a `1xn` row is recycled down the rows, an
#'   `nx1` column across the columns). Vectors of length > 1 are refused,
#'   since R would recycle them down the columns where torch broadcasts them
#'   along the rows: use a one-row or one-column matrix instead.
#' - Comparisons (`== != < > <= >=`) and `& | !` return a plain logical
#'   matrix (torch would return a bool tensor; fwdprop tensors hold doubles
#'   only), ready for `all()`, `any()`, `which()` or indexing.
#' - `X[i, j]` indexes as for a matrix: a result that is still a matrix
#'   (e.g. with `drop = FALSE`) is a tensor, a dropped result a plain vector.
#'   `X[i, j] <- value` keeps the tensor.
#' - `c(a, b, ...)` on tensors returns a plain `list()` of them, so
#'   `torch_cat(c(beta_1, beta_2), 2)` works as in the lecture (the first
#'   argument of `c()` must be a tensor; otherwise write `list()`).
#' - `X %*% Y`, `rbind()` and `cbind()` use base R and return plain
#'   matrices; use `X$mm(Y)` and [tensor_cat()] to keep the class.
#'
#' Printing follows torch for R; see [format.fwdprop_tensor()].
#'
#' @param data A numeric, integer or logical matrix or vector (a vector
#'   becomes a one-column matrix), or a tensor.
#' @param dtype The element type. Only double is supported; for lecture code
#'   `dtype = torch_double()` and `dtype = torch_float64()` are accepted
#'   without evaluating them, so they work when torch is not installed, as
#'   do `"double"`, `"float64"` and `NULL` (the default, double). Any other
#'   type (e.g. `torch_float()`, `"int32"`) is an error.
#' @return A tensor: a double matrix of class
#'   `c("fwdprop_tensor", "matrix", "array")`.
#' @seealso [tensor_cat()], [mm()], [sigmoid()], [format.fwdprop_tensor()].
#' @export
#' @examples
#' X <- tensor(matrix(1:6, ncol = 2, byrow = TRUE), dtype = torch_double())
#' X
#' beta <- tensor(matrix(c(0.2827, 0.9234, 0.2923, 0.8373, 0.2862, 0.2668), 2))
#' z <- X$mm(beta)
#' z
#' sigmoid(z)
#' all.equal(as.matrix(1 / (1 + exp(-z))), plogis(as.matrix(z)))
#' z$shape
#' z > 3
#' tensor(1:3)
tensor <- function(data, dtype = NULL) {
  call <- sys.call()
  check_tensor_dtype(substitute(dtype), parent.frame(), call)
  new_tensor(as_tensor_matrix(data, "data", call))
}

# Wraps a numeric matrix (attributes other than dim/dimnames dropped).
new_tensor <- function(m) {
  if (typeof(m) != "double") {
    storage.mode(m) <- "double"
  }
  attributes(m) <- list(dim = dim(m), dimnames = dimnames(m))
  # "matrix" and "array" as R's own "mts" class lists them, so matrix
  # methods (summary(), unique(), head(), ...) apply where fwdprop has none
  class(m) <- c("fwdprop_tensor", "matrix", "array")
  m
}

is_tensor <- function(x) inherits(x, "fwdprop_tensor")

torch_available <- function() requireNamespace("torch", quietly = TRUE)

# Converts what `tensor()` accepts (tensor, numeric matrix or vector) to a
# plain double matrix; errors name `arg`.
as_tensor_matrix <- function(x, arg, call) {
  if (is_tensor(x)) {
    return(unclass(x))
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
      "`%s` must be a numeric vector or matrix, not %s.%s", arg, describe_object(x), hint
    ), call = call)
  }
  d <- dim(x)
  if (length(d) > 2L) {
    fwdprop_error(sprintf(
      "`%s` must be a numeric vector or matrix, not %s with %d dimensions (%s): fwdprop tensors are 2-dimensional.",
      arg, describe_object(x), length(d), shape_string(x)
    ), call = call)
  }
  if (length(d) < 2L) {
    nm <- names(x)
    out <- matrix(as.double(x), ncol = 1L)
    if (!is.null(nm)) {
      rownames(out) <- nm
    }
    return(out)
  }
  out <- x
  attributes(out) <- list(dim = d, dimnames = dimnames(x))
  storage.mode(out) <- "double"
  out
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

# dtype ------------------------------------------------------------------

double_dtype_calls <- c("torch_double", "torch_float64")
double_dtype_strings <- c("double", "float64")

# Checks `dtype` from its unevaluated expression, so `torch_double()` is
# accepted without torch; other expressions are evaluated in `env`.
check_tensor_dtype <- function(expr, env, call) {
  if (is.null(expr)) {
    return(invisible(TRUE))
  }
  shown <- paste(deparse(expr, width.cutoff = 500L), collapse = " ")
  if (is.call(expr)) {
    fn <- expr[[1L]]
    if (is.call(fn) && (identical(fn[[1L]], as.name("::")) || identical(fn[[1L]], as.name(":::")))) {
      fn <- fn[[3L]]
    }
    name <- if (is.symbol(fn)) as.character(fn) else ""
    if (name %in% double_dtype_calls && length(expr) == 1L) {
      return(invisible(TRUE))
    }
    if (startsWith(name, "torch_")) {
      dtype_error(sprintf("`%s`", shown), call)
    }
  }
  if (is.character(expr)) {
    value <- expr
  } else {
    value <- eval(expr, env)
  }
  if (is.null(value)) {
    return(invisible(TRUE))
  }
  if (inherits(value, "torch_dtype")) {
    type <- tolower(as.character(value))
    if (length(type) == 1L && type %in% double_dtype_strings) {
      return(invisible(TRUE))
    }
    dtype_error(sprintf("torch's `%s`", paste(as.character(value), collapse = " ")), call)
  }
  if (is.character(value) && length(value) == 1L && !is.na(value)) {
    if (tolower(value) %in% double_dtype_strings) {
      return(invisible(TRUE))
    }
    dtype_error(sprintf("\"%s\"", value), call)
  }
  dtype_error(describe_value(value), call)
}

dtype_error <- function(what, call) {
  fwdprop_error(sprintf(
    "`dtype` must be double (`torch_double()`, `torch_float64()`, \"double\" or \"float64\"), not %s: fwdprop tensors hold doubles only.",
    what
  ), call = call)
}

# $ methods --------------------------------------------------------------

#' @export
`$.fwdprop_tensor` <- function(x, name) {
  tensor_field(x, name, arg_label(substitute(x), "self"), call = sys.call())
}

#' @export
`[[.fwdprop_tensor` <- function(x, ...) {
  args <- list(...)
  if (length(args) == 1L && is.character(args[[1L]]) && length(args[[1L]]) == 1L) {
    return(tensor_field(x, args[[1L]], arg_label(substitute(x), "self"), call = sys.call()))
  }
  unclass(x)[[...]]
}

# `x$name`: the methods are closures bound to `x`.
tensor_field <- function(x, name, self, call) {
  force(x)
  switch(name,
    mm = function(mat2) {
      tensor_mm(x, mat2, self, arg_label(substitute(mat2), "mat2"), call = sys.call())
    },
    sigmoid = function() sigmoid.fwdprop_tensor(x),
    t = function() t.fwdprop_tensor(x),
    shape = dim(unclass(x)),
    size = function(dim) {
      d <- base::dim(unclass(x))
      if (missing(dim)) {
        return(d)
      }
      d[tensor_dim(dim, "dim", sys.call())]
    },
    fwdprop_error(sprintf(
      "`%s$%s` is not available: fwdprop tensors have %s. Use base R functions (e.g. `exp()`, `as.matrix()`) for the rest.",
      self, name,
      "`$mm()`, `$sigmoid()`, `$t()`, `$shape` and `$size()`"
    ), call = call)
  )
}

#' @export
`$<-.fwdprop_tensor` <- function(x, name, value) {
  fwdprop_error(sprintf(
    "cannot set `$%s`: a fwdprop tensor is a matrix with no settable fields. Use `x[i, j] <- value` to change values.",
    name
  ), call = sys.call())
}

# A dimension index for a 2-d tensor: 1, 2, or -1, -2 counting from the end
# (as torch's `$size()`); returns 1 or 2.
tensor_dim <- function(dim, arg, call) {
  ok <- is.numeric(dim) && length(dim) == 1L && !is.na(dim) && dim %in% c(1, 2, -1, -2)
  if (!ok) {
    fwdprop_error(sprintf(
      "`%s` must be 1 or 2 (or -1, -2 counting from the end) for a 2-dimensional tensor, not %s.",
      arg, describe_value(dim)
    ), call = call)
  }
  as.integer(if (dim < 0) 3 + dim else dim)
}

tensor_mm <- function(x, mat2, x_label, mat2_label, call) {
  a <- unclass(x)
  b <- as_operand_matrix(mat2, mat2_label, call)
  if (ncol(a) != nrow(b)) {
    fwdprop_error(sprintf(
      "cannot multiply `%s` (%s) by `%s` (%s): `%s` has %d column%s but `%s` has %d row%s.",
      x_label, shape_string(a), mat2_label, shape_string(b),
      x_label, ncol(a), if (ncol(a) == 1L) "" else "s",
      mat2_label, nrow(b), if (nrow(b) == 1L) "" else "s"
    ), call = call)
  }
  new_tensor(mm(a, b))
}

# A tensor or a numeric matrix (as `mm()` requires) as a double matrix.
as_operand_matrix <- function(x, arg, call) {
  if (is_tensor(x)) {
    return(unclass(x))
  }
  if (inherits(x, "torch_tensor")) {
    return(as_tensor_matrix(x, arg, call))
  }
  as_double_matrix(x, arg, call = call)
}

# Base generics ------------------------------------------------------------

#' @export
sigmoid.fwdprop_tensor <- function(x) {
  new_tensor(sigmoid(unclass(x)))
}

#' @export
t.fwdprop_tensor <- function(x) {
  new_tensor(t(unclass(x)))
}

#' @export
as.matrix.fwdprop_tensor <- function(x, ...) {
  unclass(x)
}

#' @export
as.array.fwdprop_tensor <- function(x, ...) {
  unclass(x)
}

#' @export
as.data.frame.fwdprop_tensor <- function(x, ...) {
  as.data.frame(unclass(x), ...)
}

#' @export
`dim<-.fwdprop_tensor` <- function(x, value) {
  out <- unclass(x)
  dim(out) <- value
  if (is.matrix(out)) new_tensor(out) else out
}

#' @export
`[.fwdprop_tensor` <- function(x, ...) {
  out <- NextMethod()
  if (is.matrix(out)) new_tensor(unclass(out)) else unclass(out)
}

#' @export
`[<-.fwdprop_tensor` <- function(x, ..., value) {
  m <- unclass(x)
  if (is_tensor(value)) {
    value <- unclass(value)
  }
  if (!is.atomic(value) || is.null(value) || !is_numeric_storage(value)) {
    fwdprop_error(sprintf(
      "cannot assign %s into a tensor: the value must be numeric.", describe_object(value)
    ), call = sys.call())
  }
  m[...] <- value
  new_tensor(m)
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

# Group generics -----------------------------------------------------------

logical_ops <- c("==", "!=", "<", ">", "<=", ">=", "&", "|", "!")

#' @export
Ops.fwdprop_tensor <- function(e1, e2) {
  op <- .Generic
  call <- sys.call()
  if (nargs() == 1L) {
    x <- unclass(e1)
    out <- switch(op,
      "-" = -x,
      "+" = x,
      "!" = !x
    )
    return(if (op %in% logical_ops) out else new_tensor(out))
  }
  a <- ops_operand(e1, op, e1, e2, call)
  b <- ops_operand(e2, op, e1, e2, call)
  ab <- broadcast_pair(a, b, op, e1, e2, call)
  fun <- get(op, envir = baseenv(), mode = "function")
  out <- fun(ab[[1L]], ab[[2L]])
  if (op %in% logical_ops) out else new_tensor(out)
}

# "a 3x2 tensor", "a 2x2 matrix", "a character vector"
describe_operand <- function(x) {
  if (is_tensor(x)) {
    return(sprintf("a %s tensor", shape_string(x)))
  }
  d <- describe_object(x)
  if (is.matrix(x) || (is.array(x) && length(dim(x)) > 2L)) {
    d <- sprintf("%s (%s)", d, shape_string(x))
  } else if (is.atomic(x) && !is.null(x) && is.null(dim(x)) && !is.factor(x)) {
    d <- sprintf("%s of length %d", d, length(x))
  }
  d
}

ops_error <- function(op, e1, e2, why, call) {
  fwdprop_error(sprintf(
    "cannot apply `%s` to %s and %s: %s",
    op, describe_operand(e1), describe_operand(e2), why
  ), call = call)
}

# One operand of an arithmetic or comparison: a plain matrix or a number.
ops_operand <- function(x, op, e1, e2, call) {
  if (is_tensor(x)) {
    return(unclass(x))
  }
  if (!is.atomic(x) || is.null(x) || !is_numeric_storage(x)) {
    ops_error(op, e1, e2, "the other operand must be a number, a numeric matrix or a tensor.", call)
  }
  d <- dim(x)
  if (length(d) == 2L) {
    attributes(x) <- list(dim = d, dimnames = dimnames(x))
    return(x)
  }
  if (is.null(d) && length(x) == 1L) {
    return(as.vector(x))
  }
  if (!is.null(d)) {
    ops_error(op, e1, e2, "arrays other than matrices are not supported.", call)
  }
  ops_error(
    op, e1, e2,
    "use a number, or a matrix (one row or one column to broadcast) so the direction is explicit; R would recycle a vector down the columns, torch broadcasts it along the rows.",
    call
  )
}

# torch's broadcasting for two matrices: each dimension equal or 1.
broadcast_pair <- function(a, b, op, e1, e2, call) {
  da <- dim(a)
  db <- dim(b)
  if (is.null(da) || is.null(db) || identical(da, db)) {
    return(list(a, b))
  }
  if (!all(da == db | da == 1L | db == 1L)) {
    ops_error(
      op, e1, e2,
      "the shapes must be equal or 1 in each dimension (torch's broadcasting).", call
    )
  }
  out <- ifelse(da == db, da, ifelse(da == 1L, db, da))
  list(expand_matrix(a, out), expand_matrix(b, out))
}

# Repeats a matrix's single row and/or column up to `d`; names are kept
# along a dimension that is not expanded.
expand_matrix <- function(m, d) {
  dm <- dim(m)
  if (identical(dm, as.integer(d))) {
    return(m)
  }
  dn <- dimnames(m)
  i <- if (dm[1L] == d[1L]) seq_len(d[1L]) else rep.int(1L, d[1L])
  j <- if (dm[2L] == d[2L]) seq_len(d[2L]) else rep.int(1L, d[2L])
  out <- m[i, j, drop = FALSE]
  dimnames(out) <- if (is.null(dn)) {
    NULL
  } else {
    list(
      if (dm[1L] == d[1L]) dn[[1L]] else NULL,
      if (dm[2L] == d[2L]) dn[[2L]] else NULL
    )
  }
  out
}

#' @export
Math.fwdprop_tensor <- function(x, ...) {
  out <- get(.Generic, envir = baseenv(), mode = "function")(unclass(x), ...)
  if (is.matrix(out) && is.numeric(out)) new_tensor(out) else out
}

#' @export
Summary.fwdprop_tensor <- function(..., na.rm = FALSE) {
  args <- lapply(list(...), function(a) if (is_tensor(a)) unclass(a) else a)
  do.call(.Generic, c(args, na.rm = na.rm))
}

# Concatenation ------------------------------------------------------------

#' Concatenate tensors, like torch's `torch_cat()`
#'
#' `tensor_cat(tensors, dim)` joins a list of tensors or matrices along a
#' dimension: `dim = 1` stacks rows (like [rbind()]), `dim = 2` stacks
#' columns (like [cbind()]), as `torch_cat()` does in torch for R (`-1`
#' and `-2` count from the end). The result is a tensor.
#'
#' `torch_cat()` is the same function under torch's name, so lecture code
#' such as `torch_cat(c(beta_1, beta_2, beta_3), 2)` runs unchanged (`c()`
#' on tensors returns a list). When every element is a real torch tensor
#' (class `torch_tensor`) and the torch package is installed, `torch_cat()`
#' hands the call to `torch::torch_cat()` instead. fwdprop does not depend
#' on torch; if both packages are attached, whichever was attached last
#' provides `torch_cat()`.
#'
#' @param tensors A `list()` of tensors ([tensor()]) or numeric matrices
#'   (vectors count as one-column matrices, as in [tensor()]).
#' @param dim 1 to stack rows, 2 to stack columns.
#' @return A tensor. Joining along rows needs the same number of columns in
#'   every element, along columns the same number of rows; dimnames are
#'   combined as [rbind()] and [cbind()] combine them.
#' @seealso [tensor()]
#' @export
#' @examples
#' beta_1 <- tensor(matrix(c(0.6234, 0.8609), ncol = 1))
#' beta_2 <- tensor(matrix(c(0.6403, 0.0095), ncol = 1))
#' beta_3 <- tensor(matrix(c(0.2326, 0.6661), ncol = 1))
#' torch_cat(c(beta_1, beta_2, beta_3), 2)
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

cat_tensors <- function(tensors, dim, call) {
  if (!is.list(tensors) || is.object(tensors)) {
    what <- if (is_tensor(tensors)) describe_operand(tensors) else describe_object(tensors)
    fwdprop_error(sprintf(
      "`tensors` must be a list of tensors or matrices (e.g. `list(a, b)` or `c(a, b)`), not %s.",
      what
    ), call = call)
  }
  if (length(tensors) == 0L) {
    fwdprop_error("`tensors` must hold at least one tensor, not an empty list.", call = call)
  }
  along <- tensor_dim(dim, "dim", call)
  mats <- lapply(seq_along(tensors), function(i) {
    as_tensor_matrix(tensors[[i]], sprintf("tensors[[%d]]", i), call)
  })
  keep <- if (along == 1L) 2L else 1L
  sizes <- vapply(mats, function(m) dim(m)[keep], integer(1L))
  bad <- which(sizes != sizes[[1L]])
  if (length(bad)) {
    k <- bad[[1L]]
    fwdprop_error(sprintf(
      "cannot concatenate along dim %d (%s): every element needs %d %s, but `tensors[[1]]` is %s and `tensors[[%d]]` is %s.",
      along, if (along == 1L) "rows, like `rbind()`" else "columns, like `cbind()`",
      sizes[[1L]], paste0(if (keep == 2L) "column" else "row", if (sizes[[1L]] == 1L) "" else "s"),
      shape_string(mats[[1L]]), k, shape_string(mats[[k]])
    ), call = call)
  }
  bind <- if (along == 1L) rbind else cbind
  new_tensor(do.call(bind, unname(mats)))
}

# Printing -----------------------------------------------------------------

#' Print tensors as torch for R does
#'
#' `print()` shows a tensor as torch for R prints a 2-dimensional CPU double
#' tensor: a first line `torch_tensor`, the values, and a footer such as
#' `[ CPUDoubleType{3,2} ]` giving the shape. `format()` returns those lines
#' as a character vector. Dimnames are not shown (torch has none).
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
#' @seealso [tensor()]
#' @export
#' @examples
#' tensor(matrix(c(0.1137034, 0.6222994), ncol = 1))
#' tensor(matrix(1:6, ncol = 2, byrow = TRUE))
#' tensor(matrix(c(1e-6, 1, NA, Inf), 2))
#' format(tensor(matrix(c(123456.7, 234567.8), 1)))
format.fwdprop_tensor <- function(x, n = 30L, width = 80L, ...) {
  call <- sys.call()
  if (!is.numeric(n) || length(n) != 1L || is.na(n)) {
    fwdprop_error(sprintf("`n` must be a single number (-1 for no limit), not %s.", describe_value(n)), call = call)
  }
  width <- check_count(width, "width", call = call)
  m <- unclass(x)
  d <- dim(m)
  footer <- sprintf("[ CPUDoubleType{%d,%d} ]", d[1L], d[2L])
  body <- tensor_body_lines(m, n, width)
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
