# Torch-style tensors: construction, dtypes, devices, `$` methods,
# arithmetic against base R, indexing, concatenation and printing. Autograd
# is tested in test-autograd.R.

# a double tensor (the lecture's `dtype = torch_double()`)
td <- function(x) tensor(x, dtype = torch_double())
f32 <- function(x) readBin(writeBin(as.double(x), raw(), size = 4L), "double", n = length(x), size = 4L)

# Constructor -----------------------------------------------------------------

test_that("tensor() keeps a matrix's shape and values, in R's index order", {
  m <- matrix(c(0.5, -2, 3, 4.25, NA, Inf), 3)
  x <- td(m)
  expect_s3_class(x, "fwdprop_tensor")
  expect_identical(dim(x), c(3L, 2L))
  expect_identical(x$shape, c(3L, 2L))
  expect_identical(as.matrix(x), m)
  expect_identical(as_array(x), m)
  expect_identical(as.numeric(x), as.numeric(m))
  expect_identical(length(x), 6L)
  mi <- matrix(1:6, ncol = 2, byrow = TRUE)
  expect_identical(as.matrix(td(mi)), mi * 1)
  # integers without NA are long (torch's default), as R integers back
  expect_identical(as_array(tensor(mi)), mi)
  expect_output(print(tensor(mi)$dtype), "torch_Long")
  ml <- matrix(c(TRUE, FALSE, NA, TRUE), 2)
  expect_identical(as.matrix(td(ml)), ml + 0)
  # 3-dimensional arrays keep their indexing
  a <- array(runif(24), c(2, 3, 4))
  ta <- td(a)
  expect_identical(ta$shape, c(2L, 3L, 4L))
  expect_identical(as_array(ta), a)
  expect_identical(as.numeric(ta[2, 3, 4]), a[2, 3, 4])
})

test_that("vectors are 1-dimensional, numbers 1-dimensional of length 1, as in torch", {
  x <- tensor(c(0.1, 0.2, 0.3))
  expect_identical(x$shape, 3L)
  expect_identical(x$ndim, 1L)
  expect_identical(as_array(x), f32(c(0.1, 0.2, 0.3)))
  expect_identical(tensor(2.5)$shape, 1L)
  expect_identical(as.matrix(td(1:3)), as.matrix(c(1, 2, 3)))
  expect_identical(tensor(numeric(0))$shape, 0L)
  # a mean is 0-dimensional
  expect_identical(mean(tensor(c(1, 2)))$shape, integer(0))
  expect_identical(mean(tensor(c(1, 2)))$item(), 1.5)
})

test_that("float32 is the default dtype and holds float32 values; double is exact", {
  v <- c(0.1, 1 / 3, 123456.789, -2.5e-8)
  expect_identical(as.numeric(tensor(v)), f32(v))
  expect_identical(as.numeric(torch_tensor(v, dtype = torch_float())), f32(v))
  expect_identical(as.numeric(torch_tensor(v, dtype = "float32")), f32(v))
  expect_identical(as.numeric(torch_tensor(v, dtype = torch_double())), v)
  expect_identical(as.numeric(torch_tensor(v, dtype = torch_float64())), v)
  expect_identical(as.numeric(torch_tensor(v, dtype = "double")), v)
  expect_identical(as.numeric(torch_tensor(v, dtype = torch_long())), trunc(v))
  # the Rust rounding agrees with R's own float conversion on many values
  set.seed(7)
  w <- c(rnorm(2000) * 10^sample(-40:40, 2000, TRUE), 0, -0, 2^-149, 2^-150, 3.4028235e38, 3.5e38, Inf, -Inf)
  expect_identical(as.numeric(tensor(w)), f32(w))
  expect_true(is.nan(as.numeric(tensor(NaN))))
  # conversions keep or round the values
  x <- torch_tensor(v, dtype = torch_double())
  expect_identical(as.numeric(x$to(dtype = torch_float())), f32(v))
  expect_identical(as.numeric(x$float()), f32(v))
  expect_identical(as.numeric(x$float()$double()$to(dtype = "float64")), f32(v))
  expect_output(print(x$float()$dtype), "torch_Float")
  expect_output(print(x$long()$dtype), "torch_Long")
})

