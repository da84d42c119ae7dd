# Autograd of the torch-style tensors. Every gradient is checked against
# central finite differences computed here, in double precision, from the
# forward values; the forward values themselves are checked against base R.

# Central finite differences of the scalar `f(arrays)` (a function of plain
# R arrays, evaluated through the tensors with recording off) for the
# inputs listed in `wrt`.
fd_gradients <- function(f, arrays, wrt = seq_along(arrays), h = 1e-6) {
  value <- function(a) {
    ts <- lapply(a, function(v) torch_tensor(v, dtype = torch_double()))
    as.numeric(with_no_grad(f(ts)))
  }
  lapply(wrt, function(k) {
    v <- arrays[[k]]
    g <- v * 0
    for (i in seq_along(v)) {
      up <- arrays
      down <- arrays
      up[[k]][i] <- v[i] + h
      down[[k]][i] <- v[i] - h
      g[i] <- (value(up) - value(down)) / (2 * h)
    }
    g
  })
}

# autograd's gradients of the scalar f(tensors) for the inputs in `wrt`
auto_gradients <- function(f, arrays, wrt = seq_along(arrays)) {
  ts <- lapply(seq_along(arrays), function(k) {
    torch_tensor(arrays[[k]], dtype = torch_double(), requires_grad = k %in% wrt)
  })
  y <- f(ts)
  y$backward()
  # an input the result does not depend on gets no gradient (NULL), as in
  # torch: zero
  lapply(wrt, function(k) {
    g <- ts[[k]]$grad
    if (is.null(g)) arrays[[k]] * 0 else as_array(g)
  })
}

rel_error <- function(a, b) max(abs(a - b) / pmax(1, abs(b)))

expect_gradients <- function(f, arrays, wrt = seq_along(arrays), tol = 1e-6, info = NULL) {
  auto <- auto_gradients(f, arrays, wrt)
  fd <- fd_gradients(f, arrays, wrt)
  for (k in seq_along(wrt)) {
    expect_identical(dim(auto[[k]]), dim(fd[[k]]), info = info)
    expect_lte(rel_error(as.vector(auto[[k]]), as.vector(fd[[k]])), tol, label = paste(info, "input", wrt[[k]]))
  }
}

rand_array <- function(shape, lo = -2, hi = 2) {
  v <- runif(prod(shape), lo, hi)
  if (length(shape) == 1L) v else array(v, shape)
}

# weights so that every output value matters to the scalar being checked
weighted_sum <- function(y, w) sum(y * w)

test_that("elementwise arithmetic gives base R's values and finite-difference gradients, with broadcasting", {
  set.seed(101)
  shape_pairs <- list(
    list(c(3, 4), c(3, 4)), list(c(3, 4), 4), list(4, c(3, 4)), list(c(3, 1), c(1, 4)),
    list(c(2, 3, 4), c(3, 1)), list(c(2, 1, 4), c(3, 4)), list(5, 1), list(c(2, 3), c(1, 1)),
    list(integer(0), c(2, 2)), list(c(sample(2:4, 1), 1, sample(2:4, 1)), 1)
  )
  ops <- list(`+` = `+`, `-` = `-`, `*` = `*`, `/` = `/`)
  for (sp in shape_pairs) {
    a <- if (length(sp[[1]])) rand_array(sp[[1]]) else runif(1, 0.5, 2)
    b <- rand_array(sp[[2]], 0.5, 2)
    for (op in names(ops)) {
      f <- ops[[op]]
      # forward against base R, broadcasting by hand in R's index order
      ta <- if (length(sp[[1]])) torch_tensor(a, dtype = torch_double()) else torch_tensor(a, dtype = torch_double())$view(integer(0))
      out <- f(ta, torch_tensor(b, dtype = torch_double()))
      full <- out$shape
      expand <- function(x, s) {
        if (!length(s)) s <- 1L
        pad <- c(rep(1L, length(full) - length(s)), s)
        arr <- array(x, pad)
        idx <- lapply(seq_along(full), function(k) if (pad[k] == full[k]) seq_len(full[k]) else rep(1L, full[k]))
        do.call(`[`, c(list(arr), idx, list(drop = FALSE)))
      }
      want <- f(expand(a, if (length(sp[[1]])) sp[[1]] else integer(0)), expand(b, sp[[2]]))
      expect_equal(as.vector(as_array(out)), as.vector(want), tolerance = 1e-15, info = op)
      w <- rand_array(full)
      g <- function(ts) {
        x <- if (length(sp[[1]])) ts[[1]] else ts[[1]]$view(integer(0))
        weighted_sum(f(x, ts[[2]]), torch_tensor(w, dtype = torch_double()))
      }
      expect_gradients(g, list(a, b), info = paste(op, paste(sp[[1]], collapse = "x"), paste(sp[[2]], collapse = "x")))
    }
  }
})

test_that("powers, numbers on either side and unary minus have finite-difference gradients", {
  set.seed(102)
  a <- rand_array(c(3, 2), 0.5, 2)
  b <- rand_array(c(3, 2), -1, 1)
  w <- rand_array(c(3, 2))
  wt <- torch_tensor(w, dtype = torch_double())
  fs <- list(
    square = function(ts) weighted_sum(ts[[1]]^2, wt),
    cube = function(ts) weighted_sum(ts[[1]]^3, wt),
    half = function(ts) weighted_sum(ts[[1]]^0.5, wt),
    tensor_power = function(ts) weighted_sum(ts[[1]]^ts[[2]], wt),
    number_power = function(ts) weighted_sum(2^ts[[2]], wt),
    numbers = function(ts) weighted_sum(3 - ts[[1]] * 2 + 1 / ts[[1]] - ts[[2]] / 4, wt),
    neg = function(ts) weighted_sum(-ts[[1]] * ts[[2]], wt),
    methods = function(ts) weighted_sum(ts[[1]]$add(ts[[2]])$mul(2)$sub(1)$div(ts[[1]])$pow(2), wt)
  )
  for (nm in names(fs)) {
    expect_gradients(fs[[nm]], list(a, b), info = nm)
  }
  expect_equal(as_array(torch_tensor(a, dtype = torch_double())^torch_tensor(b, dtype = torch_double())), a^b, tolerance = 1e-15)
  expect_equal(as_array(2^torch_tensor(b, dtype = torch_double())), 2^b, tolerance = 1e-15)
})

