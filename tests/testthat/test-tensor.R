# Constructor -----------------------------------------------------------------

test_that("tensor() stores a numeric matrix as double and keeps its shape", {
  m <- matrix(c(0.5, -2, 3, 4.25, NA, Inf), 3)
  x <- tensor(m)
  expect_s3_class(x, "fwdprop_tensor")
  expect_identical(typeof(x), "double")
  expect_identical(dim(x), c(3L, 2L))
  expect_identical(as.matrix(x), m)
  expect_identical(unclass(x), m)

  mi <- matrix(1:6, ncol = 2, byrow = TRUE)
  expect_identical(as.matrix(tensor(mi)), mi * 1)
  expect_identical(typeof(as.matrix(tensor(mi))), "double")
  ml <- matrix(c(TRUE, FALSE, NA, TRUE), 2)
  expect_identical(as.matrix(tensor(ml)), ml + 0)

  md <- matrix(1:4, 2, dimnames = list(c("a", "b"), c("p", "q")))
  expect_identical(dimnames(tensor(md)), dimnames(md))
  # other attributes (here a class) are not carried over
  tab <- table(c(1, 1, 2), c("u", "v", "v"))
  expect_identical(as.matrix(tensor(tab)), unclass(tab) + 0)
  expect_identical(attributes(as.matrix(tensor(tab))), attributes(unclass(tab) + 0))
})

test_that("tensor() makes a vector a one-column matrix, as as.matrix() does", {
  expect_identical(as.matrix(tensor(1:3)), as.matrix(c(1, 2, 3)))
  expect_identical(dim(tensor(c(0.1, 0.2))), c(2L, 1L))
  v <- c(a = 1, b = 2)
  expect_identical(as.matrix(tensor(v)), as.matrix(v))
  expect_identical(dim(tensor(5)), c(1L, 1L))
  expect_identical(dim(tensor(numeric(0))), c(0L, 1L))
  expect_identical(as.matrix(tensor(c(TRUE, NA))), as.matrix(c(1, NA)))
  a1 <- array(c(2, 4), 2)
  expect_identical(as.matrix(tensor(a1)), matrix(c(2, 4), ncol = 1))
})

test_that("tensor() takes a tensor and zero-extent matrices", {
  x <- tensor(matrix(1:4, 2))
  expect_identical(tensor(x), x)
  z <- tensor(matrix(numeric(0), 0, 3))
  expect_s3_class(z, "fwdprop_tensor")
  expect_identical(dim(z), c(0L, 3L))
  expect_identical(dim(tensor(matrix(numeric(0), 2, 0))), c(2L, 0L))
})

test_that("tensor() accepts the double dtypes without evaluating torch calls", {
  skip_if(requireNamespace("torch", quietly = TRUE), "torch is installed here")
  # torch is absent: evaluating torch_double() would fail
  expect_error(torch_double())
  m <- matrix(c(0.25, 0.5), 1)
  want <- tensor(m)
  expect_identical(tensor(m, dtype = torch_double()), want)
  expect_identical(tensor(m, torch_double()), want)
  expect_identical(tensor(m, dtype = torch_float64()), want)
  expect_identical(tensor(m, dtype = torch::torch_double()), want)
  expect_identical(tensor(m, dtype = "double"), want)
  expect_identical(tensor(m, dtype = "float64"), want)
  expect_identical(tensor(m, dtype = "Float64"), want)
  expect_identical(tensor(m, dtype = NULL), want)
  dt <- "double"
  expect_identical(tensor(m, dtype = dt), want)
  nothing <- NULL
  expect_identical(tensor(m, dtype = nothing), want)
  # an object standing in for torch's dtype class
  fake_double <- structure("Double", class = "torch_dtype")
  expect_identical(tensor(m, dtype = fake_double), want)
})

