#' Matrix product
#'
#' `mm(x, y)` multiplies two matrices, like `x %*% y` in base R and
#' `x$mm(y)` in torch. The product is computed by fwdprop's Rust core and
#' equals base R's `%*%`: same dimensions and dimnames (row names of `x`,
#' column names of `y`), the same `NA`/`NaN`/`Inf` pattern, and zero-row or
#' zero-column results where base R gives them.
#'
#' When either matrix holds a non-finite value (`NA`, `NaN`, `Inf`) the
#' product is computed by a plain loop in the same order as base R, so the
#' result is identical to `x %*% y`; otherwise a cache-blocked kernel is
#' used, which agrees with base R up to rounding (exactly, for
#' integer-valued inputs of moderate size).
#'
#' @param x,y Numeric, integer or logical matrices, with `ncol(x) ==
#'   nrow(y)`. Integer and logical values are converted to double, as
#'   `%*%` does.
#' @return A double matrix with `nrow(x)` rows and `ncol(y)` columns.
#' @seealso [sigmoid()] for the activation applied after a product.
#' @export
#' @examples
#' X <- matrix(1:6, ncol = 2, byrow = TRUE)
#' beta <- matrix(c(0.1, 0.2, 0.3, 0.4, 0.5, 0.6), ncol = 3)
#' mm(X, beta)
#' all.equal(mm(X, beta), X %*% beta)
mm <- function(x, y) {
  # Small plain matrices without dimnames: one raw call (see
  # src/rust/glue/src/fast.rs), which returns NULL for anything else.
  res <- .Call(fwdprop_mm_fast, x, y)
  if (is.null(res)) {
    res <- mm_checked(x, y)
  }
  res
}

# The ordinary path of mm(): R validation, then mm_impl(). Errors name mm()'s
# call (`call`).
mm_checked <- function(x, y, call = sys.call(-1L)) {
  x <- as_double_matrix(x, "x", call = call)
  y <- as_double_matrix(y, "y", call = call)
  dx <- dim(x)
  dy <- dim(y)
  if (dx[2L] != dy[1L]) {
    fwdprop_error(sprintf(
      "cannot multiply `x` (%s) by `y` (%s): `x` has %d column%s but `y` has %d row%s.",
      shape_string(x), shape_string(y),
      dx[2L], if (dx[2L] == 1L) "" else "s",
      dy[1L], if (dy[1L] == 1L) "" else "s"
    ), call = call)
  }
  out <- mm_impl(x, y)
  dn <- product_dimnames(dimnames(x), dimnames(y))
  if (!is.null(dn)) {
    dimnames(out) <- dn
  }
  out
}

# The dimnames base R gives `x %*% y` for two matrices: row names of `x`,
# column names of `y`, and the names of those dimnames when either has them
# (R's do_matprod).
product_dimnames <- function(dnx, dny) {
  if (is.null(dnx) && is.null(dny)) {
    return(NULL)
  }
  rows <- dnx[[1L]]
  cols <- dny[[2L]]
  if (is.null(rows) && is.null(cols)) {
    return(NULL)
  }
  dn <- list(rows, cols)
  nx <- names(dnx)
  ny <- names(dny)
  if (!is.null(nx) || !is.null(ny)) {
    names(dn) <- c(if (is.null(nx)) "" else nx[[1L]], if (is.null(ny)) "" else ny[[2L]])
  }
  dn
}