test_that("unary functions give base R's values and finite-difference gradients", {
  set.seed(103)
  a <- rand_array(c(2, 3, 2), 0.1, 2)
  b <- rand_array(c(2, 3, 2), -2, 2)
  w <- torch_tensor(rand_array(c(2, 3, 2)), dtype = torch_double())
  ta <- torch_tensor(a, dtype = torch_double())
  tb <- torch_tensor(b, dtype = torch_double())
  expect_equal(as_array(exp(tb)), exp(b), tolerance = 1e-15)
  expect_equal(as_array(log(ta)), log(a), tolerance = 1e-15)
  expect_equal(as_array(sqrt(ta)), sqrt(a), tolerance = 1e-15)
  expect_equal(as_array(tanh(tb)), tanh(b), tolerance = 1e-15)
  expect_equal(as_array(sigmoid(tb)), plogis(b), tolerance = 1e-15)
  expect_equal(as_array(tb$relu()), pmax(b, 0), tolerance = 1e-15)
  expect_equal(as_array(abs(tb)), abs(b), tolerance = 1e-15)
  expect_equal(as_array(log(ta, 2)), log2(a), tolerance = 1e-15)
  expect_identical(as_array(tb$clamp(min = -1, max = 1.5)), pmin(pmax(b, -1), 1.5))
  expect_identical(as_array(tb$clamp(max = 0)), pmin(b, 0))
  expect_error(tb$clamp(min = "a"), class = "fwdprop_error")
  fs <- list(
    exp = function(ts) weighted_sum(exp(ts[[2]]), w),
    log = function(ts) weighted_sum(log(ts[[1]]), w),
    log_base = function(ts) weighted_sum(log(ts[[1]], 10), w),
    sqrt = function(ts) weighted_sum(sqrt(ts[[1]]), w),
    sigmoid = function(ts) weighted_sum(sigmoid(ts[[2]]), w),
    sigmoid_method = function(ts) weighted_sum(ts[[2]]$sigmoid(), w),
    tanh = function(ts) weighted_sum(ts[[2]]$tanh(), w),
    relu = function(ts) weighted_sum(ts[[2]]$relu(), w),
    abs = function(ts) weighted_sum(abs(ts[[2]]), w),
    sin = function(ts) weighted_sum(sin(ts[[2]]), w),
    cos = function(ts) weighted_sum(cos(ts[[2]]), w),
    log1p = function(ts) weighted_sum(log1p(ts[[1]]), w),
    expm1 = function(ts) weighted_sum(expm1(ts[[2]]), w),
    clamp = function(ts) weighted_sum(ts[[2]]$clamp(min = -1, max = 1.5), w),
    clamp_min = function(ts) weighted_sum(ts[[2]]$clamp(min = 0.25), w)
  )
  for (nm in names(fs)) {
    expect_gradients(fs[[nm]], list(a, b), info = nm)
  }
})

test_that("reductions give base R's values and finite-difference gradients", {
  set.seed(104)
  a <- rand_array(c(3, 4, 2))
  ta <- torch_tensor(a, dtype = torch_double())
  expect_equal(as.numeric(mean(ta)), mean(a), tolerance = 1e-15)
  expect_equal(as.numeric(sum(ta)), sum(a), tolerance = 1e-15)
  expect_equal(as.numeric(ta$sum(dim = 2)), as.numeric(apply(a, c(1, 3), sum)), tolerance = 1e-15)
  expect_identical(ta$sum(dim = 2)$shape, c(3L, 2L))
  expect_identical(ta$mean(dim = c(1, 3), keepdim = TRUE)$shape, c(1L, 4L, 1L))
  expect_equal(as.numeric(ta$mean(dim = c(1, 3))), as.numeric(apply(a, 2, mean)), tolerance = 1e-15)
  expect_equal(as.numeric(ta$mean(dim = -1)), as.numeric(apply(a, c(1, 2), mean)), tolerance = 1e-15)
  expect_equal(as.numeric(max(ta)), max(a))
  expect_equal(as.numeric(ta$min()), min(a))
  w2 <- torch_tensor(rand_array(c(3, 2)), dtype = torch_double())
  w3 <- torch_tensor(rand_array(c(1, 4, 1)), dtype = torch_double())
  fs <- list(
    mean = function(ts) mean(ts[[1]]),
    sum = function(ts) sum(ts[[1]] * ts[[1]]),
    sum_dim = function(ts) weighted_sum(ts[[1]]$sum(dim = 2), w2),
    mean_dim_keep = function(ts) weighted_sum(ts[[1]]$mean(dim = c(1, 3), keepdim = TRUE), w3),
    max = function(ts) max(ts[[1]]) * 2,
    min = function(ts) ts[[1]]$min()
  )
  for (nm in names(fs)) {
    expect_gradients(fs[[nm]], list(a), info = nm)
  }
})

test_that("products, transposes, views, concatenation and indexing have finite-difference gradients", {
  set.seed(105)
  r <- sample(2:5, 1)
  k <- sample(2:5, 1)
  n <- sample(2:5, 1)
  A <- rand_array(c(r, k))
  B <- rand_array(c(k, n))
  v <- rand_array(k)
  u <- rand_array(r)
  tA <- torch_tensor(A, dtype = torch_double())
  tB <- torch_tensor(B, dtype = torch_double())
  expect_equal(as_array(tA$mm(tB)), A %*% B, tolerance = 1e-14)
  expect_equal(as_array(tA$matmul(torch_tensor(v, dtype = torch_double()))), as.vector(A %*% v), tolerance = 1e-14)
  expect_equal(as_array(torch_tensor(u, dtype = torch_double())$matmul(tA)), as.vector(u %*% A), tolerance = 1e-14)
  expect_equal(as.numeric(torch_tensor(v, dtype = torch_double())$matmul(torch_tensor(v, dtype = torch_double()))), sum(v * v), tolerance = 1e-14)
  expect_equal(as_array(tA$t()), t(A))
  expect_equal(as_array(tA$view(c(k, r))), matrix(as.vector(t(A)), k, r, byrow = TRUE))
  w <- function(shape) torch_tensor(rand_array(shape), dtype = torch_double())
  wrn <- w(c(r, n))
  wr <- w(r)
  wn <- w(n)
  wkr <- w(c(k, r))
  w3k <- w(c(3, k - 1))
  fs <- list(
    mm = function(ts) weighted_sum(ts[[1]]$mm(ts[[2]]), wrn),
    mv = function(ts) weighted_sum(ts[[1]]$matmul(ts[[3]]), wr),
    vm = function(ts) weighted_sum(ts[[4]]$matmul(ts[[1]])$matmul(ts[[2]]), wn),
    dot = function(ts) ts[[3]]$matmul(ts[[3]] * 2),
    t = function(ts) weighted_sum(ts[[1]]$t(), wkr),
    transpose = function(ts) weighted_sum(ts[[1]]$transpose(1, 2), wkr),
    view = function(ts) weighted_sum(ts[[1]]$view(c(k, -1)), wkr),
    squeeze = function(ts) weighted_sum(ts[[1]]$unsqueeze(1)$squeeze(1), wrn$mm(ts[[2]]$t())),
    cat = function(ts) weighted_sum(torch_cat(list(ts[[1]], ts[[1]]^2), 2), torch_cat(list(wrn$mm(ts[[2]]$t())^0, wrn$mm(ts[[2]]$t())), 2)),
    index = function(ts) weighted_sum(ts[[1]][c(1, 2, 1), 2:k], w3k),
    index_drop = function(ts) sum(ts[[1]][2, ] * ts[[1]][, 1]$sum()),
    clone = function(ts) sum(ts[[1]]$clone()^2)
  )
  arrays <- list(A, B, v, u)
  for (nm in names(fs)) {
    set.seed(106)
    expect_gradients(fs[[nm]], arrays, info = nm)
  }
})

