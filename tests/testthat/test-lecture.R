# The lecture (5강, forward propagation) run twice from one set.seed(1234):
# once with its torch code, `torch_tensor()` renamed to `tensor()`, and once
# with plain matrices and mm()/sigmoid(). Each run takes the runif() draws
# in the lecture's order: section 1 draws beta_1 (2) and gamma_1 (1);
# section 2 continues the stream with beta_1, beta_2, beta_3 (2 each) and
# gamma_1, gamma_2, gamma_3 (1 each); section 3 continues with beta (6) and
# gamma (3). The expected numbers are those printed in the lecture.

lecture_with_tensors <- function() {
  set.seed(1234)
  out <- list()

  # 1. One sample, one path
  X <- tensor(matrix(1:2, ncol = 2, byrow = TRUE), dtype = torch_double())
  beta_1 <- tensor(matrix(runif(2), ncol = 1), dtype = torch_double())
  z_21 <- X$mm(beta_1)
  a_21 <- sigmoid(z_21)
  gamma_1 <- runif(1)
  z_31 <- a_21 * gamma_1
  y_hat <- sigmoid(z_31)
  out$s1 <- list(
    X = X, beta_1 = beta_1, z_21 = z_21, a_21 = a_21, gamma_1 = gamma_1,
    z_31 = z_31, y_hat = y_hat
  )

  # 2. One sample, three paths
  X <- tensor(matrix(1:2, ncol = 2, byrow = TRUE), dtype = torch_double())
  beta_1 <- tensor(matrix(runif(2), ncol = 1), dtype = torch_double())
  beta_2 <- tensor(matrix(runif(2), ncol = 1), dtype = torch_double())
  beta_3 <- tensor(matrix(runif(2), ncol = 1), dtype = torch_double())
  beta <- torch_cat(c(beta_1, beta_2, beta_3), 2)
  z_2 <- X$mm(beta)
  a_2 <- sigmoid(z_2)
  gamma_1 <- runif(1)
  gamma_2 <- runif(1)
  gamma_3 <- runif(1)
  gamma <- tensor(matrix(c(gamma_1, gamma_2, gamma_3), ncol = 1), dtype = torch_double())
  z_3 <- a_2$mm(gamma)
  y_hat <- sigmoid(z_3)
  out$s2 <- list(
    X = X, beta_1 = beta_1, beta_2 = beta_2, beta_3 = beta_3, beta = beta,
    beta_by_tensor_cat = tensor_cat(c(beta_1, beta_2, beta_3), 2),
    z_2 = z_2, a_2 = a_2, gamma = gamma, z_3 = z_3, y_hat = y_hat
  )

  # 3. All samples, all paths
  X <- tensor(matrix(1:6, ncol = 2, byrow = TRUE), dtype = torch_double())
  beta <- tensor(matrix(runif(6), ncol = 3), dtype = torch_double())
  z_2 <- X$mm(beta)
  a_2 <- sigmoid(z_2)
  gamma <- tensor(matrix(runif(3), ncol = 1), dtype = torch_double())
  z_3 <- a_2$mm(gamma)
  y_hat <- sigmoid(z_3)
  out$s3 <- list(
    X = X, beta = beta, z_2 = z_2, a_2 = a_2, gamma = gamma, z_3 = z_3,
    y_hat = y_hat
  )
  out
}

lecture_with_matrices <- function() {
  set.seed(1234)
  out <- list()

  X <- matrix(1:2, ncol = 2, byrow = TRUE)
  beta_1 <- matrix(runif(2), ncol = 1)
  z_21 <- mm(X, beta_1)
  a_21 <- sigmoid(z_21)
  gamma_1 <- runif(1)
  z_31 <- a_21 * gamma_1
  y_hat <- sigmoid(z_31)
  out$s1 <- list(
    X = X, beta_1 = beta_1, z_21 = z_21, a_21 = a_21, gamma_1 = gamma_1,
    z_31 = z_31, y_hat = y_hat
  )

  X <- matrix(1:2, ncol = 2, byrow = TRUE)
  beta_1 <- matrix(runif(2), ncol = 1)
  beta_2 <- matrix(runif(2), ncol = 1)
  beta_3 <- matrix(runif(2), ncol = 1)
  beta <- cbind(beta_1, beta_2, beta_3)
  z_2 <- mm(X, beta)
  a_2 <- sigmoid(z_2)
  gamma <- matrix(c(runif(1), runif(1), runif(1)), ncol = 1)
  z_3 <- mm(a_2, gamma)
  y_hat <- sigmoid(z_3)
  out$s2 <- list(X = X, beta = beta, z_2 = z_2, a_2 = a_2, gamma = gamma, z_3 = z_3, y_hat = y_hat)

  X <- matrix(1:6, ncol = 2, byrow = TRUE)
  beta <- matrix(runif(6), ncol = 3)
  z_2 <- mm(X, beta)
  a_2 <- sigmoid(z_2)
  gamma <- matrix(runif(3), ncol = 1)
  z_3 <- mm(a_2, gamma)
  y_hat <- sigmoid(z_3)
  out$s3 <- list(X = X, beta = beta, z_2 = z_2, a_2 = a_2, gamma = gamma, z_3 = z_3, y_hat = y_hat)
  out
}