test_that("dtypes given as torch calls are read without evaluating them", {
  skip_if(requireNamespace("torch", quietly = TRUE), "torch is installed here")
  m <- matrix(c(0.25, 0.5), 1)
  want <- as_array(td(m))
  expect_identical(as_array(tensor(m, dtype = torch::torch_double())), want)
  expect_identical(as_array(tensor(m, dtype = torch::torch_float64())), want)
  fake_double <- structure("Double", class = "torch_dtype")
  expect_identical(as_array(tensor(m, dtype = fake_double)), want)
  dt <- "double"
  expect_identical(as_array(tensor(m, dtype = dt)), want)
  expect_identical(as_array(tensor(m, dtype = NULL)), matrix(f32(m), 1))
})

test_that("tensor() refuses other dtypes and non-numeric data", {
  skip_if(requireNamespace("torch", quietly = TRUE), "torch is installed here")
  fake_half <- structure("Half", class = "torch_dtype")
  expect_error(tensor(1, dtype = torch::torch_int32()), class = "fwdprop_error")
  expect_error(tensor(1, dtype = "int32"), class = "fwdprop_error")
  expect_error(tensor(1, dtype = 64), class = "fwdprop_error")
  expect_error(tensor(1, dtype = fake_half), class = "fwdprop_error")
  expect_error(tensor(1, dtype = torch_double(1)), class = "fwdprop_error")
  expect_error(tensor(1, foo = torch_double()), class = "fwdprop_error")
  for (bad in list("a", letters, list(1, 2), NULL, data.frame(a = 1), factor("a"), 1i, mean)) {
    expect_error(tensor(bad), class = "fwdprop_error")
  }
  expect_snapshot(error = TRUE, {
    tensor(1, dtype = torch::torch_int32())
    tensor(1, dtype = "int32")
    tensor(1, dtype = 64)
    tensor(1, dtype = fake_half)
    tensor(1, foo = torch_double())
    tensor("a")
    tensor(data.frame(a = 1:2))
    tensor(list(1, 2))
    tensor(NULL)
    tensor(structure(list(), class = "torch_tensor"))
  })
})

test_that("creation functions make torch's shapes and values", {
  expect_identical(as_array(torch_zeros(3, 5)), matrix(0, 3, 5))
  expect_identical(as_array(torch_zeros(c(3, 5))), matrix(0, 3, 5))
  expect_identical(as_array(torch_ones(2)), c(1, 1))
  expect_identical(as_array(torch_eye(3)), diag(3))
  expect_identical(torch_empty(2, 3)$shape, c(2L, 3L))
  expect_output(print(torch_zeros(2, dtype = torch_double())$dtype), "torch_Double")
  torch_manual_seed(2021)
  a <- torch_rand(2, 3)
  torch_manual_seed(2021)
  b <- torch_rand(2, 3)
  expect_identical(as_array(a), as_array(b))
  expect_true(all(as_array(a) >= 0 & as_array(a) < 1))
  expect_identical(as.numeric(a), f32(as.numeric(a)))
  expect_identical(torch_randn(4, 2)$shape, c(4L, 2L))
  # lecture 2: torch_manual_seed(2021), then B and C as the lecture prints them
  torch_manual_seed(2021)
  B <- torch_rand(2, 3)
  C <- torch_rand(2, 3, 2)
  expect_identical(format(B), c("torch_tensor", " 0.5134  0.7426  0.7159", " 0.5705  0.1653  0.0443", "[ CPUFloatType{2,3} ]"))
  expect_identical(
    format(C),
    c("torch_tensor", "(1,.,.) = ", "  0.9628  0.2943", "  0.0992  0.8096", "  0.0169  0.8222", "",
      "(2,.,.) = ", "  0.1242  0.7489", "  0.3608  0.5131", "  0.2959  0.7834", "[ CPUFloatType{2,3,2} ]")
  )
  r <- torch_rand(3, requires_grad = TRUE)
  expect_true(r$requires_grad)
  expect_error(torch_zeros(-1), class = "fwdprop_error")
  expect_error(torch_zeros("a"), class = "fwdprop_error")
  expect_error(torch_manual_seed(1.5), class = "fwdprop_error")
})