test_that("a chain of more than ten operations has finite-difference gradients", {
  set.seed(107)
  X <- rand_array(c(5, 3))
  W1 <- rand_array(c(3, 4))
  b1 <- rand_array(4)
  W2 <- rand_array(c(4, 1))
  y <- rand_array(c(5, 1))
  net <- function(ts) {
    h <- tanh(ts[[1]]$mm(ts[[2]]) + ts[[3]])
    h2 <- sigmoid(h * 1.5 - 0.25)$mm(ts[[4]])
    z <- exp(-h2^2) / (1 + abs(h2)) + log(1 + h2^2)
    mean((z - ts[[5]])^2) + 0.01 * sum(ts[[2]]^2) + sqrt(sum(ts[[4]]^2))
  }
  expect_gradients(net, list(X, W1, b1, W2, y), wrt = 1:4)
})

test_that("gradients accumulate over backward() calls and the graph is freed", {
  x <- torch_tensor(c(1, 2, 3), dtype = torch_double())
  mu <- torch_tensor(0.5, dtype = torch_double(), requires_grad = TRUE)
  g_once <- -2 * mean(c(1, 2, 3) - 0.5)
  y <- mean((x - mu)^2)
  y$backward()
  expect_equal(as.numeric(mu$grad), g_once)
  y2 <- mean((x - mu)^2)
  y2$backward()
  expect_equal(as.numeric(mu$grad), 2 * g_once)
  grad_before <- mu$grad
  mu$grad$zero_()
  expect_identical(as.numeric(grad_before), 0)
  # retain_graph keeps the graph for a second pass
  y3 <- mean((x - mu)^2)
  y3$backward(retain_graph = TRUE)
  y3$backward()
  expect_equal(as.numeric(mu$grad), 2 * g_once)
  expect_error(y3$backward(), class = "fwdprop_error")
  # the grad_fn is kept after the pass
  expect_identical(format(y3$grad_fn), "MeanBackward0")
  # a tensor used twice gets the sum of both paths
  a <- torch_tensor(3, dtype = torch_double(), requires_grad = TRUE)
  (a * a + a)$backward()
  expect_equal(as.numeric(a$grad), 2 * 3 + 1)
  # no gradient for tensors that do not require one, and for results
  expect_null(x$grad)
  expect_false(x$requires_grad)
  expect_true(y$requires_grad)
  expect_false(y$is_leaf)
  expect_true(mu$is_leaf)
})

test_that("with_no_grad() records nothing, and in-place updates follow torch's rules", {
  mu <- torch_tensor(0.5, requires_grad = TRUE)
  y <- with_no_grad(mu * 2)
  expect_null(y$grad_fn)
  expect_false(y$requires_grad)
  # with_no_grad() returns its value and restores recording, also on error
  expect_identical(with_no_grad(1 + 1), 2)
  expect_error(with_no_grad(stop("boom")), "boom")
  expect_false(is.null((mu * 2)$grad_fn))
  expect_error(mu$sub_(1), class = "fwdprop_error")
  expect_error(mu$zero_(), class = "fwdprop_error")
  with_no_grad(mu$sub_(0.25))
  expect_identical(as.numeric(mu), 0.25)
  # sub_() with alpha, add_(), mul_(), copy_() and fill_() on plain tensors
  z <- torch_tensor(c(1, 2, 3), dtype = torch_double())
  z$sub_(torch_tensor(c(1, 1, 1), dtype = torch_double()), alpha = 0.5)
  expect_identical(as.numeric(z), c(0.5, 1.5, 2.5))
  z$add_(1)$mul_(2)
  expect_identical(as.numeric(z), c(3, 5, 7))
  z$copy_(c(9, 8, 7))
  expect_identical(as.numeric(z), c(9, 8, 7))
  z$fill_(4)
  expect_identical(as.numeric(z), c(4, 4, 4))
  # the same object everywhere (reference semantics)
  alias <- z
  z$zero_()
  expect_identical(as.numeric(alias), c(0, 0, 0))
  # detach() and detach_()
  w <- torch_tensor(c(1, 2), requires_grad = TRUE)
  d <- (w * 2)$detach()
  expect_false(d$requires_grad)
  expect_null(d$grad_fn)
  r <- w * 3
  expect_identical(r$detach_(), r)
  expect_null(r$grad_fn)
  # requires_grad_() and $requires_grad <- TRUE
  a <- torch_tensor(c(1, 2))
  expect_identical(a$requires_grad_(), a)
  expect_true(a$requires_grad)
  b <- torch_tensor(1)
  b$requires_grad <- TRUE
  expect_true(b$requires_grad)
})

