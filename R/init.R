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

# ---------------------------------------------------------------------------
# torch-compatible random streams (internal; the torch-style API builds
# torch_manual_seed(), torch_rand(), torch_randn() and nn_linear() on them).
#
# They give, number for number, what libtorch's CPU generator gives
# (PyTorch 2.x; the rules are in src/rust/core/src/torch_rng.rs). The state
# lives in Rust, one per R session, apart from R's generator: set.seed()
# does not change these streams and they do not change R's.
#
# torch for R of 2021, which the lecture series ran, seeded in two steps
# (`behavior = "lecture"`): torch_manual_seed(s) seeds the default generator
# with s, draws v = torch_randint(1, 1e6) from it and seeds a second
# generator with v. torch_rand(), torch_randn() and torch_randint() draw
# from the default generator (so they start one draw later than PyTorch's
# stream for s); nn_linear()'s initialisers draw from the second one.
# `behavior = "pytorch"` is PyTorch's (and torch for R's since 0.5.0): one
# generator for everything. Before any seed both generators start from a
# seed that differs from session to session, as in torch.

# A torch seed: a whole number in [0, 2^53] (no NULL: torch seeds are given).
check_torch_seed <- function(seed, call = sys.call(-1L)) {
  if (!is.numeric(seed) || length(seed) != 1L || is.na(seed) || !is.finite(seed) ||
      seed < 0 || seed > 2^53 || seed != floor(seed)) {
    fwdprop_error(sprintf(
      "`seed` must be a single whole number between 0 and 2^53, not %s.",
      describe_value(seed)
    ), call = call)
  }
  as.double(seed)
}

# A number of values to draw: a whole number from 0 to 2^31 - 1.
check_draw_count <- function(n, call = sys.call(-1L)) {
  if (is.numeric(n) && length(n) == 1L && !is.na(n) && n == 0) {
    return(0L)
  }
  check_count(n, "n", call = call)
}

torch_dtypes <- c("float", "double")

#' torch_manual_seed() for the torch-style API
#'
#' Seeds the default generator; with `behavior = "lecture"` also the
#' generator that `nn_linear()`'s initialisation draws from, as torch for R
#' did when the lecture series ran (see the comment above).
#' @param seed A whole number in `[0, 2^53]`.
#' @param behavior `"lecture"` (default) or `"pytorch"`.
#' @return `NULL`, invisibly.
#' @noRd
torch_generator_seed <- function(seed, behavior = c("lecture", "pytorch")) {
  seed <- check_torch_seed(seed)
  behavior <- check_choice(behavior, "behavior", c("lecture", "pytorch"))
  torch_rng_seed_impl(seed, identical(behavior, "lecture"))
  invisible(NULL)
}

#' Seed the generator of the initial weights of `nn_linear()`
#'
#' fwdprop's torch-style API has two random generators, as torch for R had
#' when the Korean lecture series was written: [torch_manual_seed()] seeds
#' the first (of [torch_rand()], [torch_randn()]) and, from it, the second,
#' from which the initialisers of [nn_linear()] draw. torch for R seeded
#' that second generator once more when the package loaded, from R's
#' `sample(1e5, 1)`, so a lecture that creates layers without calling
#' `torch_manual_seed()` drew weights from a number that depended on the
#' session. `torch_init_seed()` seeds the second generator alone with such
#' a number, to reproduce those weights: lecture 7's are drawn after
#' `torch_init_seed(20773)`, lecture 9's after `torch_init_seed(93928)`.
#' The random streams are separate from R's: [set.seed()] neither sets them
#' nor is changed by them.
#'
#' @param seed A whole number in `[0, 2^53]`.
#' @return `NULL`, invisibly.
#' @seealso [torch_manual_seed()], [nn_linear()]
#' @export
#' @examples
#' torch_init_seed(20773)
#' nn_linear(2, 3, bias = FALSE)$weight
torch_init_seed <- function(seed) {
  torch_init_generator_seed(seed)
}

#' Seeds only the generator of `nn_linear()`'s initialisation
#'
#' torch for R of 2021 seeded it when the package loaded, with R's
#' `sample(1e5, 1)`; a lecture chapter that draws weights without calling
#' `torch_manual_seed()` is reproduced by giving that number here (lecture
#' 7: 20773; lecture 9: 93928). The initialisers then draw from it.
#' @param seed A whole number in `[0, 2^53]`.
#' @return `NULL`, invisibly.
#' @noRd
torch_init_generator_seed <- function(seed) {
  seed <- check_torch_seed(seed)
  torch_rng_seed_init_impl(seed)
  invisible(NULL)
}