test_that("fwdprop computes on the CPU: cuda is an error that says how to write the line", {
  expect_false(cuda_is_available())
  expect_output(print(torch_device("cpu")), "torch_device\\(type='cpu'\\)")
  x <- torch_tensor(c(1, 2), device = torch_device("cpu"))
  expect_identical(x$cpu(), x)
  expect_identical(x$to(device = "cpu"), x)
  expect_error(torch_device("cuda"), class = "fwdprop_error")
  expect_error(x$cuda(), class = "fwdprop_error")
  expect_error(torch_tensor(1, device = "cuda"), class = "fwdprop_error")
  expect_error(x$to(device = "cuda"), class = "fwdprop_error")
  expect_snapshot(error = TRUE, {
    torch_device("cuda")
    x$cuda()
    torch_tensor(1, device = "cuda:0")
  })
})

# $ methods ---------------------------------------------------------------------

test_that("X$mm(beta) equals %*% and returns a tensor", {
  set.seed(11)
  for (s in list(c(1, 2, 1), c(3, 2, 3), c(5, 4, 2), c(17, 9, 6), c(40, 33, 35))) {
    a <- matrix(rnorm(s[1] * s[2]), s[1])
    b <- matrix(rnorm(s[2] * s[3]), s[2])
    X <- td(a)
    got <- X$mm(td(b))
    expect_s3_class(got, "fwdprop_tensor")
    expect_equal(as.matrix(got), a %*% b, tolerance = 1e-13)
    # a plain matrix works as well, and gives the same as mm()
    expect_identical(as.matrix(X$mm(b)), as.matrix(got))
    expect_identical(as.matrix(got), mm(a, b))
    expect_identical(as.matrix(X$matmul(td(b))), as.matrix(got))
  }
  # float32: the float32 rounding of the product of float32 values
  a <- matrix(runif(6), 2)
  b <- matrix(runif(6), 3)
  fa <- matrix(f32(a), 2)
  fb <- matrix(f32(b), 3)
  expect_identical(as.matrix(tensor(a)$mm(tensor(b))), matrix(f32(fa %*% fb), 2))
})

test_that("X$mm() is bound to X", {
  X <- td(matrix(1:4, 2))
  f <- X$mm
  X <- td(diag(2))
  expect_identical(as.matrix(f(diag(2))), matrix(c(1, 2, 3, 4), 2))
  fs <- lapply(1:3, function(k) td(diag(2) * k)$mm)
  expect_identical(as.matrix(fs[[3]](diag(2))), diag(2) * 3)
})

test_that("X$mm() rejects bad input with a fwdprop_error naming both sides", {
  X <- td(matrix(1:6, 3))
  expect_error(X$mm(X), class = "fwdprop_error")
  expect_error(X$mm(X), "`X` \\(3x2\\) by `X` \\(3x2\\)")
  for (bad in list(1:2, "a", NULL, data.frame(a = 1:2), list(1, 2), array(1:8, c(2, 2, 2)))) {
    expect_error(X$mm(bad), class = "fwdprop_error")
  }
  beta <- matrix(1, 3, 1)
  expect_snapshot(error = TRUE, {
    X$mm(beta)
    X$mm(td(matrix(1, 1, 4)))
    X$mm(c(0.5, 0.2))
    X$mm(data.frame(a = 1:2, b = 3:4))
    X$mm(NULL)
    X$mm(tensor(matrix(1, 2, 2)))
    td(matrix(1:6, 3))$mm(matrix(runif(12), 4, 3))
  })
})

