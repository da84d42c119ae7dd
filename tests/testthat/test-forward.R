test_that("forward() equals the base-R chain on the lecture network", {
  set.seed(1234)
  X <- matrix(1:6, ncol = 2, byrow = TRUE)
  net <- network(c(2, 3, 1))
  W <- net$weights
  expect_equal(forward(net, X), plogis(plogis(X %*% W[[1]]) %*% W[[2]]), tolerance = 1e-14)
})

test_that("forward() equals the base-R chain for every activation, with and without bias", {
  set.seed(7)
  for (act in c("sigmoid", "relu", "tanh", "identity", "softmax")) {
    for (bias in c(FALSE, TRUE)) {
      net <- random_net(c(5, 7, 4, 3), activations = act, bias = bias)
      x <- matrix(rnorm(11 * 5), 11)
      expect_equal(forward(net, x), forward_ref(net, x), tolerance = 1e-13,
                   info = paste(act, bias))
    }
  }
  net <- random_net(c(4, 6, 6, 3), activations = c("relu", "tanh", "softmax"), bias = TRUE)
  x <- matrix(rnorm(40), 10)
  expect_equal(forward(net, x), forward_ref(net, x), tolerance = 1e-13)
  expect_equal(rowSums(forward(net, x)), rep(1, 10), tolerance = 1e-14)
})

test_that("softmax is stable for huge inputs", {
  net <- network(weights = list(diag(3)), output = "softmax")
  x <- rbind(c(1000, 999, 998), c(-1000, 0, 1000), c(1e300, 0, -1e300))
  out <- forward(net, x)
  expect_false(anyNA(out))
  expect_equal(rowSums(out), rep(1, 3))
  expect_equal(out, forward_ref(net, x), tolerance = 1e-14)
})

test_that("trace = TRUE returns every layer's z and a", {
  set.seed(3)
  net <- random_net(c(3, 4, 2), activations = c("relu", "sigmoid"), bias = TRUE)
  x <- matrix(rnorm(15), 5)
  tr <- forward(net, x, trace = TRUE)
  expect_s3_class(tr, "fwdprop_trace")
  ref <- forward_ref(net, x, trace = TRUE)
  expect_equal(tr$z, ref$z, tolerance = 1e-14)
  expect_equal(tr$a, ref$a, tolerance = 1e-14)
  expect_equal(tr$a[[2]], forward(net, x), tolerance = 1e-14)
  expect_identical(tr$x, x)
  expect_snapshot(print(forward(network(weights = list(matrix(c(0.5, -1), 2))), matrix(1:4, 2),
                                trace = TRUE)))
})

test_that("forward() keeps row names and output column names", {
  net <- network(weights = list(matrix(1, 2, 3), matrix(1:6, 3, dimnames = list(NULL, c("p", "q")))))
  x <- matrix(1:4, 2, dimnames = list(c("s1", "s2"), c("a", "b")))
  out <- forward(net, x)
  expect_identical(dimnames(out), list(c("s1", "s2"), c("p", "q")))
  expect_identical(dimnames(out), dimnames(plogis(plogis(x %*% net$weights[[1]]) %*% net$weights[[2]])))
  expect_null(dimnames(forward(net, unname(x))[, 1, drop = FALSE]) [[1]])
})

test_that("forward() takes data frames, integer and logical input", {
  set.seed(5)
  net <- random_net(c(4, 3, 2))
  df <- iris[1:10, 1:4]
  expect_equal(forward(net, df), forward_ref(net, as.matrix(df)), tolerance = 1e-14)
  expect_identical(predict(net, df), forward(net, df))
  xi <- matrix(1:12, 3)
  expect_equal(forward(net, xi), forward_ref(net, xi), tolerance = 1e-14)
  xl <- matrix(c(TRUE, FALSE), 3, 4)
  expect_equal(forward(net, xl), forward_ref(net, xl * 1), tolerance = 1e-14)
})

test_that("forward() handles NA, NaN, Inf and zero rows like base R", {
  set.seed(9)
  net <- random_net(c(3, 4, 2))
  x <- matrix(rnorm(18), 6)
  x[2, 1] <- NA
  x[4, 3] <- NaN
  x[5, 2] <- Inf
  x[6, 1] <- -Inf
  got <- forward(net, x)
  want <- forward_ref(net, x)
  expect_identical(is.na(got), is.na(want))
  expect_equal(got, want, tolerance = 1e-14)
  x0 <- matrix(numeric(0), 0, 3)
  expect_identical(dim(forward(net, x0)), c(0L, 2L))
  tr0 <- forward(net, x0, trace = TRUE)
  expect_identical(lapply(tr0$a, dim), list(c(0L, 4L), c(0L, 2L)))
})

test_that("fused and traced (unfused) passes agree around block boundaries", {
  set.seed(11)
  net <- random_net(c(7, 9, 5, 3), activations = c("tanh", "relu", "sigmoid"), bias = TRUE)
  for (n in c(0, 1, 2, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 3001)) {
    x <- matrix(rnorm(n * 7), n, 7)
    fused <- forward(net, x)
    unfused <- forward(net, x, trace = TRUE)$a[[3]]
    expect_equal(fused, unfused, tolerance = 1e-12, info = n)
    for (th in c(1, 2)) {
      expect_equal(forward(net, x, threads = th), fused, tolerance = 1e-12, info = paste(n, th))
    }
  }
})

test_that("a large batch on two threads equals one thread and base R", {
  set.seed(12)
  net <- random_net(c(30, 64, 16, 1), sd = 0.3)
  x <- matrix(rnorm(20000 * 30), 20000)
  one <- forward(net, x, threads = 1)
  two <- forward(net, x, threads = 2)
  expect_equal(two, one, tolerance = 1e-12)
  expect_equal(one, forward_ref(net, x), tolerance = 1e-12)
})

test_that("forward() rejects bad input with clear errors", {
  net <- network(c(2, 3, 1), seed = 1)
  expect_error(forward(list(), matrix(1, 1, 2)), class = "fwdprop_error")
  expect_error(forward(net, matrix(1, 2, 3)), class = "fwdprop_error")
  expect_error(forward(net, 1:2), class = "fwdprop_error")
  expect_error(forward(net, "a"), class = "fwdprop_error")
  expect_error(forward(net, data.frame(a = 1, b = "x")), class = "fwdprop_error")
  expect_error(forward(net, matrix(1, 1, 2), trace = NA), class = "fwdprop_error")
  expect_error(forward(net, matrix(1, 1, 2), threads = 0), class = "fwdprop_error")
  expect_snapshot(error = TRUE, {
    forward(net, matrix(1, 5, 3))
    forward(net, c(1, 2))
    forward(net, data.frame(a = 1, b = "x", c = factor("u")))
    forward(net, matrix(1, 1, 2), trace = "yes")
    forward(matrix(1), matrix(1, 1, 2))
  })
})