test_that("tensor() refuses other dtypes and non-numeric data", {
  skip_if(requireNamespace("torch", quietly = TRUE), "torch is installed here")
  fake_float <- structure("Float", class = "torch_dtype")
  expect_error(tensor(1, dtype = torch_float()), class = "fwdprop_error")
  expect_error(tensor(1, dtype = torch::torch_int32()), class = "fwdprop_error")
  expect_error(tensor(1, dtype = "int32"), class = "fwdprop_error")
  expect_error(tensor(1, dtype = 64), class = "fwdprop_error")
  expect_error(tensor(1, dtype = fake_float), class = "fwdprop_error")
  expect_error(tensor(1, dtype = torch_double(1)), class = "fwdprop_error")
  for (bad in list("a", letters, list(1, 2), NULL, data.frame(a = 1), factor("a"), 1i, mean)) {
    expect_error(tensor(bad), class = "fwdprop_error")
  }
  expect_error(tensor(array(1:8, c(2, 2, 2))), class = "fwdprop_error")
  expect_snapshot(error = TRUE, {
    tensor(1, dtype = torch_float())
    tensor(1, dtype = torch::torch_int32())
    tensor(1, dtype = "int32")
    tensor(1, dtype = 64)
    tensor(1, dtype = fake_float)
    tensor("a")
    tensor(data.frame(a = 1:2))
    tensor(list(1, 2))
    tensor(NULL)
    tensor(array(1:8, c(2, 2, 2)))
    tensor(structure(list(), class = "torch_tensor"))
  })
})

# $ methods ---------------------------------------------------------------------

test_that("X$mm(beta) equals %*% and returns a tensor", {
  set.seed(11)
  for (s in list(c(1, 2, 1), c(3, 2, 3), c(5, 4, 2), c(17, 9, 6), c(40, 33, 35))) {
    a <- matrix(rnorm(s[1] * s[2]), s[1])
    b <- matrix(rnorm(s[2] * s[3]), s[2])
    X <- tensor(a)
    got <- X$mm(tensor(b))
    expect_s3_class(got, "fwdprop_tensor")
    expect_equal(as.matrix(got), a %*% b, tolerance = 1e-13)
    # a plain matrix works as well, and gives the same as mm()
    expect_identical(X$mm(b), got)
    expect_identical(as.matrix(got), mm(a, b))
  }
  # integer and logical right-hand sides, as %*% takes them
  X <- tensor(matrix(1:6, ncol = 2, byrow = TRUE))
  B <- matrix(c(2L, -1L, 0L, 3L, 5L, 7L), ncol = 3)
  expect_identical(as.matrix(X$mm(B)), matrix(1:6, ncol = 2, byrow = TRUE) %*% B)
  L <- matrix(c(TRUE, FALSE, TRUE, TRUE), 2)
  expect_identical(as.matrix(X$mm(L)), matrix(1:6, ncol = 2, byrow = TRUE) %*% L)
})

test_that("X$mm() keeps NA/NaN/Inf, dimnames and zero-extent shapes as %*% does", {
  a <- matrix(c(NA, 1, NaN, 2), 2, dimnames = list(c("r1", "r2"), c("a", "b")))
  b <- matrix(c(1, Inf, 0, 1), 2, dimnames = list(c("a", "b"), c("u", "v")))
  expect_identical(as.matrix(tensor(a)$mm(b)), a %*% b)
  z <- matrix(numeric(0), 0, 2)
  expect_identical(as.matrix(tensor(z)$mm(b)), z %*% b)
  expect_identical(dim(tensor(z)$mm(b)), c(0L, 2L))
})

test_that("X$mm() is bound to X", {
  X <- tensor(matrix(1:4, 2))
  f <- X$mm
  X <- tensor(diag(2))
  expect_identical(as.matrix(f(diag(2))), matrix(c(1, 2, 3, 4), 2))
  fs <- lapply(1:3, function(k) tensor(diag(2) * k)$mm)
  expect_identical(as.matrix(fs[[3]](diag(2))), diag(2) * 3)
})

