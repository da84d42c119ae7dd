# Property tests: many random cases, each with its own seed, comparing
# fwdprop with base R. A failing case reports its seed in `info`, so it can
# be rerun alone with set.seed(seed).

random_shape <- function() {
  # dimensions of 0, 1 and small odd sizes, now and then a larger one
  pick <- function() sample(c(0L, 1L, 1L, 2L, 3L, 5L, 7L, 16L, 33L), 1L)
  c(pick(), pick(), pick())
}

random_values <- function(n) {
  kind <- sample(c("normal", "huge", "tiny", "integer", "special"), 1L)
  x <- switch(kind,
    normal = rnorm(n),
    huge = rnorm(n) * 1e150,
    tiny = rnorm(n) * 1e-300,
    integer = as.double(sample(-9:9, n, replace = TRUE)),
    special = awkward_values(n)
  )
  if (n > 0 && runif(1) < 0.3) x[sample.int(n, 1L)] <- sample(c(NA, NaN, Inf, -Inf), 1L)
  x
}

random_input_matrix <- function(nr, nc) {
  m <- matrix(random_values(nr * nc), nr, nc)
  r <- runif(1)
  if (r < 0.15) {
    m <- matrix(as.integer(pmax(pmin(round(m), 1e6), -1e6)), nr, nc)
  } else if (r < 0.25) {
    m <- matrix(m > 0, nr, nc)
  }
  if (runif(1) < 0.3 && nr > 0) rownames(m) <- paste0("r", seq_len(nr))
  if (runif(1) < 0.3 && nc > 0) colnames(m) <- paste0("c", seq_len(nc))
  m
}

test_that("mm() equals %*% on 1000 random cases", {
  for (seed in 1:1000) {
    set.seed(seed)
    s <- random_shape()
    x <- random_input_matrix(s[1], s[2])
    y <- random_input_matrix(s[2], s[3])
    got <- mm(x, y)
    want <- x %*% y
    info <- sprintf("mm case seed %d, %dx%d by %dx%d", seed, s[1], s[2], s[2], s[3])
    expect_identical(attributes(got), attributes(want), info = info)
    expect_identical(is.na(got), is.na(want), info = info)
    expect_identical(is.nan(got), is.nan(want), info = info)
    ok <- is.finite(want)
    expect_equal(got[ok], want[ok], tolerance = 1e-12, info = info)
    expect_identical(got[!ok & !is.na(want)], want[!ok & !is.na(want)], info = info)
  }
})

test_that("sigmoid() equals plogis() within 2 ulp on 1000 random cases", {
  for (seed in 1:1000) {
    set.seed(seed)
    n <- sample(0:50, 1L)
    x <- random_values(n) * sample(c(1, 10, 100, 745), 1L)
    if (runif(1) < 0.2) x <- as.integer(pmax(pmin(round(x), 1e6), -1e6))
    if (runif(1) < 0.3 && n > 0) x <- matrix(x, 1L)
    got <- sigmoid(x)
    want <- plogis(x)
    info <- sprintf("sigmoid case seed %d", seed)
    if (length(x)) expect_identical(attributes(got), attributes(want), info = info)
    expect_identical(is.na(got), is.na(want), info = info)
    expect_identical(is.nan(got), is.nan(want), info = info)
    d <- ulp_distance(as.vector(got), as.vector(want))
    expect_true(all(is.na(d) | d <= 2), info = info)
  }
})

test_that("forward() equals the base-R chain, and fused equals unfused, on 1000 random cases", {
  acts <- c("sigmoid", "relu", "tanh", "identity", "softmax")
  for (seed in 1:1000) {
    set.seed(seed)
    L <- sample(1:3, 1L)
    sizes <- c(sample(1:6, 1L), sample(1:6, L, replace = TRUE))
    n <- sample(c(0L, 1L, 2L, 7L, 40L), 1L)
    net <- random_net(sizes, activations = sample(acts, L, replace = TRUE),
                      bias = runif(1) < 0.5)
    x <- random_input_matrix(n, sizes[1])
    if (runif(1) < 0.5) x[] <- rnorm(length(x)) # mostly finite inputs
    got <- forward(net, x)
    want <- forward_ref(net, x * 1)
    info <- sprintf("forward case seed %d, sizes %s, n %d, %s", seed,
                    paste(sizes, collapse = "-"), n, paste(net$activations, collapse = ","))
    expect_identical(dim(got), dim(want), info = info)
    expect_identical(unname(is.na(got)), unname(is.na(as.matrix(want))), info = info)
    expect_equal(unname(got), unname(want), tolerance = 1e-10, info = info)
    unfused <- forward(net, x, trace = TRUE)$a[[L]]
    expect_equal(got, unfused, tolerance = 1e-12, info = info)
  }
})