test_that("autograd errors are fwdprop_errors that say what to do", {
  x <- torch_tensor(c(1, 2, 3))
  mu <- torch_tensor(0.5, requires_grad = TRUE)
  y <- (x - mu)^2
  expect_error(y$backward(), class = "fwdprop_error")
  expect_error(x$backward(), class = "fwdprop_error")
  m <- mean(y)
  m$backward()
  expect_error(m$backward(), class = "fwdprop_error")
  expect_error(mu$sub_(1), class = "fwdprop_error")
  A <- torch_tensor(matrix(1:6, 3), dtype = torch_double())
  B <- torch_tensor(matrix(1:6, 3))
  expect_error(A$mm(A), class = "fwdprop_error")
  expect_error(A$mm(A$t()$float()), class = "fwdprop_error")
  expect_error(torch_tensor(1:3, requires_grad = TRUE), class = "fwdprop_error")
  expect_snapshot(error = TRUE, {
    y$backward()
    x$backward()
    m$backward()
    mu$sub_(1)
    A$mm(A)
    A$mm(B$t())
    A$mm(torch_tensor(1:2, dtype = torch_double()))
    A + torch_tensor(c(1, 2, 3, 4), dtype = torch_double())
    torch_tensor(1:3, requires_grad = TRUE)
    y$backward(gradient = torch_tensor(1))
    y$backward(create_graph = TRUE)
  })
  # y$backward() with a gradient of its shape works
  y2 <- (x - mu)^2
  y2$backward(gradient = torch_tensor(c(1, 1, 1)))
  expect_equal(as.numeric(mu$grad), as.numeric(-2 * sum(c(1, 2, 3) - 0.5)) - 2 * mean(c(1, 2, 3) - 0.5), tolerance = 1e-6)
})

test_that("grad_fn names are torch's", {
  x <- torch_tensor(c(1, 2, 3))
  w <- torch_tensor(c(0.5, 0.25, 2), requires_grad = TRUE)
  W <- torch_tensor(matrix(c(1, 2, 3, 4), 2), requires_grad = TRUE)
  nm <- function(t) format(t$grad_fn)
  expect_identical(nm(mean((x - w)^2)), "MeanBackward0")
  expect_identical(nm(x - w), "SubBackward0")
  expect_identical(nm(w^2), "PowBackward0")
  expect_identical(nm(w + x), "AddBackward0")
  expect_identical(nm(w * x), "MulBackward0")
  expect_identical(nm(w / x), "DivBackward0")
  expect_identical(nm(-w), "NegBackward0")
  expect_identical(nm(exp(w)), "ExpBackward0")
  expect_identical(nm(log(w)), "LogBackward0")
  expect_identical(nm(sigmoid(w)), "SigmoidBackward0")
  expect_identical(nm(w$tanh()), "TanhBackward0")
  expect_identical(nm(w$relu()), "ReluBackward0")
  expect_identical(nm(sum(w)), "SumBackward0")
  expect_identical(nm(W$mm(W)), "MmBackward0")
  expect_identical(nm(W$t()), "TBackward0")
  expect_identical(nm(W$view(4)), "ViewBackward0")
  expect_identical(nm(torch_cat(list(w, w))), "CatBackward0")
  expect_null(w$grad_fn)
  expect_output(print(mean(w)$grad_fn), "^MeanBackward0$")
})

test_that("float32 tensors hold float32 values, float64 tensors base R's", {
  v <- c(0.1, 1 / 3, 2.5, 1e-40, 16777217, NaN)
  f32 <- function(x) readBin(writeBin(x, raw(), size = 4L), "double", n = length(x), size = 4L)
  expect_identical(as.numeric(torch_tensor(v)), f32(v))
  expect_identical(as.numeric(torch_tensor(v, dtype = torch_double())), v)
  a <- runif(50)
  b <- runif(50)
  # each result is the float32 rounding of the exact result of float32 inputs
  ta <- torch_tensor(a)
  tb <- torch_tensor(b)
  expect_identical(as.numeric(ta + tb), f32(f32(a) + f32(b)))
  expect_identical(as.numeric(ta * tb), f32(f32(a) * f32(b)))
  expect_identical(as.numeric(ta / tb), f32(f32(a) / f32(b)))
  expect_identical(as.numeric(sqrt(ta)), f32(sqrt(f32(a))))
  expect_identical(as.numeric(torch_tensor(a, dtype = torch_double()) * b), a * b)
  expect_output(print(torch_tensor(v)$dtype), "^torch_Float$")
  expect_output(print(torch_tensor(v, dtype = "float64")$dtype), "^torch_Double$")
  expect_output(print(torch_tensor(1:2)$dtype), "^torch_Long$")
})

test_that("sums and means add in PyTorch's order, in float32 for float tensors", {
  ref <- utils::read.csv(test_path("torch-sums.csv"), stringsAsFactors = FALSE)
  f32 <- function(x) readBin(writeBin(as.double(x), raw(), size = 4L), "double", n = length(x), size = 4L)
  differs_from_exact <- 0L
  for (r in seq_len(nrow(ref))) {
    n <- ref$n[r]
    v <- (((1:n) * 7919) %% 1000 - 500) / 37
    s32 <- as.numeric(sum(torch_tensor(v)))
    expect_identical(s32, as.numeric(ref$float32[r]), label = paste("float32 sum of", n))
    expect_identical(as.numeric(sum(torch_tensor(v, dtype = torch_double()))), as.numeric(ref$float64[r]), label = paste("float64 sum of", n))
    expect_identical(as.numeric(mean(torch_tensor(v))), f32(s32 / n))
    differs_from_exact <- differs_from_exact + (s32 != f32(sum(f32(v))))
  }
  # the order matters: the exactly rounded sum differs for most sizes
  expect_gt(differs_from_exact, 50L)
  # the gradient of a broadcast number is such a sum too
  x <- torch_tensor(v)
  mu <- torch_tensor(0.5, requires_grad = TRUE)
  mu2 <- torch_tensor(0.5, requires_grad = TRUE)
  sum((x - mu)^2)$backward()
  g <- as.numeric(with_no_grad(-2 * (x - mu2)))
  expect_identical(as.numeric(mu$grad), as.numeric(sum(torch_tensor(g))))
})

test_that("gradcheck() reports the worst relative error against finite differences", {
  a <- torch_tensor(matrix(c(0.5, -1, 2, 0.25), 2), requires_grad = TRUE)
  b <- torch_tensor(c(1.5, -0.5), requires_grad = TRUE)
  expect_message(res <- gradcheck(function(a, b) tanh(a$mm(a) + b)^2, list(a, b)), "worst relative error")
  expect_true(res$ok)
  expect_lt(res$max_error, 1e-7)
  # the analytic gradient of sum(w * tanh(A A + b)^2) by hand in base R
  A <- matrix(c(0.5, -1, 2, 0.25), 2)
  # a wrong gradient is found: abs() has derivative sign(x), here replaced
  # by a function whose recorded derivative is wrong at x = 0.5
  bad <- function(x) {
    out <- x * 1
    assign("node", list(name = "Bad", inputs = list(x), backward = function(g) list(g * 3), seq = 0), envir = out)
    assign("requires_grad", TRUE, envir = out)
    out
  }
  expect_message(res_bad <- gradcheck(function(x) sum(bad(x)), torch_tensor(c(0.5, 1), requires_grad = TRUE)))
  expect_false(res_bad$ok)
  expect_equal(res_bad$max_error, 2 / 1, tolerance = 1e-6)
  expect_error(gradcheck(1, a), class = "fwdprop_error")
  expect_error(gradcheck(function(a) a, list(1)), class = "fwdprop_error")
})