test_that("X$mm() rejects bad input with a fwdprop_error naming both sides", {
  X <- tensor(matrix(1:6, 3))
  expect_error(X$mm(X), class = "fwdprop_error")
  expect_error(X$mm(X), "`X` \\(3x2\\) by `X` \\(3x2\\)")
  for (bad in list(1:2, "a", NULL, data.frame(a = 1:2), list(1, 2), array(1:8, c(2, 2, 2)))) {
    expect_error(X$mm(bad), class = "fwdprop_error")
  }
  beta <- matrix(1, 3, 1)
  expect_snapshot(error = TRUE, {
    X$mm(beta)
    X$mm(tensor(matrix(1, 1, 4)))
    X$mm(c(0.5, 0.2))
    X$mm(data.frame(a = 1:2, b = 3:4))
    X$mm(NULL)
    tensor(matrix(1:6, 3))$mm(matrix(runif(12), 4, 3))
  })
})

test_that("$sigmoid(), $t(), $shape and $size() mirror torch", {
  m <- matrix(c(-3, 0, 2.5, 40, -800, NA), 2)
  X <- tensor(m)
  expect_s3_class(X$sigmoid(), "fwdprop_tensor")
  expect_identical(as.matrix(X$sigmoid()), sigmoid(m))
  expect_equal(as.matrix(X$sigmoid()), plogis(m), tolerance = 1e-14)
  expect_identical(X$t(), tensor(t(m)))
  expect_identical(X$shape, c(2L, 3L))
  expect_type(X$shape, "integer")
  expect_identical(X$size(), c(2L, 3L))
  expect_identical(X$size(1), 2L)
  expect_identical(X$size(2), 3L)
  expect_identical(X$size(-1), 3L)
  expect_identical(X$size(-2), 2L)
  expect_identical(X[["shape"]], X$shape)
  expect_identical(X[["mm"]](diag(3)), X$mm(diag(3)))
  expect_identical(X[[3]], m[[3]])
  expect_identical(X[[2, 3]], m[[2, 3]])
})

test_that("unknown $ fields, $<- and bad $size() arguments are errors", {
  X <- tensor(matrix(1:4, 2))
  expect_error(X$numpy(), class = "fwdprop_error")
  expect_error(X$foo, class = "fwdprop_error")
  expect_error(X$size(3), class = "fwdprop_error")
  expect_error(X$size(0), class = "fwdprop_error")
  expect_error(X$size("a"), class = "fwdprop_error")
  expect_error(X$shape <- c(1, 4), class = "fwdprop_error")
  expect_identical(X, tensor(matrix(1:4, 2)))
  expect_snapshot(error = TRUE, {
    X$numpy()
    X[["foo"]]
    X$size(3)
    X$size(0)
    X$foo <- 1
  })
})

# Base generics -------------------------------------------------------------------

test_that("sigmoid() on a tensor is a tensor equal to plogis()", {
  m <- matrix(c(-Inf, -1, 0, 1, Inf, NA, NaN, 36.7), 2)
  z <- tensor(m)
  expect_s3_class(sigmoid(z), "fwdprop_tensor")
  expect_identical(as.matrix(sigmoid(z)), sigmoid(m))
  expect_equal(as.matrix(sigmoid(z)), plogis(m), tolerance = 1e-14)
  z0 <- tensor(matrix(numeric(0), 0, 3))
  expect_identical(dim(sigmoid(z0)), c(0L, 3L))
  expect_s3_class(sigmoid(z0), "fwdprop_tensor")
})