#' The values of `torch_rand(n)` (uniform on `[0, 1)`)
#'
#' @param n A whole number >= 0.
#' @param dtype `"float"` (torch's default) or `"double"`.
#' @return A double vector of length `n` (float values are exact doubles).
#' @noRd
torch_stream_uniform <- function(n, dtype = c("float", "double")) {
  n <- check_draw_count(n)
  dtype <- check_choice(dtype, "dtype", torch_dtypes)
  torch_rng_draw_impl(n, FALSE, identical(dtype, "double"))
}

#' The values of `torch_randn(n)` (standard normal)
#'
#' Fewer than 16 values come from the scalar Box-Muller kernel (which keeps
#' one value in store for the next such draw), 16 or more from the
#' vectorised one; so `torch_randn(20)` is not `torch_randn(4)` followed by
#' `torch_randn(16)`, as in torch.
#' @inheritParams torch_stream_uniform
#' @return A double vector of length `n`.
#' @noRd
torch_stream_normal <- function(n, dtype = c("float", "double")) {
  n <- check_draw_count(n)
  dtype <- check_choice(dtype, "dtype", torch_dtypes)
  torch_rng_draw_impl(n, TRUE, identical(dtype, "double"))
}

#' The values of `torch_randint(low, high, n)`: whole numbers in `[low, high)`
#'
#' @inheritParams torch_stream_uniform
#' @param low,high Whole numbers, `low < high`.
#' @return A double vector of length `n`.
#' @noRd
torch_stream_randint <- function(n, low, high) {
  n <- check_draw_count(n)
  for (arg in c("low", "high")) {
    v <- get(arg)
    if (!is.numeric(v) || length(v) != 1L || is.na(v) || !is.finite(v) ||
        v != floor(v) || abs(v) > 2^53) {
      fwdprop_error(sprintf(
        "`%s` must be a single whole number, not %s.", arg, describe_value(v)
      ))
    }
  }
  if (low >= high) {
    fwdprop_error(sprintf("`low` (%s) must be less than `high` (%s).", format(low), format(high)))
  }
  torch_rng_randint_impl(n, as.double(low), as.double(high))
}

#' The initial parameters of `nn_linear(in_features, out_features, bias)`
#'
#' Drawn as torch does: the weight uniform on `[-b, b)` with
#' `b = sqrt(3) * sqrt(2 / (1 + 5)) / sqrt(in_features)` (kaiming_uniform_
#' with `a = sqrt(5)`), filled row by row, then the bias uniform on
#' `[-1 / sqrt(in_features), 1 / sqrt(in_features))`.
#' @param in_features,out_features Whole numbers >= 1.
#' @param bias `TRUE` or `FALSE`.
#' @inheritParams torch_stream_uniform
#' @return `list(weight = out_features x in_features matrix (torch's layout;
#'   fwdprop's weights are its transpose), bias = vector or NULL)`.
#' @noRd
torch_linear_init <- function(in_features, out_features, bias = TRUE, dtype = c("float", "double")) {
  in_features <- check_count(in_features, "in_features")
  out_features <- check_count(out_features, "out_features")
  bias <- check_flag(bias, "bias")
  dtype <- check_choice(dtype, "dtype", torch_dtypes)
  check_matrix_size(out_features, in_features, "the weight matrix (`out_features` x `in_features`)")
  torch_rng_linear_impl(in_features, out_features, bias, identical(dtype, "double"))
}

#' The state of the torch-style streams, and its restoration
#'
#' @return `torch_stream_state()`: a raw vector; `torch_stream_restore()`:
#'   `NULL`, invisibly.
#' @noRd
torch_stream_state <- function() {
  torch_rng_state_impl()
}

#' @param state A raw vector from `torch_stream_state()`.
#' @noRd
torch_stream_restore <- function(state) {
  if (!is.raw(state)) {
    fwdprop_error(sprintf("`state` must be a raw vector from torch_stream_state(), not %s.", describe_value(state)))
  }
  in_rust(torch_rng_restore_impl(state), call = sys.call())
  invisible(NULL)
}