# Lecture 6 ---------------------------------------------------------------------

# PyTorch's float32 values for the lecture (torch-lecture06.py)
lecture06_torch <- function() {
  ref <- utils::read.csv(test_path("lecture06-torch.csv"), stringsAsFactors = FALSE)
  ref$value <- as.numeric(ref$value)
  split(ref$value, ref$what)
}

test_that("lecture 6's code prints the lecture's output and PyTorch's float32 values", {
  ref <- lecture06_torch()
  # the lecture's seven data values, from torch's random stream
  torch_manual_seed(2021)
  x_tensor <- torch_rand(7) * 10
  expect_identical(as.numeric(x_tensor), ref$x)
  expect_identical(
    capture.output(x_tensor),
    c("torch_tensor", " 5.1339", " 7.4256", " 7.1589", " 5.7047", " 1.6527", " 0.4431", " 9.6277", "[ CPUFloatType{7} ]")
  )
  f <- function(mu, x) {
    mean((x - mu)^2)
  }
  expect_identical(capture.output(f(2, x_tensor)), c("torch_tensor", "20.0462", "[ CPUFloatType{} ]"))
  mu_vec <- seq(0, 10, by = 0.02)
  result <- vapply(mu_vec, function(m) as.numeric(f(mu = m, x = x_tensor)), numeric(1))
  expect_identical(capture.output(head(result)), "[1] 37.27285 37.06098 36.84991 36.63964 36.43018 36.22152")
  # every point of the curve is PyTorch's float32 value, bit for bit (the
  # sum inside mean() adds in PyTorch's order)
  expect_identical(result, ref$curve)
  f_prime <- function(mu, x) {
    -mean(2 * (x - mu))
  }
  expect_identical(capture.output(f_prime(2.5, x_tensor)), c("torch_tensor", "-5.61331", "[ CPUFloatType{} ]"))
  expect_identical(as.numeric(f_prime(2.5, x_tensor)), ref$f_prime)

  mu <- torch_tensor(2.5, requires_grad = TRUE)
  expect_identical(capture.output(mu), c("torch_tensor", " 2.5000", "[ CPUFloatType{1} ]"))
  y <- mean((x_tensor - mu)^2)
  expect_identical(capture.output(y$grad_fn), "MeanBackward0")
  y$backward()
  expect_identical(capture.output(mu$grad), c("torch_tensor", "-5.6133", "[ CPUFloatType{1} ]"))
  expect_identical(as.numeric(mu$grad), ref$grad)
  z <- y^2
  expect_identical(capture.output(z$grad_fn), "PowBackward0")
  expect_identical(capture.output(z$detach_()), c("torch_tensor", "288.646", "[ CPUFloatType{} ]"))
  expect_identical(as.numeric(z), ref$z)
  expect_identical(capture.output(z$grad_fn), "NULL")

  a <- torch_tensor(c(1, 2))
  expect_identical(capture.output(a), c("torch_tensor", " 1", " 2", "[ CPUFloatType{2} ]"))
  expect_identical(capture.output(a$requires_grad), "[1] FALSE")
  expect_identical(capture.output(a$requires_grad_(TRUE)), c("torch_tensor", " 1", " 2", "[ CPUFloatType{2} ]"))
  expect_identical(capture.output(y), c("torch_tensor", "16.9896", "[ CPUFloatType{} ]"))
  expect_identical(as.numeric(y), ref$y)
  expect_identical(capture.output(with_no_grad({
    y
    y$grad_fn
  })), "MeanBackward0")

  learning_rate <- 0.1
  mu <- torch_tensor(0.5, requires_grad = TRUE)
  result <- rep(0, 100)
  result[1] <- as.numeric(mu)
  for (i in 2:100) {
    result[i] <- as.numeric(mu)
    y <- mean((x_tensor - mu)^2)
    y$backward()
    with_no_grad({
      mu$sub_(learning_rate * mu$grad)
      mu$grad$zero_()
    })
  }
  expect_identical(capture.output(tail(result)), "[1] 5.306654 5.306654 5.306654 5.306654 5.306654 5.306654")
  expect_identical(result, ref$descent)
  expect_identical(capture.output(x_tensor$mean()), c("torch_tensor", "5.30665", "[ CPUFloatType{} ]"))
  expect_identical(as.numeric(x_tensor$mean()), ref$mean)
})

test_that("plot() draws the graph torch records and returns its nodes and edges", {
  x <- torch_tensor(c(5.1, 7.4, 7.2))
  mu <- torch_tensor(2.5, requires_grad = TRUE)
  w <- torch_tensor(c(1, 2, 3), requires_grad = TRUE)
  y <- mean((x - mu)^2 * w + w)
  file <- tempfile(fileext = ".png")
  grDevices::png(file)
  g <- plot(y)
  grDevices::dev.off()
  expect_gt(file.size(file), 1000)
  n <- g$nodes
  expect_identical(n$label[n$depth == 0], "MeanBackward0")
  expect_setequal(n$label, c("MeanBackward0", "AddBackward0", "MulBackward0", "PowBackward0", "SubBackward0", "leaf {1}", "leaf {3}"))
  # w feeds both the product and the sum: one node, two edges, drawn below both
  leaf_w <- n$id[n$label == "leaf {3}"]
  expect_identical(sum(g$edges$to == leaf_w), 2L)
  expect_identical(n$depth[n$id == leaf_w], max(n$depth[n$label %in% c("MulBackward0", "AddBackward0")]) + 1L)
  # data (x) and numbers (2) are not in the graph
  expect_identical(nrow(n), 7L)
  expect_error(plot(x), class = "fwdprop_error")
  expect_error(plot(y, foo = 1), class = "fwdprop_error")
})