test_that("dim(), nrow(), ncol(), t() and conversions work on tensors", {
  m <- matrix(c(1.5, 2, -3, 4, 5, 6), 2, dimnames = list(c("a", "b"), NULL))
  x <- tensor(m)
  expect_identical(dim(x), dim(m))
  expect_identical(nrow(x), 2L)
  expect_identical(ncol(x), 3L)
  expect_identical(length(x), 6L)
  expect_s3_class(t(x), "fwdprop_tensor")
  expect_identical(as.matrix(t(x)), t(m))
  expect_identical(as.matrix(x), m)
  expect_false(inherits(as.matrix(x), "fwdprop_tensor"))
  expect_identical(as.array(x), m)
  expect_identical(as.numeric(x), as.numeric(m))
  expect_identical(as.vector(x), as.vector(m))
  expect_identical(as.double(x), c(1.5, 2, -3, 4, 5, 6))
  expect_null(attributes(as.vector(x)))
  expect_identical(sum(x), sum(m))
  expect_identical(max(x), max(m))
  expect_identical(range(x), range(m))
  expect_identical(min(x, 10), min(m, 10))
  expect_identical(prod(x), prod(m))
  expect_identical(any(x > 4), any(m > 4))
  expect_identical(median(x), median(m))
  expect_identical(quantile(x), quantile(m))
  expect_identical(sd(x), sd(m))
  expect_identical(summary(x), summary(m))
  mu <- rbind(m, m[1, ])
  expect_identical(unique(tensor(mu)), tensor(unique(mu)))
  expect_identical(head(tensor(mu), 2), tensor(head(mu, 2)))
  expect_identical(as.data.frame(x), as.data.frame(m))
  expect_identical(rowSums(x), rowSums(m))
  expect_identical(apply(x, 2, max), apply(m, 2, max))
  expect_identical(mean(x), mean(m))
  expect_true(is.matrix(x))
  expect_true(is.numeric(x))
  # reshaping keeps the class while the result is a matrix
  y <- x
  dim(y) <- c(3L, 2L)
  expect_identical(y, tensor(matrix(as.vector(m), 3)))
  dim(y) <- NULL
  expect_identical(y, as.vector(m))
})

test_that("indexing a tensor follows matrix indexing", {
  m <- matrix(c(1.5, 2, -3, 4, 5, 6), 2)
  x <- tensor(m)
  expect_identical(x[1, ], m[1, ])
  expect_false(inherits(x[1, ], "fwdprop_tensor"))
  expect_identical(x[1, , drop = FALSE], tensor(m[1, , drop = FALSE]))
  expect_identical(x[, 2:3], tensor(m[, 2:3]))
  expect_identical(x[x > 1], m[m > 1])
  expect_identical(x[], x)
  x[1, 2] <- 10
  m[1, 2] <- 10
  expect_identical(x, tensor(m))
  x[, 1] <- tensor(matrix(c(7, 8), 2))
  m[, 1] <- c(7, 8)
  expect_identical(x, tensor(m))
  x[2, 3] <- 1L
  expect_identical(typeof(x), "double")
  expect_error(x[1, 1] <- "a", class = "fwdprop_error")
  expect_snapshot(error = TRUE, x[1, 1] <- "a")
})

test_that("c() on tensors returns a plain list of them", {
  a <- tensor(matrix(1, 2, 1))
  b <- tensor(matrix(2, 2, 1))
  d <- tensor(matrix(3, 2, 1))
  expect_identical(c(a, b, d), list(a, b, d))
  expect_identical(c(a), list(a))
  expect_identical(c(a, list(b, d)), list(a, b, d))
  expect_identical(c(first = a, b), list(first = a, b))
  m <- matrix(4, 2, 1)
  expect_identical(c(a, m), list(a, m))
})

# Ops and Math ------------------------------------------------------------------------

test_that("arithmetic with numbers keeps the class and base R's values", {
  m <- matrix(c(0.5, -2, 3, 4.25, NA, Inf, 0, -0.75), 2)
  x <- tensor(m)
  g <- 0.4846681
  ops <- list(`+` = `+`, `-` = `-`, `*` = `*`, `/` = `/`, `^` = `^`, `%%` = `%%`, `%/%` = `%/%`)
  for (op in names(ops)) {
    f <- ops[[op]]
    expect_identical(f(x, g), tensor(f(m, g)), info = op)
    expect_identical(f(g, x), tensor(f(g, m)), info = op)
    expect_identical(f(x, 2L), tensor(f(m, 2L)), info = op)
    expect_identical(f(x, TRUE), tensor(f(m, TRUE)), info = op)
    expect_identical(f(x, NA), tensor(f(m, NA)), info = op)
    expect_identical(f(x, x), tensor(f(m, m)), info = op)
  }
  expect_identical(-x, tensor(-m))
  expect_identical(+x, x)
  expect_identical(x * c(k = 2), tensor(m * 2))
})