test_that("$sigmoid(), $t(), $shape, $size(), $view() and $item() mirror torch", {
  m <- matrix(c(-3, 0, 2.5, 40, -800, NA), 2)
  X <- td(m)
  expect_identical(as.matrix(X$sigmoid()), sigmoid(m))
  expect_equal(as.matrix(X$sigmoid()), plogis(m), tolerance = 1e-14)
  expect_identical(as.matrix(X$t()), t(m))
  expect_identical(as.matrix(t(X)), t(m))
  expect_identical(X$shape, c(2L, 3L))
  expect_identical(X$size(), c(2L, 3L))
  expect_identical(X$size(1), 2L)
  expect_identical(X$size(-1), 3L)
  expect_identical(X$size()[[1]], 2L)
  expect_identical(X$dim(), 2L)
  expect_identical(X$numel(), 6L)
  expect_identical(X[["shape"]], X$shape)
  expect_identical(as.matrix(X[["mm"]](diag(3))), as.matrix(X$mm(diag(3))))
  # view() reads the values in torch's (row-major) order
  A <- td(1:6)
  expect_identical(as_array(A$view(c(2, 3))), matrix(1:6, 2, byrow = TRUE) * 1)
  expect_identical(A$view(c(1, -1))$shape, c(1L, 6L))
  expect_identical(A$view(c(-1, 1))$shape, c(6L, 1L))
  expect_identical(A$view(2, 3)$shape, c(2L, 3L))
  expect_identical(A$view(c(2, 3))$transpose(1, 2)$shape, c(3L, 2L))
  expect_identical(as_array(A$view(c(2, 3))$transpose(1, 2)), matrix(1:6, 3) * 1)
  expect_identical(A$view(c(2, 3))$unsqueeze(1)$shape, c(1L, 2L, 3L))
  expect_identical(A$view(c(1, 6))$squeeze()$shape, 6L)
  expect_identical(td(3.5)$item(), 3.5)
  expect_identical(tensor(3L)$item(), 3L)
  expect_error(A$item(), class = "fwdprop_error")
  expect_error(A$view(c(4, -1)), class = "fwdprop_error")
})

test_that("unknown $ fields, $<- and bad $size() arguments are errors", {
  X <- td(matrix(1:4, 2))
  expect_error(X$numpy(), class = "fwdprop_error")
  expect_error(X$foo, class = "fwdprop_error")
  expect_error(X$size(3), class = "fwdprop_error")
  expect_error(X$size(0), class = "fwdprop_error")
  expect_error(X$size("a"), class = "fwdprop_error")
  expect_error(X$shape <- c(1, 4), class = "fwdprop_error")
  expect_identical(X$shape, c(2L, 2L))
  expect_snapshot(error = TRUE, {
    X$numpy()
    X[["foo"]]
    X$size(3)
    X$size(0)
    X$foo <- 1
    X$view(c(3, -1))
  })
})

# Indexing and conversions ---------------------------------------------------------

test_that("indexing follows torch: a single number drops its dimension", {
  m <- matrix(c(1.5, 2, -3, 4, 5, 6), 2)
  x <- td(m)
  expect_identical(x[1, ]$shape, 3L)
  expect_identical(as_array(x[1, ]), m[1, ])
  expect_identical(as_array(x[, 2:3]), m[, 2:3])
  expect_identical(as_array(x[2, 3]), m[2, 3])
  expect_identical(x[2, 3]$shape, integer(0))
  expect_identical(x[1:2, 1]$shape, 2L)
  expect_identical(as_array(x[-1, ]), m[2, ])
  # a size-1 dimension taken whole is kept
  one <- td(matrix(1:3, 1))
  expect_identical(one[, 2:3]$shape, c(1L, 2L))
  expect_identical(one[1, ]$shape, 3L)
  # the lecture's dataset pattern: rows of a data matrix
  d <- td(matrix(1:18, 6))
  expect_identical(d[1:6, 1:2]$shape, c(6L, 2L))
  expect_identical(as_array(d[c(2, 4), 3]), c(14, 16))
  # assignment changes the tensor in place
  x[1, 2] <- 10
  m[1, 2] <- 10
  expect_identical(as_array(x), m)
  x[, 1] <- c(7, 8)
  m[, 1] <- c(7, 8)
  expect_identical(as_array(x), m)
  expect_error(x[1, 1] <- "a", class = "fwdprop_error")
  expect_error(x[1], class = "fwdprop_error")
  expect_snapshot(error = TRUE, {
    x[1, 1] <- "a"
    x[1]
  })
})

test_that("c() on tensors returns a plain list of them", {
  a <- td(matrix(1, 2, 1))
  b <- td(matrix(2, 2, 1))
  d <- td(matrix(3, 2, 1))
  expect_identical(c(a, b, d), list(a, b, d))
  expect_identical(c(a), list(a))
  expect_identical(c(a, list(b, d)), list(a, b, d))
  expect_identical(c(first = a, b), list(first = a, b))
})

