test_that("init_weights() returns an n_in x n_out double matrix", {
  for (m in c("uniform", "normal", "xavier", "he")) {
    w <- init_weights(4, 7, method = m, seed = 3)
    expect_true(is.matrix(w))
    expect_identical(dim(w), c(4L, 7L))
    expect_identical(typeof(w), "double")
    expect_true(all(is.finite(w)))
  }
})

test_that("the same seed gives the same bits; other seeds differ", {
  for (m in c("uniform", "normal", "xavier", "he")) {
    expect_identical(init_weights(5, 6, m, seed = 42), init_weights(5, 6, m, seed = 42))
    expect_false(identical(init_weights(5, 6, m, seed = 42), init_weights(5, 6, m, seed = 43)))
  }
  # the seed 2^53 and 0 are valid
  expect_identical(init_weights(2, 2, seed = 2^53), init_weights(2, 2, seed = 2^53))
  expect_identical(dim(init_weights(2, 2, seed = 0)), c(2L, 2L))
})

test_that("matrices fill column by column from one stream", {
  # a 1 x n and an n x 1 draw of the same seed hold the same numbers
  expect_identical(as.vector(init_weights(1, 6, seed = 9)), as.vector(init_weights(6, 1, seed = 9)))
  expect_identical(as.vector(init_weights(2, 3, seed = 9)), as.vector(init_weights(6, 1, seed = 9)))
})

test_that("set.seed() governs a NULL seed", {
  set.seed(1234)
  a <- init_weights(3, 3)
  set.seed(1234)
  b <- init_weights(3, 3)
  expect_identical(a, b)
  set.seed(1)
  expect_false(identical(init_weights(3, 3), a))
})

test_that("the distributions have the documented moments", {
  n_in <- 200
  n_out <- 500
  u <- init_weights(n_in, n_out, "uniform", seed = 1)
  expect_true(all(u >= 0 & u < 1))
  expect_equal(mean(u), 0.5, tolerance = 0.01)
  expect_equal(var(as.vector(u)), 1 / 12, tolerance = 0.02)
  z <- init_weights(n_in, n_out, "normal", seed = 2)
  expect_equal(mean(z), 0, tolerance = 0.01)
  expect_equal(sd(z), 1, tolerance = 0.01)
  expect_gt(ks.test(as.vector(z)[1:5000], "pnorm")$p.value, 1e-4)
  a <- sqrt(6 / (n_in + n_out))
  x <- init_weights(n_in, n_out, "xavier", seed = 3)
  expect_true(all(abs(x) <= a))
  expect_equal(mean(x), 0, tolerance = 0.01)
  expect_equal(var(as.vector(x)), a^2 / 3, tolerance = 0.02)
  h <- init_weights(n_in, n_out, "he", seed = 4)
  expect_equal(sd(h), sqrt(2 / n_in), tolerance = 0.02)
  expect_equal(mean(h), 0, tolerance = 0.01)
})

test_that("init_weights() rejects bad arguments", {
  expect_error(init_weights(0, 3), class = "fwdprop_error")
  expect_error(init_weights(2.5, 3), class = "fwdprop_error")
  expect_error(init_weights(NA, 3), class = "fwdprop_error")
  expect_error(init_weights("2", 3), class = "fwdprop_error")
  expect_error(init_weights(2, 3, method = "glorot"), class = "fwdprop_error")
  expect_error(init_weights(2, 3, seed = -1), class = "fwdprop_error")
  expect_error(init_weights(2, 3, seed = Inf), class = "fwdprop_error")
  expect_error(init_weights(2, 3, seed = NA), class = "fwdprop_error")
  expect_error(init_weights(2, 3, seed = 1.5), class = "fwdprop_error")
  expect_error(init_weights(2, 3, seed = c(1, 2)), class = "fwdprop_error")
  expect_error(init_weights(1e6, 1e6), class = "fwdprop_error")
  expect_snapshot(error = TRUE, {
    init_weights(0, 3)
    init_weights(2, 3, method = "glorot")
    init_weights(2, 3, seed = -1)
    init_weights(2, 3, seed = "a")
    init_weights(1e6, 1e6)
  })
})

# ---- torch-compatible random streams ---------------------------------------
# fixtures/torch-rng.csv holds PyTorch 2.15's values (made by
# torch-rng-fixtures.py, whose docstring describes the format).

hex_to_double <- function(h) {
  vapply(h, function(x) {
    bytes <- as.raw(strtoi(substring(x, seq(nchar(x) - 1L, 1L, by = -2L), seq(nchar(x), 2L, by = -2L)), 16L))
    readBin(bytes, "double", size = nchar(x) / 2L, endian = "little")
  }, numeric(1), USE.NAMES = FALSE)
}

torch_rng_cases <- function() {
  cases <- utils::read.csv(test_path("fixtures", "torch-rng.csv"), colClasses = "character")
  # the digests of 10^5 values are checked by the Rust tests only
  cases[!grepl("#", cases$ops, fixed = TRUE), ]
}