test_that("arithmetic with plain matrices and tensors of the same shape", {
  set.seed(3)
  a <- matrix(rnorm(12), 3)
  b <- matrix(rnorm(12), 3, dimnames = list(c("a", "b", "c"), NULL))
  expect_identical(tensor(a) + b, tensor(a + b))
  expect_identical(b * tensor(a), tensor(b * a))
  expect_identical(tensor(a) / tensor(b), tensor(a / b))
  # dimnames as base R gives them
  expect_identical(dimnames(tensor(b) - a), dimnames(b - a))
  bi <- matrix(1:12, 3)
  expect_identical(tensor(a) - bi, tensor(a - bi))
})

test_that("matrices of different shapes broadcast as in torch", {
  z <- matrix(c(1, 2, 3, 4, 5, 6), 3)
  row <- matrix(c(10, 20), 1)
  col <- matrix(c(100, 200, 300), 3)
  # explicit base R expansions
  row_full <- matrix(c(10, 20), 3, 2, byrow = TRUE)
  col_full <- matrix(c(100, 200, 300), 3, 2)
  expect_identical(tensor(z) + row, tensor(z + row_full))
  expect_identical(row + tensor(z), tensor(row_full + z))
  expect_identical(tensor(z) * tensor(col), tensor(z * col_full))
  expect_identical(tensor(col) - tensor(row), tensor(col_full[, c(1, 1)] - row_full))
  expect_identical(tensor(z) / matrix(4, 1, 1), tensor(z / 4))
  # a 1-row matrix against a 0-row tensor gives 0 rows, as torch
  e <- tensor(matrix(numeric(0), 0, 2))
  expect_identical(dim(e + row), c(0L, 2L))
  # names along the dimension that is not expanded are kept
  zn <- matrix(1:6, 3, dimnames = list(c("a", "b", "c"), c("u", "v")))
  expect_identical(dimnames(tensor(zn) + row), dimnames(zn))
  rn <- matrix(1:2, 1, dimnames = list("only", c("p", "q")))
  expect_identical(dimnames(tensor(z) + rn), list(NULL, c("p", "q")))
})

test_that("comparisons and logical operators return plain logical matrices", {
  m <- matrix(c(0.5, -2, 3, NA, 0, 1), 2)
  x <- tensor(m)
  expect_identical(x > 0, m > 0)
  expect_identical(0 < x, 0 < m)
  expect_identical(x == x, m == m)
  expect_identical(x != 3, m != 3)
  expect_identical(x <= m, m <= m)
  expect_identical(x >= matrix(1, 1, 3), m >= matrix(1, 2, 3))
  expect_identical(!x, !m)
  expect_identical(x & TRUE, m & TRUE)
  expect_identical(x | FALSE, m | FALSE)
  expect_true(is.logical(x > 0) && is.matrix(x > 0))
  expect_false(inherits(x > 0, "fwdprop_tensor"))
  expect_true(all((tensor(matrix(1:4, 2)) > 0)))
})

test_that("Math functions keep the class and base R's values", {
  m <- matrix(c(0.5, 2, 3.14159, 4.25, NA, Inf, 0, 0.75), 2)
  x <- tensor(m)
  funs <- list(
    exp = exp, log = log, sqrt = sqrt, abs = abs, floor = floor,
    ceiling = ceiling, atan = atan, tanh = tanh, log1p = log1p, expm1 = expm1,
    sign = sign, trunc = trunc
  )
  for (f in names(funs)) {
    expect_identical(funs[[f]](x), tensor(funs[[f]](m)), info = f)
  }
  expect_identical(round(x, 2), tensor(round(m, 2)))
  expect_identical(signif(x, 3), tensor(signif(m, 3)))
  expect_identical(log(x, base = 2), tensor(log(m, base = 2)))
  expect_identical(exp(-x), tensor(exp(-m)))
  # cumulative functions return vectors, as for a matrix
  expect_identical(cumsum(x), cumsum(m))
  expect_false(inherits(cumsum(x), "fwdprop_tensor"))
})