test_that("the fused linear layer equals x W^T + b, with finite-difference gradients", {
  set.seed(108)
  linear <- fwdprop:::tensor_linear
  X <- rand_array(c(5, 3))
  W <- rand_array(c(4, 3))
  b <- rand_array(4)
  out <- linear(torch_tensor(X, dtype = torch_double()), torch_tensor(W, dtype = torch_double()), torch_tensor(b, dtype = torch_double()))
  expect_equal(as_array(out), X %*% t(W) + matrix(b, 5, 4, byrow = TRUE), tolerance = 1e-14)
  expect_equal(as_array(linear(torch_tensor(X, dtype = torch_double()), torch_tensor(W, dtype = torch_double()))), X %*% t(W), tolerance = 1e-14)
  w8 <- torch_tensor(rand_array(c(5, 4)), dtype = torch_double())
  expect_gradients(function(ts) weighted_sum(linear(ts[[1]], ts[[2]], ts[[3]]), w8), list(X, W, b))
  expect_gradients(function(ts) weighted_sum(tanh(linear(ts[[1]], ts[[2]])), w8), list(X, W))
  x <- torch_tensor(X, requires_grad = TRUE)
  expect_identical(format(linear(x, torch_tensor(W), torch_tensor(b))$grad_fn), "AddmmBackward0")
  expect_error(linear(x, torch_tensor(t(W))), class = "fwdprop_error")
  expect_error(linear(x, torch_tensor(W), torch_tensor(1:3 / 2)), class = "fwdprop_error")
})

test_that("a long gradient-descent loop holds no memory: each step's graph is freed", {
  skip_on_cran()
  torch_manual_seed(2021)
  x <- torch_rand(7) * 10
  mu <- torch_tensor(0.5, requires_grad = TRUE)
  step <- function() {
    y <- mean((x - mu)^2)
    y$backward()
    with_no_grad({
      mu$sub_(0.1 * mu$grad)
      mu$grad$zero_()
    })
  }
  cells <- function() sum(gc()[, 1])
  rss_kb <- function() {
    status <- "/proc/self/status"
    if (!file.exists(status)) return(NA_real_)
    line <- grep("^VmRSS:", readLines(status), value = TRUE)
    as.numeric(gsub("[^0-9]", "", line))
  }
  for (i in 1:500) step()
  before <- cells()
  rss_before <- rss_kb()
  for (i in 1:100000) step()
  after <- cells()
  rss_after <- rss_kb()
  # R objects alive after 100,000 more steps: the same (a few cells of slack
  # for the loop's own variables), where a kept graph would add ~100 per step
  expect_lt(after - before, 200)
  # and the process's memory (Rust's included) stays flat: a leak of one
  # small vector per step would be several MB
  if (!is.na(rss_before)) expect_lt(rss_after - rss_before, 4096)
  expect_equal(as.numeric(mu), as.numeric(x$mean()), tolerance = 1e-5)
})

test_that("a training loop with linear layers holds no memory over 20,000 epochs", {
  skip_on_cran()
  torch_manual_seed(1)
  x <- torch_tensor(matrix(seq(-1, 1, length.out = 50)), requires_grad = TRUE)$view(c(-1, 1))
  y <- torch_tensor(matrix(sin(3 * seq(-1, 1, length.out = 50))))
  net <- nn_sequential(nn_linear(1, 8), nn_tanh(), nn_linear(8, 1))
  opt <- optim_sgd(net$parameters, lr = 0.05)
  epoch <- function() {
    opt$zero_grad()
    loss <- nnf_mse_loss(net(x), y)
    loss$backward()
    opt$step()
    loss$item()
  }
  for (i in 1:500) epoch()
  before <- sum(gc()[, 1])
  first <- epoch()
  for (i in 1:20000) last <- epoch()
  expect_lt(sum(gc()[, 1]) - before, 200)
  expect_lt(last, first / 2)
})

test_that("linear layers past the hot path's size and long chains give the same values", {
  # up to 2^20 products in Rust, beyond them the R code (R's BLAS)
  set.seed(3)
  for (n in c(2000L, 2100L)) {
    xv <- matrix(rnorm(n * 25), n, 25)
    wv <- matrix(rnorm(20 * 25), 20, 25)
    x <- torch_tensor(xv, dtype = torch_double(), requires_grad = TRUE)
    w <- torch_tensor(wv, dtype = torch_double(), requires_grad = TRUE)
    y <- nnf_linear(x, w)
    expect_identical(is.list(.subset2(y, "node")$backward), n == 2000L)
    expect_equal(as.matrix(y), xv %*% t(wv), tolerance = 1e-13)
    sum(y)$backward()
    expect_equal(as.matrix(x$grad), matrix(colSums(wv), n, 25, byrow = TRUE), tolerance = 1e-13)
    expect_equal(as.matrix(w$grad), matrix(colSums(xv), 20, 25, byrow = TRUE), tolerance = 1e-12)
  }
  # a chain of 10,000 recorded operations: the backward pass in Rust has no
  # recursion and finds each node once
  res <- both_paths(function() {
    a <- torch_tensor(c(0.5, 2), dtype = torch_double(), requires_grad = TRUE)
    z <- a
    for (k in 1:10000) z <- z * 1.0001 + 1e-4
    s <- sum(z)
    s$backward()
    c(as.numeric(s), as.numeric(a$grad))
  })
  expect_identical(res$native, res$r)
  expect_equal(res$native[2:3], rep(1.0001^10000, 2), tolerance = 1e-10)
})

test_that("gradients equal PyTorch's float64 autograd (broadcasting, a chain of 12 operations)", {
  # fixtures/torch-autograd.csv: made by torch-autograd-fixtures.py with
  # PyTorch 2.15, the same expressions as below
  fx <- utils::read.csv(test_path("fixtures", "torch-autograd.csv"), stringsAsFactors = FALSE)
  nums <- function(s) as.numeric(strsplit(s, " ", fixed = TRUE)[[1L]])
  build <- function(row) {
    shape <- nums(row$shape)
    v <- nums(row$values)
    data <- if (length(shape) == 1L) v else matrix(v, shape[[1L]], shape[[2L]], byrow = TRUE)
    torch_tensor(data, dtype = torch_double(), requires_grad = TRUE)
  }
  cases <- list(
    mm_sigmoid_broadcast_row = function(a, b, c) sum(a$mm(b)$sigmoid() * c),
    mse_1d_broadcast = function(a, b) mean((a - b)^2),
    exp_div_column = function(a, b) sum(exp(a) / (1 + b)),
    tanh_relu_mean = function(a) mean((tanh(a) - 0.1)$relu()),
    log_sqrt_abs = function(a, b) sum(log(a) * sqrt(a) + abs(b)^3),
    chain_of_twelve = function(a, b, c, d) {
      mean(((log(1 + exp(a$mm(b)$tanh() * 2 - c)) / (1 + d^2))$sigmoid() - 0.5)^2) * 3
    },
    scalar_times_matrix = function(m, x) sum(x * m - m^2)
  )
  expect_setequal(unique(fx$case), names(cases))
  for (name in names(cases)) {
    rows <- fx[fx$case == name, ]
    inputs <- lapply(seq_len(nrow(rows)), function(i) build(rows[i, ]))
    y <- do.call(cases[[name]], inputs)
    y$backward()
    expect_equal(y$item(), rows$value[[1L]], tolerance = 1e-12, info = name)
    for (i in seq_along(inputs)) {
      want <- nums(rows$grad[[i]])
      got <- inputs[[i]]$grad
      got <- if (length(nums(rows$shape[[i]])) == 1L) as.numeric(got) else as.vector(t(as.matrix(got)))
      rel <- max(abs(got - want)) / max(abs(want), 1e-300)
      expect_lt(rel, 1e-10, label = sprintf("%s, input %d: relative error %.2g", name, i, rel))
    }
  }
})