# Replays a fixture case with the internal stream functions.
replay_torch_rng <- function(mode, dtype, seed, ops) {
  if (mode == "pytorch") torch_generator_seed(seed, "pytorch")
  if (mode == "lecture") torch_generator_seed(seed, "lecture")
  if (startsWith(mode, "init:")) torch_init_generator_seed(as.numeric(sub("init:", "", mode)))
  out <- list()
  for (op in strsplit(ops, " ", fixed = TRUE)[[1]]) {
    arg <- substring(op, 2L)
    out[[length(out) + 1L]] <- switch(substr(op, 1L, 1L),
      u = torch_stream_uniform(as.numeric(arg), dtype),
      n = torch_stream_normal(as.numeric(arg), dtype),
      r = torch_stream_randint(as.numeric(arg), 1, 1e6),
      R = torch_stream_randint(as.numeric(arg), -5, 2^40),
      L = {
        io <- as.numeric(strsplit(sub("b$", "", arg), "x", fixed = TRUE)[[1]])
        p <- torch_linear_init(io[1], io[2], bias = endsWith(arg, "b"), dtype = dtype)
        expect_identical(dim(p$weight), as.integer(c(io[2], io[1])))
        c(t(p$weight), p$bias) # torch's row-major order
      }
    )
  }
  unlist(out)
}

test_that("the torch streams equal PyTorch's values bit for bit", {
  cases <- torch_rng_cases()
  expect_gt(nrow(cases), 200L)
  for (i in seq_len(nrow(cases))) {
    cs <- cases[i, ]
    want <- hex_to_double(strsplit(cs$values, " ", fixed = TRUE)[[1]])
    got <- replay_torch_rng(cs$mode, cs$dtype, as.numeric(cs$seed), cs$ops)
    expect_identical(got, want, label = sprintf("case %s (%s %s seed %s: %s)", cs$id, cs$mode, cs$dtype, cs$seed, cs$ops))
  }
})

test_that("the lectures' printed random numbers come out", {
  # lecture 6: torch_manual_seed(2021); torch_rand(7) * 10 (float products)
  torch_generator_seed(2021)
  x <- torch_stream_uniform(7)
  expect_equal(round(x * 10, 4), c(5.1339, 7.4256, 7.1589, 5.7047, 1.6527, 0.4431, 9.6277))
  # lecture 2: the same seed, then torch_rand(2, 3) and torch_rand(2, 3, 2)
  # (row-major: the values fill the last index first)
  torch_generator_seed(2021)
  b <- matrix(torch_stream_uniform(6), 2, 3, byrow = TRUE)
  expect_equal(round(b, 4), matrix(c(0.5134, 0.7426, 0.7159, 0.5705, 0.1653, 0.0443), 2, 3, byrow = TRUE))
  c1 <- torch_stream_uniform(12)
  expect_equal(round(c1, 4), c(0.9628, 0.2943, 0.0992, 0.8096, 0.0169, 0.8222,
                               0.1242, 0.7489, 0.3608, 0.5131, 0.2959, 0.7834))
  # lecture 7 (no torch_manual_seed: the initialisers' generator as seeded
  # at load, 20773): two bias-free layers, then mat_op, then mat_op2
  torch_init_generator_seed(20773)
  torch_linear_init(2, 3, bias = FALSE)
  torch_linear_init(3, 1, bias = FALSE)
  w <- torch_linear_init(2, 3, bias = FALSE)$weight
  expect_equal(round(w, 4), matrix(c(-0.5329, -0.6421, -0.2611, 0.3294, 0.6383, -0.4162), 3, 2, byrow = TRUE))
  p <- torch_linear_init(2, 3)
  expect_equal(round(p$weight, 4), matrix(c(0.3400, -0.5988, 0.3999, -0.0115, 0.1655, 0.1199), 3, 2, byrow = TRUE))
  expect_equal(round(p$bias, 4), c(0.5163, 0.0683, -0.5182))
  # lecture 9 (likewise, 93928): nn_linear(2, 1)
  torch_init_generator_seed(93928)
  p <- torch_linear_init(2, 1)
  expect_equal(round(c(p$weight, p$bias), 4), c(0.2221, 0.6924, 0.6671))
})

test_that("lecture 8's starting loss 4268.52 follows from torch_manual_seed(2021)", {
  set.seed(2021)
  x <- sort(sample(1:100, 100))
  y <- x + 30 * sin(0.1 * x) + 5 * rnorm(100)
  xs <- as.vector(scale(x))
  torch_generator_seed(2021)
  layers <- lapply(list(c(1, 10), c(10, 10), c(10, 10), c(10, 1)), function(io) {
    torch_linear_init(io[1], io[2])
  })
  lin <- function(h, p) sweep(h %*% t(p$weight), 2, p$bias, "+")
  h <- tanh(lin(matrix(xs), layers[[1]]))
  h <- tanh(lin(h, layers[[2]]))
  y_hat <- lin(lin(h, layers[[3]]), layers[[4]])
  # PyTorch's float32 value is 4268.515625; this double forward pass of the
  # same float weights agrees to the printed digits
  expect_equal(round(mean((y_hat - y)^2), 2), 4268.52)
})