# Arithmetic --------------------------------------------------------------------------

test_that("arithmetic with numbers and tensors gives base R's values in double", {
  m <- matrix(c(0.5, -2, 3, 4.25, NA, Inf, 0, -0.75), 2)
  x <- td(m)
  g <- 0.4846681
  ops <- list(`+` = `+`, `-` = `-`, `*` = `*`, `/` = `/`, `^` = `^`, `%%` = `%%`, `%/%` = `%/%`)
  for (op in names(ops)) {
    f <- ops[[op]]
    expect_identical(as_array(f(x, g)), f(m, g), info = op)
    expect_identical(as_array(f(g, x)), f(g, m), info = op)
    expect_identical(as_array(f(x, 2L)), f(m, 2L), info = op)
    expect_identical(as_array(f(x, x)), f(m, m), info = op)
    expect_identical(as_array(f(x, m)), f(m, m), info = op)
  }
  expect_identical(as_array(-x), -m)
  expect_identical(as_array(+x), m)
})

test_that("tensors of different shapes broadcast as in torch", {
  z <- matrix(c(1, 2, 3, 4, 5, 6), 3)
  row_full <- matrix(c(10, 20), 3, 2, byrow = TRUE)
  col_full <- matrix(c(100, 200, 300), 3, 2)
  expect_identical(as_array(td(z) + td(c(10, 20))), z + row_full)
  expect_identical(as_array(td(z) + matrix(c(10, 20), 1)), z + row_full)
  expect_identical(as_array(td(z) * td(matrix(c(100, 200, 300), 3))), z * col_full)
  expect_identical(as_array(td(matrix(c(100, 200, 300), 3)) - td(matrix(c(10, 20), 1))), col_full - row_full)
  # the lecture's A + torch_tensor(1:3) and A + column
  A <- td(1:6)$view(c(2, 3))
  expect_identical(as_array(A + tensor(1:3)), matrix(c(2, 4, 6, 5, 7, 9), 2, byrow = TRUE))
  expect_identical(as_array(A + tensor(matrix(2:3, ncol = 1))), matrix(c(3, 4, 5, 7, 8, 9), 2, byrow = TRUE))
  expect_output(print((A + tensor(1:3))$dtype), "torch_Double")
  # 3 dimensions against 2
  a3 <- array(1:24, c(2, 3, 4))
  b2 <- matrix(1:4, 1)
  want <- a3
  for (i in 1:2) for (j in 1:3) want[i, j, ] <- a3[i, j, ] + b2[1, ]
  expect_identical(as_array(td(a3) + td(b2)), want * 1)
  e <- td(matrix(numeric(0), 0, 2))
  expect_identical((e + td(matrix(1:2, 1)))$shape, c(0L, 2L))
})

test_that("dtypes combine as in torch", {
  L <- tensor(1:3)
  Fl <- tensor(c(0.5, 1, 2))
  D <- td(c(0.5, 1, 2))
  expect_output(print((L + Fl)$dtype), "torch_Float")
  expect_output(print((Fl + D)$dtype), "torch_Double")
  expect_output(print((L + 1L)$dtype), "torch_Long")
  expect_output(print((L + 0.5)$dtype), "torch_Float")
  expect_output(print((L / L)$dtype), "torch_Float")
  expect_identical(as_array(L / tensor(2L)), f32(c(0.5, 1, 1.5)))
  # a number does not change a float tensor's dtype
  expect_output(print((Fl * 2)$dtype), "torch_Float")
  expect_output(print((D * 2)$dtype), "torch_Double")
})

test_that("comparisons return plain logical arrays", {
  m <- matrix(c(0.5, -2, 3, NA, 0, 1), 2)
  x <- td(m)
  expect_identical(x > 0, m > 0)
  expect_identical(0 < x, 0 < m)
  expect_identical(x == x, m == m)
  expect_identical(x != 3, m != 3)
  expect_identical(x >= matrix(1, 1, 3), m >= matrix(1, 2, 3))
  expect_identical(!x, !m)
  expect_true(all(td(matrix(1:4, 2)) > 0))
})