test_that("the formula 1 / (1 + exp(-z)) on a tensor gives a tensor equal to sigmoid()", {
  set.seed(5)
  m <- matrix(c(rnorm(30, sd = 5), -Inf, Inf, NA, NaN, 0, -800), 6)
  z <- tensor(m)
  by_formula <- 1 / (1 + exp(-z))
  expect_s3_class(by_formula, "fwdprop_tensor")
  expect_identical(as.matrix(by_formula), 1 / (1 + exp(-m)))
  expect_equal(as.matrix(by_formula), plogis(m), tolerance = 1e-14)
  expect_equal(by_formula, sigmoid(z), tolerance = 1e-14)
  # the CRAN package sigmoid: sigmoid(x) calls logistic(x, k = 1, x0 = 0),
  # which is this formula
  cran_logistic <- function(x, k = 1, x0 = 0) 1 / (1 + exp(-k * (x - x0)))
  expect_s3_class(cran_logistic(z), "fwdprop_tensor")
  expect_equal(cran_logistic(z), sigmoid(z), tolerance = 1e-14)
  expect_identical(cran_logistic(z), by_formula)
  # a lecture value: sigmoid of z_21 = 1.3583
  expect_equal(round(as.numeric(cran_logistic(tensor(1.3583022))), 4), 0.7955)
})

test_that("bad operands are a fwdprop_error naming the shapes", {
  x <- tensor(matrix(1:6, 3))
  expect_error(x + 1:3, class = "fwdprop_error")
  expect_error(x + 1:6, class = "fwdprop_error")
  expect_error(x * "a", class = "fwdprop_error")
  expect_error(x + matrix(1, 2, 2), class = "fwdprop_error")
  expect_error(x > list(1), class = "fwdprop_error")
  expect_error(x + array(1, c(1, 1, 1)), class = "fwdprop_error")
  expect_error(x + NULL, class = "fwdprop_error")
  expect_snapshot(error = TRUE, {
    x + 1:3
    c(0.5, 1) * x
    x * "a"
    x + matrix(1, 2, 2)
    x == tensor(matrix(1, 2, 3))
    x + array(1, c(1, 1, 1))
    x / NULL
  })
})

# Concatenation -----------------------------------------------------------------------

test_that("tensor_cat() binds rows with dim = 1 and columns with dim = 2", {
  a <- matrix(c(1.5, 2, 3, 4), 2)
  b <- matrix(c(5, 6, 7, 8, 9, 10), 3)
  d <- matrix(c(0.1, 0.2), 2)
  expect_identical(tensor_cat(list(tensor(a), tensor(b)), 1), tensor(rbind(a, b)))
  expect_identical(tensor_cat(list(tensor(a), tensor(d)), 2), tensor(cbind(a, d)))
  expect_identical(tensor_cat(list(tensor(a), b)), tensor(rbind(a, b)))
  expect_identical(tensor_cat(list(a, d), dim = 2L), tensor(cbind(a, d)))
  expect_identical(tensor_cat(list(tensor(a), tensor(b)), -2), tensor(rbind(a, b)))
  expect_identical(tensor_cat(list(tensor(a), tensor(d)), -1), tensor(cbind(a, d)))
  expect_identical(tensor_cat(list(tensor(a)), 1), tensor(a))
  # vectors count as columns, as in tensor()
  expect_identical(tensor_cat(list(1:2, c(0.5, 7)), 2), tensor(cbind(1:2, c(0.5, 7))))
  # the lecture's pattern: c() of tensors, then cbind
  cols <- lapply(1:3, function(k) tensor(matrix(runif(2), ncol = 1)))
  expect_identical(
    tensor_cat(c(cols[[1]], cols[[2]], cols[[3]]), 2),
    tensor(cbind(as.matrix(cols[[1]]), as.matrix(cols[[2]]), as.matrix(cols[[3]])))
  )
  # dimnames as rbind() gives them; zero-row pieces are fine
  an <- matrix(1:4, 2, dimnames = list(c("a", "b"), c("x", "y")))
  expect_identical(as.matrix(tensor_cat(list(an, a), 1)), rbind(an, a) + 0)
  e <- matrix(numeric(0), 0, 2)
  expect_identical(tensor_cat(list(e, a), 1), tensor(a))
})