test_that("the hot path in Rust gives the R code's values and gradients bit for bit", {
  set.seed(20261204)
  special <- c(0, -0, 1, -1.5, 2, NA, NaN, Inf, -Inf, 1e-300, 3e38, 0.1)
  shapes <- list(c(3L, 4L), 5L, integer(0))
  ops <- c("+", "-", "*", "/", "^")
  values <- function(shape, with_special) {
    n <- prod(shape)
    v <- round(rnorm(n) * 3, 2)
    if (with_special && n > 1) v[seq_len(min(n, 4L))] <- sample(special, min(n, 4L))
    if (length(shape) >= 2) array(v, rev(shape)) else v
  }
  run_case <- function(op, dtype, sa, sb, ra, rb, number, with_special) {
    va <- values(sa, with_special)
    vb <- if (number == 0L) values(sb, with_special) else 2.5
    f <- function() {
      a <- torch_tensor(va, dtype = dtype, requires_grad = ra)
      b <- if (number == 0L) torch_tensor(vb, dtype = dtype, requires_grad = rb)
      y <- switch(number + 1L, get(op)(a, b), get(op)(a, vb), get(op)(vb, a))
      out <- list(y = as.numeric(y), shape = y$shape, fn = if (!is.null(y$grad_fn)) format(y$grad_fn),
                  node_is_native = is.list(.subset2(y, "node")$backward))
      if (y$requires_grad) {
        s <- mean(y * y)
        s$backward(retain_graph = TRUE)
        s$backward()
        out$freed <- is.null(.subset2(s, "node")$backward)
        out$ga <- if (ra) as.numeric(a$grad)
        out$gb <- if (number == 0L && rb) as.numeric(b$grad)
      }
      out
    }
    res <- both_paths(f)
    label <- sprintf("%s, %s, shapes %s and %s, number %d", op, dtype, shape_label(sa), shape_label(sb), number)
    # the hot path took the case, the R code the other run
    if (!is.null(res$native$fn)) {
      expect_true(res$native$node_is_native, label = label)
      expect_false(res$r$node_is_native, label = label)
    }
    res$native$node_is_native <- res$r$node_is_native <- NULL
    expect_identical(res$native, res$r, label = label)
  }
  shape_label <- function(s) if (length(s)) paste(s, collapse = "x") else "()"
  for (op in ops) {
    for (dtype in c("float", "double")) {
      for (sa in shapes) {
        sbs <- list(sa, integer(0))
        if (length(sa) == 1L) sbs <- c(sbs, list(1L))
        for (sb in sbs) {
          for (k in 1:4) {
            ra <- k != 2L
            rb <- k != 3L
            run_case(op, dtype, sa, sb, ra, rb, 0L, with_special = k == 4L)
            run_case(op, dtype, sb, sa, ra, rb, 0L, with_special = k == 4L)
          }
        }
        run_case(op, dtype, sa, NULL, TRUE, FALSE, 1L, FALSE)
        run_case(op, dtype, sa, NULL, TRUE, FALSE, 2L, TRUE)
      }
    }
  }
})

test_that("the hot path's means, sums, chains and in-place updates equal the R code's", {
  x <- c(5.1338701, 7.4255710, 7.1588898, 5.7047157, 1.6527355, 0.4430902, 9.6277122)
  for (dtype in c("float", "double")) {
    # lecture 6's loop
    res <- both_paths(function() {
      xt <- torch_tensor(x, dtype = dtype)
      mu <- torch_tensor(0.5, dtype = dtype, requires_grad = TRUE)
      trace <- numeric(0)
      for (i in 1:30) {
        y <- mean((xt - mu)^2)
        y$backward()
        with_no_grad({
          mu$sub_(0.1 * mu$grad)
          mu$grad$zero_()
        })
        trace <- c(trace, as.numeric(y), as.numeric(mu))
      }
      trace
    })
    expect_identical(res$native, res$r)
    # a chain through sum(), the three operand kinds, add_() with alpha,
    # and gradients that meet (x used twice)
    res <- both_paths(function() {
      a <- torch_tensor(matrix(c(0.3, -1.2, 2, 0, 4.5, -0.7), 2), dtype = dtype, requires_grad = TRUE)
      b <- torch_tensor(1.7, dtype = dtype, requires_grad = TRUE)
      z <- (a * b - 2) / (a^2 + 1) + 3 / (b + a)
      s <- sum(z * a) + z$mean() - (1 - a$sum())
      s$backward()
      g <- list(as.numeric(s), as.numeric(a$grad), as.numeric(b$grad))
      with_no_grad({
        a$add_(a$grad, alpha = -0.25)
        a$sub_(torch_tensor(0.5, dtype = dtype), alpha = 3)
        b$sub_(1e-3)
      })
      c(g, list(as.numeric(a), as.numeric(b)))
    })
    expect_identical(res$native, res$r)
  }
  # a zero-length tensor and a scalar
  res <- both_paths(function() {
    e <- torch_tensor(numeric(0), requires_grad = TRUE)
    k <- torch_tensor(2, requires_grad = TRUE)
    s <- sum(e * k) + mean(k^3)
    s$backward()
    list(as.numeric(s), as.numeric(e$grad), as.numeric(k$grad))
  })
  expect_identical(res$native, res$r)
})