test_that("Math and Summary functions return tensors with base R's values", {
  m <- matrix(c(0.5, 2, 3.14159, 4.25, 1, 7, 0.1, 0.75), 2)
  x <- td(m)
  funs <- list(exp = exp, log = log, sqrt = sqrt, abs = abs, floor = floor, ceiling = ceiling, tanh = tanh, log1p = log1p, expm1 = expm1, sign = sign, trunc = trunc, sin = sin, cos = cos)
  for (f in names(funs)) {
    expect_identical(as_array(funs[[f]](x)), funs[[f]](m), info = f)
  }
  expect_identical(as_array(round(x, 2)), round(m, 2))
  expect_identical(as_array(exp(-x)), exp(-m))
  expect_equal(as.numeric(sum(x)), sum(m), tolerance = 1e-15)
  expect_equal(as.numeric(mean(x)), mean(m), tolerance = 1e-15)
  expect_identical(as.numeric(max(x)), max(m))
  expect_identical(as.numeric(min(x)), min(m))
  expect_identical(range(x), range(m))
  expect_s3_class(sum(x), "fwdprop_tensor")
  # the formula 1 / (1 + exp(-z)) gives a tensor equal to sigmoid()
  set.seed(5)
  mz <- matrix(c(rnorm(30, sd = 5), -Inf, Inf, 0, -800, 3, 4), 6)
  z <- td(mz)
  by_formula <- 1 / (1 + exp(-z))
  expect_identical(as_array(by_formula), 1 / (1 + exp(-mz)))
  expect_equal(as_array(by_formula), as_array(sigmoid(z)), tolerance = 1e-14)
})

test_that("bad operands are a fwdprop_error naming the shapes", {
  x <- td(matrix(1:6, 3))
  expect_error(x + 1:3, class = "fwdprop_error")
  expect_error(x * "a", class = "fwdprop_error")
  expect_error(x + matrix(1, 2, 2), class = "fwdprop_error")
  expect_error(x > list(1), class = "fwdprop_error")
  expect_error(x + NULL, class = "fwdprop_error")
  expect_snapshot(error = TRUE, {
    x + 1:3
    x * "a"
    x + matrix(1, 2, 2)
    x == td(matrix(1, 2, 3))
    x / NULL
  })
})

# Concatenation -----------------------------------------------------------------------

test_that("tensor_cat() joins along dim as rbind() and cbind() do for matrices", {
  a <- matrix(c(1.5, 2, 3, 4), 2)
  b <- matrix(c(5, 6, 7, 8, 9, 10), 3)
  d <- matrix(c(0.1, 0.2), 2)
  expect_identical(as_array(tensor_cat(list(td(a), td(b)), 1)), rbind(a, b))
  expect_identical(as_array(tensor_cat(list(td(a), td(d)), 2)), cbind(a, d))
  expect_identical(as_array(tensor_cat(list(td(a), b))), rbind(a, b))
  expect_identical(as_array(tensor_cat(list(td(a), td(d)), -1)), cbind(a, d))
  expect_identical(as_array(tensor_cat(list(td(1:2), td(3:5)))), c(1, 2, 3, 4, 5))
  a3 <- array(runif(12), c(2, 3, 2))
  b3 <- array(runif(6), c(2, 3, 1))
  expect_identical(as_array(tensor_cat(list(td(a3), td(b3)), 3)), array(c(a3, b3), c(2, 3, 3)))
  # the lecture's pattern: c() of tensors, then torch_cat along columns
  cols <- lapply(1:3, function(k) td(matrix(runif(2), ncol = 1)))
  expect_identical(
    as_array(torch_cat(c(cols[[1]], cols[[2]], cols[[3]]), 2)),
    cbind(as.matrix(cols[[1]]), as.matrix(cols[[2]]), as.matrix(cols[[3]]))
  )
})

test_that("torch_stack() joins tensors of one shape along a new dimension", {
  rows <- lapply(1:4, function(i) td(c(i, 10 * i)))
  expect_identical(as_array(torch_stack(rows)), cbind(1:4, 10 * (1:4)) * 1)
  expect_identical(as_array(torch_stack(rows, 2)), rbind(1:4, 10 * (1:4)) * 1)
  expect_identical(torch_stack(list(td(1), td(2)))$shape, c(2L, 1L))
  w <- torch_tensor(c(1, 2), requires_grad = TRUE)
  s <- torch_stack(list(w, w * 3))
  sum(s)$backward()
  expect_identical(as.numeric(w$grad), c(4, 4))
  expect_error(torch_stack(list(td(1:2), td(1:3))), class = "fwdprop_error")
  expect_error(torch_stack(list()), class = "fwdprop_error")
})