test_that("torch_cat() is tensor_cat() for fwdprop tensors and matrices", {
  a <- tensor(matrix(c(1.5, 2, 3, 4), 2))
  d <- tensor(matrix(c(0.1, 0.2), 2))
  expect_identical(torch_cat(c(a, d), 2), tensor_cat(list(a, d), 2))
  expect_identical(torch_cat(list(a, a)), tensor_cat(list(a, a), 1))
  expect_error(torch_cat(list(a, tensor(matrix(1, 3, 3))), 2), class = "fwdprop_error")
})

test_that("torch tensors without torch installed are a clear error", {
  skip_if(requireNamespace("torch", quietly = TRUE), "torch is installed here")
  fake <- structure(list(), class = "torch_tensor")
  expect_error(torch_cat(list(fake, fake), 1), class = "fwdprop_error")
  expect_error(tensor(matrix(1, 2, 2))$mm(fake), class = "fwdprop_error")
  expect_snapshot(error = TRUE, torch_cat(list(fake, fake), 1))
})

test_that("tensor_cat() rejects mismatched shapes and bad arguments", {
  a <- tensor(matrix(1, 2, 1))
  b <- tensor(matrix(1, 3, 2))
  expect_error(tensor_cat(list(a, b), 2), class = "fwdprop_error")
  expect_error(tensor_cat(list(a, b), 1), class = "fwdprop_error")
  expect_error(tensor_cat(a, 1), class = "fwdprop_error")
  expect_error(tensor_cat(list(), 1), class = "fwdprop_error")
  expect_error(tensor_cat(list(a, "x"), 1), class = "fwdprop_error")
  expect_error(tensor_cat(list(a, a), 3), class = "fwdprop_error")
  expect_error(tensor_cat(data.frame(a = 1), 1), class = "fwdprop_error")
  expect_snapshot(error = TRUE, {
    tensor_cat(list(a, b), 2)
    tensor_cat(list(a, a, b), 1)
    torch_cat(c(a, b), 2)
    tensor_cat(a, 1)
    tensor_cat(matrix(1:4, 2), 2)
    tensor_cat(list(), 1)
    tensor_cat(list(a, "x"), 1)
    tensor_cat(list(a, a), 3)
    tensor_cat(list(a, a), 1.5)
    tensor_cat(list(a, a), "rows")
  })
})

# Printing ----------------------------------------------------------------------------

test_that("printing matches torch's layout for the lecture's kinds of values", {
  expect_identical(
    format(tensor(matrix(c(0.1137034, 0.6222994), ncol = 1))),
    c("torch_tensor", " 0.1137", " 0.6223", "[ CPUDoubleType{2,1} ]")
  )
  expect_identical(
    format(tensor(matrix(1:6, ncol = 2, byrow = TRUE))),
    c("torch_tensor", " 1  2", " 3  4", " 5  6", "[ CPUDoubleType{3,2} ]")
  )
  expect_identical(
    format(tensor(matrix(c(2.1296, 1.9669, 0.8199), 1))),
    c("torch_tensor", " 2.1296  1.9669  0.8199", "[ CPUDoubleType{1,3} ]")
  )
  expect_identical(
    capture.output(print(tensor(matrix(c(0.1137034, 0.6222994), ncol = 1)))),
    c("torch_tensor", " 0.1137", " 0.6223", "[ CPUDoubleType{2,1} ]")
  )
  x <- tensor(matrix(1:2, 1))
  printed <- capture.output(res <- withVisible(print(x)))
  expect_false(res$visible)
  expect_identical(res$value, x)
  expect_identical(printed, c("torch_tensor", " 1  2", "[ CPUDoubleType{1,2} ]"))
})