test_that("cases the hot path leaves to the R code still work and still fail as before", {
  a <- torch_tensor(matrix(1:6, 2), dtype = torch_double(), requires_grad = TRUE)
  # broadcasting beyond one value, mixed dtypes, long tensors
  y <- a + torch_tensor(c(1, 2, 3), dtype = torch_double())
  expect_identical(as.numeric(y), as.numeric(matrix(1:6, 2) + rep(c(1, 2, 3), each = 2)))
  expect_identical(format(y$grad_fn), "AddBackward0")
  expect_identical(as.numeric(a * torch_tensor(2)), as.numeric(matrix(1:6, 2) * 2))
  expect_identical(as.numeric(torch_tensor(1:3) + 1L), c(2, 3, 4))
  # an in-place change of a leaf that requires grad, outside with_no_grad()
  expect_error(a$sub_(1), class = "fwdprop_error")
  # a graph mixing operations recorded in Rust and in R
  x <- torch_tensor(c(0.5, -1, 2), dtype = torch_double(), requires_grad = TRUE)
  s <- sum(tanh(x * 2)^2)
  s$backward()
  expect_equal(as.numeric(x$grad), 2 * tanh(2 * c(0.5, -1, 2)) * (1 - tanh(2 * c(0.5, -1, 2))^2) * 2, tolerance = 1e-14)
  # a second backward through a freed graph
  y <- mean((x - 1)^2)
  y$backward()
  expect_error(y$backward(), class = "fwdprop_error")
})

test_that("the hot path's elementwise functions equal the R code's bit for bit", {
  v <- c(-3.5, -0.25, -0, 0, 1e-8, 0.7, 2, 40, NA, NaN, Inf, -Inf)
  for (dtype in c("float", "double")) {
    for (fun in c("neg", "exp", "log", "sigmoid", "tanh", "relu")) {
      # (the R code's log() warns of NaNs as base R's does; torch and the
      # hot path do not)
      res <- suppressWarnings(both_paths(function() {
        x <- torch_tensor(v, dtype = dtype, requires_grad = TRUE)
        y <- fwdprop:::tensor_unary(fun, x)
        native <- is.list(.subset2(y, "node")$backward)
        s <- sum(y * torch_tensor(seq_along(v) / 7, dtype = dtype))
        s$backward()
        list(y = as.numeric(y), fn = format(y$grad_fn), g = as.numeric(x$grad), native = native)
      }))
      expect_true(res$native$native, label = fun)
      expect_false(res$r$native, label = fun)
      res$native$native <- res$r$native <- NULL
      expect_identical(res$native, res$r, label = sprintf("%s (%s)", fun, dtype))
    }
  }
})

test_that("the hot path's linear layer sums each value in order, with the reference gradients", {
  set.seed(42)
  n <- 7L
  i <- 5L
  o <- 3L
  xv <- matrix(round(rnorm(n * i), 3), n, i)
  wv <- matrix(round(rnorm(o * i), 3), o, i)
  bv <- round(rnorm(o), 3)
  gv <- matrix(round(rnorm(n * o), 3), n, o)
  # each value a dot product summed in order from 0 (rounded to float32
  # after the product and after the bias for float tensors)
  dot <- function(a, b) {
    s <- 0
    for (k in seq_along(a)) s <- s + a[k] * b[k]
    s
  }
  for (dtype in c("float", "double")) {
    r <- if (dtype == "float") fwdprop:::round_f32 else identity
    x <- torch_tensor(xv, dtype = dtype, requires_grad = TRUE)
    w <- torch_tensor(wv, dtype = dtype, requires_grad = TRUE)
    b <- torch_tensor(bv, dtype = dtype, requires_grad = TRUE)
    y <- nnf_linear(x, w, b)
    expect_identical(format(y$grad_fn), "AddmmBackward0")
    expect_true(is.list(.subset2(y, "node")$backward))
    xr <- as.matrix(x)
    wr <- as.matrix(w)
    br <- as.numeric(b)
    gr <- as.matrix(torch_tensor(gv, dtype = dtype))
    want <- matrix(0, n, o)
    for (a in 1:n) for (c in 1:o) want[a, c] <- r(r(dot(xr[a, ], wr[c, ])) + br[c])
    expect_identical(as.matrix(y), want)
    expect_equal(as.matrix(y), xr %*% t(wr) + rep(br, each = n), tolerance = if (dtype == "float") 1e-6 else 1e-14)
    s <- sum(y * torch_tensor(gv, dtype = dtype))
    s$backward()
    gx <- matrix(0, n, i)
    for (a in 1:n) for (l in 1:i) gx[a, l] <- r(dot(gr[a, ], wr[, l]))
    gw <- matrix(0, o, i)
    for (c in 1:o) for (l in 1:i) gw[c, l] <- r(dot(xr[, l], gr[, c]))
    gb <- vapply(1:o, function(c) r(dot(rep(1, n), gr[, c])), 0)
    expect_identical(as.matrix(x$grad), gx)
    expect_identical(as.matrix(w$grad), gw)
    expect_identical(as.numeric(b$grad), gb)
    # the R code (BLAS) gives the same up to the order of additions
    res <- both_paths(function() {
      x <- torch_tensor(xv, dtype = dtype, requires_grad = TRUE)
      w <- torch_tensor(wv, dtype = dtype, requires_grad = TRUE)
      s <- sum(tanh(nnf_linear(x, w)) * 3)
      s$backward()
      list(as.numeric(s), as.numeric(x$grad), as.numeric(w$grad))
    })
    expect_equal(res$native, res$r, tolerance = if (dtype == "float") 1e-6 else 1e-14)
  }
})

test_that("the backward pass in Rust also runs the operations recorded in R", {
  # views, transposes, clamp and reductions over a dimension are recorded
  # in R; their backward functions are called from the pass in Rust
  res <- both_paths(function() {
    x <- torch_tensor(matrix(c(0.3, -1.2, 2, 0, 4.5, -0.7), 2), dtype = torch_double(), requires_grad = TRUE)
    v <- x$view(c(3, 2))$t()
    y <- exp(v$clamp(min = -1, max = 2)) * x
    s <- mean(y$sum(dim = 1)) + (y$mean(dim = 2) * 2)$sum()
    s$backward()
    list(as.numeric(s), as.numeric(x$grad), format(s$grad_fn))
  })
  expect_identical(res$native, res$r)
  # the lecture 8 graph: its input is a view of a leaf that requires grad,
  # which keeps its backward function over the epochs
  x <- torch_tensor(c(0.5, -1, 2), requires_grad = TRUE)$view(c(-1, 1))
  net <- nn_linear(1, 2)
  for (k in 1:3) {
    loss <- nnf_mse_loss(net(x), torch_tensor(matrix(1, 3, 2)))
    loss$backward()
  }
  expect_false(is.null(.subset2(x, "node")$backward))
  expect_identical(length(as.numeric(net$weight$grad)), 2L)
})