test_that("tensor_cat() rejects mismatched shapes and bad arguments", {
  a <- td(matrix(1, 2, 1))
  b <- td(matrix(1, 3, 2))
  expect_error(tensor_cat(list(a, b), 2), class = "fwdprop_error")
  expect_error(tensor_cat(a, 1), class = "fwdprop_error")
  expect_error(tensor_cat(list(), 1), class = "fwdprop_error")
  expect_error(tensor_cat(list(a, "x"), 1), class = "fwdprop_error")
  expect_error(tensor_cat(list(a, a), 3), class = "fwdprop_error")
  expect_snapshot(error = TRUE, {
    tensor_cat(list(a, b), 2)
    torch_cat(c(a, b), 2)
    tensor_cat(a, 1)
    tensor_cat(list(), 1)
    tensor_cat(list(a, "x"), 1)
    tensor_cat(list(a, a), 3)
    tensor_cat(list(a, a), "rows")
  })
})

test_that("torch tensors without torch installed are a clear error", {
  skip_if(requireNamespace("torch", quietly = TRUE), "torch is installed here")
  fake <- structure(list(), class = "torch_tensor")
  expect_error(torch_cat(list(fake, fake), 1), class = "fwdprop_error")
  expect_error(td(matrix(1, 2, 2))$mm(fake), class = "fwdprop_error")
})

# Printing ----------------------------------------------------------------------------

test_that("printing matches torch's layout for the lecture's kinds of values", {
  expect_identical(
    format(td(matrix(c(0.1137034, 0.6222994), ncol = 1))),
    c("torch_tensor", " 0.1137", " 0.6223", "[ CPUDoubleType{2,1} ]")
  )
  expect_identical(
    format(td(matrix(1:6, ncol = 2, byrow = TRUE))),
    c("torch_tensor", " 1  2", " 3  4", " 5  6", "[ CPUDoubleType{3,2} ]")
  )
  expect_identical(
    capture.output(print(td(matrix(c(0.1137034, 0.6222994), ncol = 1)))),
    c("torch_tensor", " 0.1137", " 0.6223", "[ CPUDoubleType{2,1} ]")
  )
  x <- td(matrix(1:2, 1))
  printed <- capture.output(res <- withVisible(print(x)))
  expect_false(res$visible)
  expect_identical(res$value, x)
  # lecture 1's and 2's tensors (printed output of torch for R)
  expect_identical(format(torch_zeros(3, 5))[2:5], c(" 0  0  0  0  0", " 0  0  0  0  0", " 0  0  0  0  0", "[ CPUFloatType{3,5} ]"))
  expect_identical(
    format(torch_tensor(matrix(seq(0.1, 1, by = 0.1), ncol = 2))),
    c("torch_tensor", " 0.1000  0.6000", " 0.2000  0.7000", " 0.3000  0.8000", " 0.4000  0.9000", " 0.5000  1.0000", "[ CPUFloatType{5,2} ]")
  )
  expect_identical(format(torch_tensor(matrix(1:6, ncol = 2)))[5], "[ CPULongType{3,2} ]")
  # lecture 2's E: E[, , 1] is 1:6 by row, E[, , 2] 7:12
  E <- aperm(array(1:12, c(3, 2, 2)), c(2, 1, 3))
  expect_identical(
    format(torch_tensor(E)),
    c("torch_tensor", "(1,.,.) = ", "  1  7", "  2  8", "  3  9", "", "(2,.,.) = ", "   4  10", "   5  11", "   6  12", "[ CPULongType{2,3,2} ]")
  )
  expect_identical(
    format(td(1:6)$view(c(6, 1))$mm(td(1:6)$view(c(1, 6))))[2:3],
    c("  1   2   3   4   5   6", "  2   4   6   8  10  12")
  )
  expect_identical(format(td(c(1, 2, 3, 4, 5, 6))$view(c(1, -1))$mm(td(1:6)$view(c(-1, 1)))), c("torch_tensor", " 91", "[ CPUDoubleType{1,1} ]"))
  # 0-dimensional: six significant digits
  expect_identical(format(mean(tensor(c(20.0462245941, 20.0462245941)))), c("torch_tensor", "20.0462", "[ CPUFloatType{} ]"))
  expect_identical(format(td(-5.613309383)$view(integer(0)))[2], "-5.61331")
  expect_identical(format(td(4268.515625)$view(integer(0)))[2], "4268.52")
  expect_identical(format(td(NaN)$view(integer(0)))[2], "nan")
})

