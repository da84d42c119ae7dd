# The activations a network can use, listed once: every check of an
# activation name reads them from here.
activation_names <- c("sigmoid", "relu", "tanh", "identity", "softmax",
                      "leaky_relu", "elu", "gelu", "softplus")

# Whether `x` names one or more activations (a character vector, no NA).
is_activation_names <- function(x) {
  is.character(x) && length(x) >= 1L && !anyNA(x) && all(x %in% activation_names)
}

# The activations as a message lists them: "sigmoid", "relu", ...
activation_choices <- function() paste0("\"", activation_names, "\"", collapse = ", ")

#' Sigmoid (logistic) activation
#'
#' `sigmoid(x)` computes \eqn{\sigma(x) = 1 / (1 + e^{-x})} elementwise.
#' Values equal base R's [stats::plogis()] to within 2 ulp (units in the
#' last place) everywhere; on CPUs with AVX2 and FMA a vectorised `exp()` is
#' used, so the last bit or two can differ from `plogis()`. `-Inf` gives 0,
#' `Inf` gives 1, large negative `x` gives 0 rather than `NaN`, `NA` stays
#' `NA` and `NaN` stays `NaN`.
#'
#' Large inputs (from 262,144 values) are split over [fwdprop_threads()]
#' threads, with the same result whatever their number.
#'
#' @param x A numeric, integer or logical vector, matrix or array.
#' @return A double vector with the attributes of `x` (dimensions,
#'   dimnames, names), as `plogis(x)` returns. One deliberate difference:
#'   for an empty matrix (say 0 rows) `plogis()` drops the dimensions and
#'   `sigmoid()` keeps them, as `1 / (1 + exp(-x))` does, so an empty batch
#'   stays a matrix.
#' @seealso [mm()]
#' @export
#' @examples
#' sigmoid(c(-Inf, -1, 0, 1, Inf, NA))
#' z <- matrix(c(1.3583, -2, 0.5, 4), 2)
#' sigmoid(z)
#' all.equal(sigmoid(z), plogis(z))
sigmoid <- function(x) {
  # Small plain vectors, matrices and arrays (no class): one raw call (see
  # src/rust/glue/src/fast.rs); NULL for anything else, which dispatches.
  res <- .Call(fwdprop_sigmoid_fast, x)
  if (is.null(res)) UseMethod("sigmoid") else res
}

#' @export
sigmoid.default <- function(x) {
  check_numeric(x, "x", call = sys.call(-1L))
  # large inputs are split over fwdprop's threads (the same values whatever
  # their number)
  out <- sigmoid_impl(x, if (length(x) >= core_limit("sigmoid_chunk")) fwdprop_threads() else 1L)
  attributes(out) <- attributes(x)
  out
}