# the lecture's printed numbers, row by row
lecture_numbers <- list(
  s1 = list(beta_1 = c(0.1137, 0.6223), z_21 = 1.3583, a_21 = 0.7955, z_31 = 0.4847, y_hat = 0.6188),
  s2 = list(
    beta = rbind(c(0.6234, 0.6403, 0.2326), c(0.8609, 0.0095, 0.6661)),
    z_2 = rbind(c(2.3452, 0.6593, 1.5647)),
    z_3 = 1.3771, y_hat = 0.7985
  ),
  s3 = list(
    beta = rbind(c(0.2827, 0.2923, 0.2862), c(0.9234, 0.8373, 0.2668)),
    z_2 = rbind(
      c(2.1296, 1.9669, 0.8199),
      c(4.5419, 4.2261, 1.9260),
      c(6.9543, 6.4854, 3.0320)
    ),
    z_3 = c(0.5904, 0.6900, 0.7205),
    y_hat = c(0.6435, 0.6660, 0.6727)
  )
)

check_lecture_numbers <- function(run) {
  s1 <- run$s1
  expect_equal(round(as.numeric(s1$beta_1), 4), lecture_numbers$s1$beta_1)
  expect_equal(round(as.numeric(s1$z_21), 4), lecture_numbers$s1$z_21)
  expect_equal(round(as.numeric(s1$a_21), 4), lecture_numbers$s1$a_21)
  expect_equal(round(as.numeric(s1$z_31), 4), lecture_numbers$s1$z_31)
  expect_equal(round(as.numeric(s1$y_hat), 4), lecture_numbers$s1$y_hat)
  s2 <- run$s2
  expect_equal(round(as.matrix(s2$beta), 4), lecture_numbers$s2$beta)
  expect_equal(round(as.matrix(s2$z_2), 4), lecture_numbers$s2$z_2)
  expect_equal(round(as.numeric(s2$z_3), 4), lecture_numbers$s2$z_3)
  expect_equal(round(as.numeric(s2$y_hat), 4), lecture_numbers$s2$y_hat)
  s3 <- run$s3
  expect_equal(round(as.matrix(s3$beta), 4), lecture_numbers$s3$beta)
  expect_equal(round(as.matrix(s3$z_2), 4), lecture_numbers$s3$z_2)
  expect_equal(round(as.numeric(s3$z_3), 4), lecture_numbers$s3$z_3)
  expect_equal(round(as.numeric(s3$y_hat), 4), lecture_numbers$s3$y_hat)
}

test_that("the lecture's torch code, with tensor(), gives its printed numbers", {
  run <- lecture_with_tensors()
  check_lecture_numbers(run)
  for (s in run) {
    for (nm in setdiff(names(s), "gamma_1")) {
      expect_s3_class(s[[nm]], "fwdprop_tensor")
    }
  }
  expect_identical(dim(run$s2$beta), c(2L, 3L))
  expect_identical(run$s2$beta_by_tensor_cat, run$s2$beta)
  expect_identical(dim(run$s3$y_hat), c(3L, 1L))
})

test_that("the lecture with plain matrices, mm() and sigmoid() gives its printed numbers", {
  run <- lecture_with_matrices()
  check_lecture_numbers(run)
  expect_false(inherits(run$s3$y_hat, "fwdprop_tensor"))
})