test_that("printing chooses widths, scientific notation and scale as torch does", {
  lines <- function(m) format(td(m))[-1]
  expect_identical(lines(matrix(c(12.5, 3.25), 1)), c(" 12.5000   3.2500", "[ CPUDoubleType{1,2} ]"))
  expect_identical(lines(matrix(c(-0.5, 0.25), 1))[1], "-0.5000  0.2500")
  expect_identical(lines(matrix(c(1e-6, 1), 1))[1], " 1.0000e-06  1.0000e+00")
  expect_identical(lines(matrix(c(1e-200, 1.5), 1))[1], " 1.0000e-200   1.5000e+00")
  expect_identical(lines(matrix(c(0.001, 0.005), 1))[1:2], c("0.001 *", " 1.0000  5.0000"))
  expect_identical(lines(matrix(c(123456.7, 234567.8), 2))[1:3], c("1e+05 *", " 1.2346", " 2.3457"))
  expect_identical(lines(matrix(c(-1, 20, 300, 4), 2))[1:2], c("  -1  300", "  20    4"))
  expect_identical(lines(matrix(c(1e10, 2), 2))[1:2], c(" 1.0000e+10", " 2.0000e+00"))
  expect_identical(lines(matrix(c(NA, NaN, Inf, -Inf), 2))[1:2], c("nan inf", "nan -inf"))
})

test_that("print snapshots", {
  expect_snapshot({
    td(matrix(1:2, ncol = 2, byrow = TRUE))
    td(matrix(c(0.6234, 0.8609, 0.6403, 0.0095, 0.2326, 0.6661), 2))
    tensor(1:3)
    tensor(c(0.5, 1.25))
    td(matrix(c(-1.5, 2.25, NA, NaN, Inf, -Inf), 2))
    td(matrix(c(1e-8, 0.5, 123.25, -7), 2))
    td(matrix(c(123456.7, 234567.8, 345678.9, 1e5 + 0.5), 2))
    td(matrix(numeric(0), 0, 3))
    torch_tensor(array(c(0.9628, 0.0992, 0.0169, 0.2943, 0.8096, 0.8222, 0.1242, 0.3608, 0.2959, 0.7489, 0.5131, 0.7834), c(3, 2, 2)))$transpose(1, 3)$transpose(2, 3)
    torch_ones(2, 2, 2, 2)
    mean(tensor(c(1, 2, 4)))
  })
})

test_that("wide tensors print in column blocks and long ones are cut after n lines", {
  wide <- td(matrix(seq(0.01, 0.46, by = 0.01), 2))
  out <- format(wide)
  expect_identical(out[2], "Columns 1 to 10")
  expect_identical(sum(startsWith(out, "Columns")), 3L)
  expect_identical(out[length(out)], "[ CPUDoubleType{2,23} ]")
  long <- td(matrix(seq_len(100) / 7, 50, 2))
  out <- format(long)
  expect_length(out, 1 + 30 + 1 + 1)
  expect_identical(out[32], "... [the output was truncated (use n=-1 to disable)]")
  expect_length(format(long, n = -1), 1 + 50 + 1)
  expect_length(format(td(1:100 / 3)), 33)
  big <- tensor(matrix(0.5, 2e4, 50))
  expect_length(format(big), 33)
})

test_that("format() checks its arguments", {
  x <- td(matrix(1:4, 2))
  expect_error(format(x, n = "a"), class = "fwdprop_error")
  expect_error(format(x, width = 0), class = "fwdprop_error")
})
