#' Seeded weight initialisation
#'
#' Draws an `n_in x n_out` weight matrix (the layout of `X %*% W`) from a
#' ChaCha20 random number generator in fwdprop's Rust core. The same `seed`
#' gives the same matrix, bit for bit, on every platform and fwdprop
#' version (the conversion from random bits to numbers is fwdprop's own,
#' with a portable `log`/`sin`/`cos`).
#'
#' Distributions:
#' * `"uniform"` (default): U(0, 1), like the lecture's `runif()`.
#' * `"normal"`: N(0, 1) (Box-Muller).
#' * `"xavier"`: Glorot uniform, U(-a, a) with `a = sqrt(6 / (n_in + n_out))`.
#' * `"he"`: N(0, 2 / n_in), i.e. standard deviation `sqrt(2 / n_in)`.
#'
#' Matrices are filled column by column, as `matrix()` fills.
#'
#' @param n_in,n_out Whole numbers >= 1: the layer's inputs (rows) and
#'   outputs (columns).
#' @param method One of `"uniform"`, `"normal"`, `"xavier"`, `"he"`.
#' @param seed `NULL` (default) or a whole number in `[0, 2^53]`. With
#'   `NULL` the seed is drawn from R's random number generator, so
#'   [set.seed()] makes the result reproducible.
#' @return A double matrix with `n_in` rows and `n_out` columns.
#' @seealso [network()]
#' @export
#' @examples
#' init_weights(2, 3, seed = 1)
#' identical(init_weights(2, 3, seed = 1), init_weights(2, 3, seed = 1))
#' set.seed(1234)
#' init_weights(2, 3, method = "xavier")
init_weights <- function(n_in, n_out, method = c("uniform", "normal", "xavier", "he"),
                         seed = NULL) {
  n_in <- check_count(n_in, "n_in")
  n_out <- check_count(n_out, "n_out")
  method <- check_choice(method, "method", init_methods)
  check_matrix_size(n_in, n_out, "the weight matrix (`n_in` x `n_out`)")
  seed <- check_seed(seed)
  init_weights_impl(n_in, n_out, method, seed)
}

init_methods <- c("uniform", "normal", "xavier", "he")

# A seed drawn from R's RNG (52 random bits from two runif() draws), so
# that set.seed() governs fwdprop's own generator.
draw_seed <- function() {
  floor(stats::runif(1L) * 2^26) * 2^26 + floor(stats::runif(1L) * 2^26)
}

check_seed <- function(seed, call = sys.call(-1L)) {
  if (is.null(seed)) {
    return(draw_seed())
  }
  if (!is.numeric(seed) || length(seed) != 1L || is.na(seed) || !is.finite(seed) ||
      seed < 0 || seed > 2^53 || seed != floor(seed)) {
    fwdprop_error(sprintf(
      "`seed` must be NULL or a single whole number between 0 and 2^53, not %s.",
      describe_value(seed)
    ), call = call)
  }
  as.double(seed)
}