test_that("both ways agree with each other and with base R", {
  tens <- lecture_with_tensors()
  mats <- lecture_with_matrices()
  for (s in c("s1", "s2", "s3")) {
    for (nm in setdiff(intersect(names(tens[[s]]), names(mats[[s]])), "gamma_1")) {
      expect_identical(as.matrix(tens[[s]][[nm]]), mats[[s]][[nm]] * 1, info = paste(s, nm))
    }
  }
  # base R: %*% and plogis
  m <- mats$s3
  expect_equal(m$z_2, m$X %*% m$beta, tolerance = 1e-14)
  expect_equal(m$y_hat, plogis(plogis(m$X %*% m$beta) %*% m$gamma), tolerance = 1e-14)
  m <- mats$s2
  expect_equal(m$y_hat, plogis(plogis(m$X %*% m$beta) %*% m$gamma), tolerance = 1e-14)
  m <- mats$s1
  expect_equal(m$y_hat, plogis(plogis(m$X %*% m$beta_1) * m$gamma_1), tolerance = 1e-14)
  # the CRAN sigmoid package's formula (library(sigmoid) in the lecture)
  cran_logistic <- function(x, k = 1, x0 = 0) 1 / (1 + exp(-k * (x - x0)))
  expect_s3_class(cran_logistic(tens$s3$z_2), "fwdprop_tensor")
  expect_equal(cran_logistic(tens$s1$z_21), tens$s1$a_21, tolerance = 1e-14)
  expect_equal(cran_logistic(tens$s3$z_2), tens$s3$a_2, tolerance = 1e-14)
})

# The lecture's printed blocks (without the knitr "## " prefix).
lecture_blocks <- list(
  s1 = list(
    X = c("torch_tensor", " 1  2", "[ CPUDoubleType{1,2} ]"),
    beta_1 = c("torch_tensor", " 0.1137", " 0.6223", "[ CPUDoubleType{2,1} ]"),
    z_21 = c("torch_tensor", " 1.3583", "[ CPUDoubleType{1,1} ]"),
    a_21 = c("torch_tensor", " 0.7955", "[ CPUDoubleType{1,1} ]"),
    z_31 = c("torch_tensor", " 0.4847", "[ CPUDoubleType{1,1} ]"),
    y_hat = c("torch_tensor", " 0.6188", "[ CPUDoubleType{1,1} ]")
  ),
  s2 = list(
    X = c("torch_tensor", " 1  2", "[ CPUDoubleType{1,2} ]"),
    beta = c(
      "torch_tensor", " 0.6234  0.6403  0.2326", " 0.8609  0.0095  0.6661",
      "[ CPUDoubleType{2,3} ]"
    ),
    z_2 = c("torch_tensor", " 2.3452  0.6593  1.5647", "[ CPUDoubleType{1,3} ]"),
    z_3 = c("torch_tensor", " 1.3771", "[ CPUDoubleType{1,1} ]"),
    y_hat = c("torch_tensor", " 0.7985", "[ CPUDoubleType{1,1} ]")
  ),
  s3 = list(
    X = c("torch_tensor", " 1  2", " 3  4", " 5  6", "[ CPUDoubleType{3,2} ]"),
    beta = c(
      "torch_tensor", " 0.2827  0.2923  0.2862", " 0.9234  0.8373  0.2668",
      "[ CPUDoubleType{2,3} ]"
    ),
    z_2 = c(
      "torch_tensor", " 2.1296  1.9669  0.8199", " 4.5419  4.2261  1.9260",
      " 6.9543  6.4854  3.0320", "[ CPUDoubleType{3,3} ]"
    ),
    z_3 = c("torch_tensor", " 0.5904", " 0.6900", " 0.7205", "[ CPUDoubleType{3,1} ]"),
    y_hat = c("torch_tensor", " 0.6435", " 0.6660", " 0.6727", "[ CPUDoubleType{3,1} ]")
  )
)

test_that("the tensors print exactly as the lecture shows them", {
  run <- lecture_with_tensors()
  for (s in names(lecture_blocks)) {
    for (nm in names(lecture_blocks[[s]])) {
      x <- run[[s]][[nm]]
      expect_identical(format(x), lecture_blocks[[s]][[nm]], info = paste(s, nm))
      expect_identical(capture.output(print(x)), lecture_blocks[[s]][[nm]], info = paste(s, nm))
    }
  }
})

test_that("lecture printing snapshot", {
  run <- lecture_with_tensors()
  expect_snapshot({
    run$s1$X
    run$s1$beta_1
    run$s1$z_21
    run$s1$a_21
    run$s1$z_31
    run$s1$y_hat
    run$s2$beta
    run$s2$z_2
    run$s2$z_3
    run$s2$y_hat
    run$s3$X
    run$s3$beta
    run$s3$z_2
    run$s3$z_3
    run$s3$y_hat
  })
})