test_that("the torch streams leave R's generator alone, and states restore", {
  set.seed(1)
  before <- .Random.seed
  torch_generator_seed(5)
  torch_stream_uniform(10)
  torch_stream_normal(20, "double")
  torch_linear_init(3, 2)
  expect_identical(.Random.seed, before)
  set.seed(1)
  torch_generator_seed(5)
  a <- torch_stream_uniform(3)
  set.seed(2)
  torch_generator_seed(5)
  expect_identical(torch_stream_uniform(3), a)

  torch_generator_seed(11)
  torch_stream_normal(3, "double") # leaves a normal value in store
  state <- torch_stream_state()
  expect_true(is.raw(state))
  first <- list(torch_stream_normal(5, "double"), torch_linear_init(4, 2), torch_stream_randint(3, 0, 10))
  torch_generator_seed(99)
  torch_stream_restore(state)
  again <- list(torch_stream_normal(5, "double"), torch_linear_init(4, 2), torch_stream_randint(3, 0, 10))
  expect_identical(again, first)
  expect_identical(torch_stream_uniform(0), numeric(0))
})

test_that("the torch stream functions reject bad arguments", {
  expect_error(torch_generator_seed(-1), class = "fwdprop_error", regexp = "`seed`")
  e <- tryCatch(torch_linear_init(2, 0), error = identity)
  expect_identical(conditionCall(e)[[1]], quote(torch_linear_init))
  expect_match(conditionMessage(e), "out_features")
  expect_error(torch_generator_seed(1.5), class = "fwdprop_error")
  expect_error(torch_generator_seed(NULL), class = "fwdprop_error")
  expect_error(torch_generator_seed(1, "numpy"), class = "fwdprop_error")
  expect_error(torch_init_generator_seed(NA), class = "fwdprop_error")
  expect_error(torch_stream_uniform(-1), class = "fwdprop_error")
  expect_error(torch_stream_uniform(2.5), class = "fwdprop_error")
  expect_error(torch_stream_normal(3, "half"), class = "fwdprop_error", regexp = "dtype")
  expect_error(torch_stream_randint(3, 5, 5), class = "fwdprop_error", regexp = "less than")
  expect_error(torch_stream_randint(3, "a", 5), class = "fwdprop_error", regexp = "low")
  expect_error(torch_linear_init(0, 3), class = "fwdprop_error", regexp = "in_features")
  expect_error(torch_linear_init(2, 3, bias = NA), class = "fwdprop_error", regexp = "bias")
  expect_error(torch_linear_init(1e6, 1e6), class = "fwdprop_error")
  expect_error(torch_stream_restore(1:3), class = "fwdprop_error", regexp = "raw")
  expect_error(torch_stream_restore(as.raw(1:3)), class = "fwdprop_error", regexp = "torch_stream_state")
})

test_that("torch_manual_seed() and torch_rand() give lecture 6's printed numbers", {
  # lecture 6 prints torch_manual_seed(2021); torch_rand(7) * 10 as
  # 5.1339 7.4256 7.1589 5.7047 1.6527 0.4431 9.6277 (torch for R, 2021)
  lecture <- c(5.1339, 7.4256, 7.1589, 5.7047, 1.6527, 0.4431, 9.6277)
  torch_manual_seed(2021)
  x <- torch_rand(7) * 10
  expect_equal(round(as.numeric(x), 4), lecture)
  out <- capture.output(print(x))
  expect_identical(trimws(out[2:8]), sprintf("%.4f", lecture))
  # the same seed restarts the stream; lecture 2's torch_rand(2, 3) follows
  torch_manual_seed(2021)
  b <- as_array(torch_rand(2, 3))
  expect_equal(round(b, 4), matrix(c(0.5134, 0.7426, 0.7159, 0.5705, 0.1653, 0.0443), 2, 3, byrow = TRUE))
  # double tensors draw the double stream, normals the normal stream
  torch_manual_seed(2021)
  d <- as.numeric(torch_rand(3, dtype = torch_double()))
  torch_generator_seed(2021)
  expect_identical(d, torch_stream_uniform(3, "double"))
  torch_manual_seed(7)
  z <- as.numeric(torch_randn(5))
  torch_generator_seed(7)
  expect_identical(z, torch_stream_normal(5))
  # a bad seed names the function the user called
  expect_error(torch_manual_seed(-1), class = "fwdprop_error", regexp = "seed")
  err <- tryCatch(torch_manual_seed(-1), error = identity)
  expect_match(deparse(conditionCall(err)), "torch_manual_seed")
})