test_that("printing chooses widths, scientific notation and scale as torch does", {
  lines <- function(m) format(tensor(m))[-1]
  # values of 10 and more widen the column: hi + 6
  expect_identical(lines(matrix(c(12.5, 3.25), 1)), c(" 12.5000   3.2500", "[ CPUDoubleType{1,2} ]"))
  # negative values take the sign's place
  expect_identical(lines(matrix(c(-0.5, 0.25), 1))[1], "-0.5000  0.2500")
  # more than four orders of magnitude apart: scientific
  expect_identical(lines(matrix(c(1e-6, 1), 1))[1], " 1.0000e-06  1.0000e+00")
  expect_identical(lines(matrix(c(1e-200, 1.5), 1))[1], " 1.0000e-200   1.5000e+00")
  # all small: a common factor
  expect_identical(lines(matrix(c(0.001, 0.005), 1))[1:2], c("0.001 *", " 1.0000  5.0000"))
  expect_identical(lines(matrix(c(123456.7, 234567.8), 2))[1:3], c("1e+05 *", " 1.2346", " 2.3457"))
  # whole numbers print without decimals, 10 digits and more in scientific
  expect_identical(lines(matrix(c(-1, 20, 300, 4), 2))[1:2], c("  -1  300", "  20    4"))
  expect_identical(lines(matrix(c(1e10, 2), 2))[1:2], c(" 1.0000e+10", " 2.0000e+00"))
  expect_identical(lines(matrix(0, 1, 2))[1], " 0  0")
  # NA, NaN and infinities
  expect_identical(lines(matrix(c(NA, NaN, Inf, -Inf), 2))[1:2], c("nan inf", "nan -inf"))
  expect_identical(lines(matrix(c(0.5, NA, Inf, 1), 2))[1:2], c(" 0.5000     inf", "    nan  1.0000"))
})

test_that("print snapshots", {
  expect_snapshot({
    tensor(matrix(1:2, ncol = 2, byrow = TRUE), dtype = torch_double())
    tensor(matrix(c(0.1137034, 0.6222994), ncol = 1))
    tensor(matrix(c(0.6234, 0.8609, 0.6403, 0.0095, 0.2326, 0.6661), 2))
    tensor(matrix(1:6, ncol = 2, byrow = TRUE))
    tensor(1:3)
    tensor(matrix(c(-1.5, 2.25, NA, NaN, Inf, -Inf), 2))
    tensor(matrix(c(1e-8, 0.5, 123.25, -7), 2))
    tensor(matrix(c(1e150, 1e-150, 3.5, 2), 2))
    tensor(matrix(c(1234567, 2, 3, 4), 2))
    tensor(matrix(c(123456.7, 234567.8, 345678.9, 1e5 + 0.5), 2))
    tensor(matrix(c(0.00012, 0.0005, 0.00099, 0.0001), 2))
    tensor(matrix(numeric(0), 0, 3))
    tensor(matrix(numeric(0), 2, 0))
    tensor(matrix(c(-100.5, 1, 2, 3), 2))
  })
})

test_that("wide tensors print in column blocks and long ones are cut after n lines", {
  wide <- tensor(matrix(seq(0.01, 0.46, by = 0.01), 2))
  out <- format(wide)
  expect_identical(out[2], "Columns 1 to 10")
  expect_identical(sum(startsWith(out, "Columns")), 3L)
  expect_identical(out[length(out)], "[ CPUDoubleType{2,23} ]")
  expect_snapshot(wide)
  expect_snapshot(print(wide, width = 40))

  long <- tensor(matrix(seq_len(100) / 7, 50, 2))
  out <- format(long)
  expect_length(out, 1 + 30 + 1 + 1)
  expect_identical(out[32], "... [the output was truncated (use n=-1 to disable)]")
  expect_identical(out[33], "[ CPUDoubleType{50,2} ]")
  expect_length(format(long, n = -1), 1 + 50 + 1)
  expect_length(format(long, n = 5), 1 + 5 + 1 + 1)
  # exactly n lines with the footer: not cut; one more: cut
  expect_length(format(tensor(matrix(1, 29, 1))), 31)
  expect_identical(format(tensor(matrix(1, 30, 1)))[32], "... [the output was truncated (use n=-1 to disable)]")
  expect_snapshot(print(long, n = 4))
  # a huge tensor formats quickly: only what is shown is formatted
  big <- tensor(matrix(0.5, 2e5, 50))
  expect_length(format(big), 33)
})

test_that("format() checks its arguments", {
  x <- tensor(matrix(1:4, 2))
  expect_error(format(x, n = "a"), class = "fwdprop_error")
  expect_error(format(x, width = 0), class = "fwdprop_error")
  expect_snapshot(error = TRUE, {
    format(x, n = NA)
    format(x, width = -1)
  })
})
