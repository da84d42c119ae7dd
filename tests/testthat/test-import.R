# as_network() against the source tools' own predictions (the safetensors
# files are tested in test-safetensors.R), and bad input to both.

# Largest error of `got` relative to `want`, element by element (relative
# to max(|want|, 1e-8), so outputs near 0 compare absolutely).

# Rows whose sigmoid units all have |z| <= 15, where nnet's logistic is
# not clamped to 0 or 1.
unclamped_rows <- function(net, newdata) {
  tr <- predict(net, newdata, trace = TRUE)
  ok <- rep(TRUE, nrow(tr$x))
  for (l in seq_along(tr$z)) {
    if (net$activations[[l]] == "sigmoid") ok <- ok & rowSums(abs(tr$z[[l]]) > 15) == 0
  }
  ok & !is.na(ok)
}

# as_network(f) predicts as nnet's predict(): raw outputs to 1e-12 relative
# on the rows where nnet's logistic is not clamped (at least `min_rows` of
# them), and the same classes.
expect_nnet_agrees <- function(f, newdata, min_rows = nrow(newdata)) {
  net <- as_network(f)
  got <- predict(net, newdata)
  want <- predict(f, newdata)
  expect_identical(dim(got), dim(want))
  ok <- unclamped_rows(net, newdata)
  expect_gte(sum(ok), min_rows)
  expect_lt(rel_error(got[ok, , drop = FALSE], want[ok, , drop = FALSE]), 1e-12)
  expect_identical(colnames(got), colnames(want))
  expect_nnet_classes(f, net, newdata)
  invisible(net)
}

# The classes of predict(net, type = "class") are predict.nnet()'s, where
# nnet's are not a tie (which predict.nnet() breaks at random).
expect_nnet_classes <- function(f, net, newdata) {
  if (is.null(f$lev) || is.null(net$levels)) return(invisible())
  want <- predict(f, newdata)
  margin <- if (ncol(want) == 1L) abs(want[, 1] - 0.5) else
    apply(want, 1, function(p) -diff(sort(p, decreasing = TRUE)[1:2]))
  decided <- !is.na(margin) & margin > 1e-9
  expect_gt(mean(decided), 0.5)
  cls <- predict(net, newdata, type = "class")
  expect_s3_class(cls, "factor")
  expect_identical(as.character(cls)[decided], unname(predict(f, newdata, type = "class"))[decided])
}

# ---- nnet ------------------------------------------------------------------

test_that("nnet softmax classifiers (formula) predict as predict.nnet()", {
  set.seed(2)
  f <- nnet::nnet(Species ~ ., data = iris, size = 4, decay = 0.01, maxit = 200, trace = FALSE)
  net <- expect_nnet_agrees(f, iris)
  expect_identical(net$activations, c("sigmoid", "softmax"))
  expect_identical(net$sizes, c(4L, 4L, 3L))
  expect_identical(net$levels, levels(iris$Species))
  expect_identical(rownames(net$weights[[1]]), names(iris)[1:4])
  # inputs are taken by name: shuffled columns, and extra ones, change nothing
  shuffled <- iris[, c(5, 3, 1, 4, 2)]
  shuffled$extra <- 1
  expect_identical(predict(net, shuffled), predict(net, iris))
  # without decay the weights grow and many units are clamped: outputs
  # agree where nnet's logistic is exact, and within its clamp elsewhere
  set.seed(1)
  f2 <- nnet::nnet(Species ~ ., data = iris, size = 4, maxit = 300, trace = FALSE)
  net2 <- as_network(f2)
  expect_identical(sum(unclamped_rows(net2, iris)), 0L) # every row meets the clamp somewhere
  diff <- abs(predict(net2, iris) - predict(f2, iris))
  expect_gt(max(diff), 0)
  expect_lt(max(diff), 1e-6)
  expect_nnet_classes(f2, net2, iris)
})

test_that("nnet's weights are read in its own layout (bias first, then each unit of the layer before)", {
  set.seed(1)
  f <- nnet::nnet(Species ~ ., data = iris, size = 2, maxit = 5, trace = FALSE)
  net <- as_network(f)
  w <- f$wts
  # hidden unit 1: bias, then the 4 inputs; hidden unit 2 likewise
  expect_identical(net$biases[[1]], w[c(1, 6)])
  expect_identical(unname(net$weights[[1]]), matrix(w[c(2:5, 7:10)], 4, 2))
  # outputs: bias, then the 2 hidden units
  expect_identical(net$biases[[2]], w[c(11, 14, 17)])
  expect_identical(unname(net$weights[[2]]), matrix(w[c(12:13, 15:16, 18:19)], 2, 3))
  # and summary.nnet's labels say the same
  expect_identical(names(coef(f))[c(1, 2, 11, 12)], c("b->h1", "i1->h1", "b->o1", "h1->o1"))
})

test_that("nnet two-class fits (one logistic output) give predict.nnet()'s classes", {
  d2 <- droplevels(iris[51:150, ])
  set.seed(4)
  f <- nnet::nnet(Species ~ ., data = d2, size = 3, decay = 0.01, trace = FALSE)
  net <- expect_nnet_agrees(f, d2)
  expect_identical(net$activations, c("sigmoid", "sigmoid"))
  expect_identical(net$levels, c("versicolor", "virginica"))
  # x/y with entropy: levels "0" and "1", as nnet's
  x <- as.matrix(d2[, 1:4])
  set.seed(5)
  f2 <- nnet::nnet(x, as.integer(d2$Species == "virginica"), size = 2, entropy = TRUE,
                   decay = 0.01, trace = FALSE)
  net2 <- expect_nnet_agrees(f2, x)
  expect_identical(net2$levels, c("0", "1"))
})

test_that("nnet keeps every level of a response with an empty class; fwdprop names the fitted outputs", {
  # nnet drops the empty class "setosa" to fit, but its predict() labels
  # the two outputs with the first two of the three levels
  d <- iris[51:150, ]
  set.seed(6)
  f <- suppressWarnings(nnet::nnet(Species ~ ., data = d, size = 2, decay = 0.01, trace = FALSE))
  net <- as_network(f)
  expect_null(net$levels)
  expect_identical(colnames(net$weights[[2]]), c("versicolor", "virginica"))
  cls <- predict(net, d, type = "class")
  expect_identical(levels(cls), c("versicolor", "virginica"))
  expect_gt(mean(as.character(cls) == as.character(d$Species)), 0.9)
  expect_identical(unique(predict(f, d, type = "class")), c("setosa", "versicolor"))
})

test_that("nnet regression (linout, x/y and formula, one or several responses) agrees", {
  x <- scale(as.matrix(mtcars[, c("wt", "hp", "disp")]))
  set.seed(5)
  r <- nnet::nnet(x, mtcars$mpg, size = 3, linout = TRUE, decay = 0.1, maxit = 500, trace = FALSE)
  net <- expect_nnet_agrees(r, x, min_rows = 20)
  expect_identical(net$activations, c("sigmoid", "identity"))
  expect_null(net$levels)
  expect_null(rownames(net$weights[[1]])) # nnet keeps no input names for x/y fits
  # a matrix without column names is taken by position, as by predict.nnet()
  expect_identical(predict(net, unname(x)), unname(predict(net, x)))

  d <- data.frame(scale(mtcars))
  set.seed(7)
  r2 <- nnet::nnet(cbind(mpg, qsec) ~ wt + hp + drat, data = d, size = 4, linout = TRUE,
                   decay = 0.1, maxit = 300, trace = FALSE)
  net2 <- expect_nnet_agrees(r2, d)
  expect_identical(colnames(predict(net2, d)), c("mpg", "qsec"))
})

test_that("nnet formula fits with factor predictors take data frames as predict.nnet() does", {
  d <- data.frame(
    y = iris$Species,
    width = iris$Sepal.Width,
    size = cut(iris$Petal.Length, c(0, 2, 5, 7), labels = c("small", "medium", "large")),
    colour = factor(rep(c("red", "green", "blue"), 50))
  )
  set.seed(8)
  f <- nnet::nnet(y ~ ., data = d, size = 3, decay = 0.05, trace = FALSE, maxit = 200)
  net <- expect_nnet_agrees(f, d)
  expect_identical(rownames(net$weights[[1]]), f$coefnames)
  # new data holding only some levels, in another order
  nd <- d[c(150, 3, 77), ]
  nd$size <- factor(as.character(nd$size), levels = c("large", "small", "medium"))
  expect_lt(rel_error(predict(net, nd), predict(f, nd)), 1e-12)
  expect_identical(as.character(predict(net, nd, type = "class")), predict(f, nd, type = "class"))
  # a level the fit has not seen is an error, as in predict.nnet()
  bad <- nd
  bad$colour <- factor(c("red", "purple", "blue"))
  expect_error(predict(f, bad))
  expect_error(predict(net, bad), class = "fwdprop_error")
  # rows with NA give NA, as predict.nnet() does
  na <- d[1:4, ]
  na$width[2] <- NA
  got <- predict(net, na)
  expect_identical(is.na(got), is.na(predict(f, na)))
})

test_that("nnet without a hidden layer (size = 0, skip = TRUE) is one layer; with one, skip is an error", {
  x <- as.matrix(iris[, 1:4])
  set.seed(9)
  f0 <- nnet::nnet(x, nnet::class.ind(iris$Species), size = 0, skip = TRUE, softmax = TRUE,
                   decay = 0.1, trace = FALSE)
  net0 <- expect_nnet_agrees(f0, x)
  expect_identical(net0$sizes, c(4L, 3L))
  expect_identical(net0$activations, "softmax")
  set.seed(9)
  fs <- nnet::nnet(Species ~ ., data = iris, size = 2, skip = TRUE, trace = FALSE)
  expect_error(as_network(fs), "skip-layer", class = "fwdprop_error")
})

test_that("multinom() fits (nnet without a hidden layer, the intercept as an input) agree", {
  m3 <- nnet::multinom(Species ~ ., data = iris, trace = FALSE)
  net3 <- as_network(m3)
  expect_identical(net3$sizes, c(4L, 3L)) # "(Intercept)" folded into the biases
  expect_lt(rel_error(predict(net3, iris), predict(m3, iris, type = "probs")), 1e-12)
  expect_identical(unname(predict(net3, iris, type = "class")), predict(m3, iris))
  d2 <- droplevels(iris[51:150, ])
  d2$big <- factor(d2$Sepal.Length > 6)
  m2 <- nnet::multinom(Species ~ Petal.Width + big, data = d2, trace = FALSE)
  net2 <- as_network(m2)
  ok <- unclamped_rows(net2, d2)
  expect_gt(sum(ok), 50)
  expect_lt(rel_error(predict(net2, d2)[ok, 1], predict(m2, d2, type = "probs")[ok]), 1e-12)
  expect_identical(unname(predict(net2, d2, type = "class")), unname(predict(m2, d2)))
})

test_that("as_network() of a fwdprop network returns it, checked", {
  net <- network(c(3, 4, 2), bias = TRUE, seed = 1)
  expect_identical(as_network(net), net)
  broken <- net
  broken$activations <- "relu"
  expect_error(as_network(broken), "`x` is not a valid network", class = "fwdprop_error")
})

# ---- neuralnet -------------------------------------------------------------

# An object with the documented structure of a neuralnet() fit (class
# "nn"): `weights[[rep]]` a list of (inputs + 1) x outputs matrices with the
# biases in the first row, `act.fct` with its "type", `linear.output`,
# `model.list`, `response`, `result.matrix` (one column per repetition).
fake_neuralnet <- function(sizes, reps = 1, act = "logistic", linear = TRUE,
                           variables = paste0("x", seq_len(sizes[1])),
                           responses = paste0("y", seq_len(sizes[length(sizes)])),
                           response = NULL, errors = seq_len(reps)) {
  fct <- if (is.function(act)) act else switch(act, logistic = function(x) 1 / (1 + exp(-x)), tanh = function(x) tanh(x))
  attr(fct, "type") <- if (is.function(act)) "function" else act
  weights <- lapply(seq_len(reps), function(r) {
    lapply(seq_len(length(sizes) - 1), function(l) matrix(rnorm((sizes[l] + 1) * sizes[l + 1]), sizes[l] + 1))
  })
  if (is.null(response)) response <- matrix(0, 5, length(responses), dimnames = list(NULL, responses))
  rm <- rbind(error = errors, reached.threshold = 0.01, steps = 100)
  structure(list(
    call = quote(neuralnet(y ~ x)), response = response, model.list = list(response = responses, variables = variables),
    act.fct = fct, linear.output = linear, weights = weights, result.matrix = rm, exclude = NULL
  ), class = "nn")
}

# neuralnet's documented computation: every layer cbind(1, a) %*% W, then
# act.fct on the hidden layers and, unless linear.output, on the output.
neuralnet_reference <- function(object, x, rep) {
  w <- object$weights[[rep]]
  a <- as.matrix(x[, object$model.list$variables])
  for (l in seq_along(w)) {
    a <- cbind(1, a) %*% w[[l]]
    if (l < length(w) || !object$linear.output) a <- object$act.fct(a)
  }
  a
}

test_that("neuralnet fits (their documented structure) predict as neuralnet computes", {
  set.seed(10)
  x <- data.frame(x1 = rnorm(20), x2 = rnorm(20), x3 = rnorm(20), other = 1)
  nn <- fake_neuralnet(c(3, 5, 4, 2), reps = 3, errors = c(0.5, 0.2, 0.9))
  net <- as_network(nn)
  expect_identical(net$activations, c("sigmoid", "sigmoid", "identity"))
  expect_identical(rownames(net$weights[[1]]), c("x1", "x2", "x3"))
  expect_identical(colnames(net$weights[[3]]), c("y1", "y2"))
  # rep = "best" is the repetition with the smallest error
  expect_lt(rel_error(predict(net, x), neuralnet_reference(nn, x, 2)), 1e-12)
  net3 <- as_network(nn, rep = 3)
  expect_lt(rel_error(predict(net3, x), neuralnet_reference(nn, x, 3)), 1e-12)
  expect_identical(net3$weights[[2]], unname(nn$weights[[3]][[2]][-1, ]))
  expect_identical(net3$biases[[2]], nn$weights[[3]][[2]][1, ])

  tanh_nn <- fake_neuralnet(c(3, 6, 1), act = "tanh", linear = FALSE)
  tnet <- as_network(tanh_nn)
  expect_identical(tnet$activations, c("tanh", "tanh"))
  expect_lt(rel_error(predict(tnet, x), neuralnet_reference(tanh_nn, x, 1)), 1e-12)
  expect_null(tnet$levels)
})

test_that("neuralnet classifiers get class levels", {
  set.seed(11)
  x <- data.frame(a = rnorm(9), b = rnorm(9))
  # a factor response: one logistic output per class (named by the classes)
  onehot <- diag(3)[rep(1:3, 3), ] == 1
  colnames(onehot) <- c("setosa", "versicolor", "virginica")
  nn <- fake_neuralnet(c(2, 3, 3), linear = FALSE, variables = c("a", "b"),
                       responses = colnames(onehot), response = onehot)
  net <- as_network(nn)
  expect_identical(net$levels, colnames(onehot))
  ref <- neuralnet_reference(nn, x, 1)
  expect_identical(as.character(predict(net, x, type = "class")), colnames(onehot)[max.col(ref, "first")])
  # a logical response: classes FALSE and TRUE
  yes <- matrix(c(TRUE, FALSE, TRUE, TRUE, FALSE), ncol = 1, dimnames = list(NULL, "y == \"a\""))
  nb <- fake_neuralnet(c(2, 3, 1), linear = FALSE, variables = c("a", "b"),
                       responses = "y == \"a\"", response = yes)
  nbnet <- as_network(nb)
  expect_identical(nbnet$levels, c("FALSE", "TRUE"))
  expect_identical(as.character(predict(nbnet, x, type = "class")),
                   as.character(neuralnet_reference(nb, x, 1)[, 1] > 0.5))
})

test_that("neuralnet's excluded weights (NA) are 0, as in training", {
  set.seed(12)
  nn <- fake_neuralnet(c(2, 3, 1))
  nn$weights[[1]][[1]][2, 3] <- NA
  nn$exclude <- matrix(c(1, 2, 3), 1)
  net <- as_network(nn)
  expect_identical(net$weights[[1]][[1, 3]], 0)
  nn$exclude <- NULL
  expect_error(as_network(nn), "NA weights", class = "fwdprop_error")
})

test_that("as_network() agrees with the real neuralnet package (when installed)", {
  skip_if_not_installed("neuralnet")
  set.seed(13)
  d <- iris[sample(150, 60), ]
  nn <- neuralnet::neuralnet(Species ~ Petal.Length + Petal.Width, data = d, hidden = 3,
                             linear.output = FALSE, rep = 2, stepmax = 1e5)
  for (r in seq_along(nn$weights)) {
    if (is.null(nn$weights[[r]])) next
    net <- as_network(nn, rep = r)
    want <- stats::predict(nn, iris, rep = r)
    expect_lt(rel_error(predict(net, iris), want), 1e-12)
    expect_lt(rel_error(predict(net, iris), neuralnet::compute(nn, iris[, c("Petal.Length", "Petal.Width")], rep = r)$net.result), 1e-12)
    expect_identical(as.character(predict(net, iris, type = "class")), nn$model.list$response[max.col(want, "first")])
  }
  reg <- neuralnet::neuralnet(mpg ~ wt + hp, data = as.data.frame(scale(mtcars)), hidden = c(3, 2),
                              act.fct = "tanh", stepmax = 1e5)
  expect_lt(rel_error(predict(as_network(reg), as.data.frame(scale(mtcars))),
                      stats::predict(reg, as.data.frame(scale(mtcars)))), 1e-12)
})

# ---- torch for R -------------------------------------------------------------

# Stand-ins with the documented interface of torch for R modules (`$children`
# of an nn_sequential, `$weight` out x in and `$bias` of an nn_linear, `$dim`
# of an nn_softmax), holding plain matrices, to check the structure without
# torch. (With torch loaded, `$` on these would go to torch's method.)
mock_module <- function(cls, ...) structure(list(...), class = c(cls, "nn_module"))
mock_linear <- function(n_in, n_out, bias = TRUE) {
  mock_module("nn_linear", weight = matrix(rnorm(n_in * n_out), n_out, n_in),
              bias = if (bias) rnorm(n_out))
}
mock_sequential <- function(...) {
  children <- list(...)
  names(children) <- seq_along(children) - 1
  mock_module("nn_sequential", children = children)
}

test_that("nn_sequential structure: layers, activations, transposed weights (stand-in modules)", {
  skip_if(isNamespaceLoaded("torch"), "torch is loaded: the real modules are tested instead")
  set.seed(14)
  l1 <- mock_linear(3, 5)
  l2 <- mock_linear(5, 4, bias = FALSE)
  l3 <- mock_linear(4, 2)
  m <- mock_sequential(l1, mock_module("nn_relu"), mock_sequential(l2, mock_module("nn_dropout")),
                       mock_module("nn_tanh"), l3, mock_module("nn_softmax", dim = 2))
  net <- as_network(m)
  expect_identical(net$activations, c("relu", "tanh", "softmax"))
  expect_identical(net$weights[[1]], t(l1$weight))
  expect_null(net$biases[[2]])
  x <- matrix(rnorm(12), 4)
  relu <- function(z) pmax(z, 0)
  softmax <- function(z) exp(z) / rowSums(exp(z))
  ref <- softmax(tanh(relu(x %*% t(l1$weight) + rep(l1$bias, each = 4)) %*% t(l2$weight)) %*% t(l3$weight) +
                   rep(l3$bias, each = 4))
  expect_lt(rel_error(predict(net, x), ref), 1e-12)
  # a lone nn_linear, and an identity last layer
  lone <- as_network(l1)
  expect_identical(lone$activations, "identity")
  expect_error(as_network(mock_sequential(l1, mock_module("nn_softmax", dim = 1))), "dimension 1",
               class = "fwdprop_error")
  expect_error(as_network(mock_sequential(l1, mock_module("nn_batch_norm1d"))), "nn_batch_norm1d",
               class = "fwdprop_error")
  expect_error(as_network(mock_sequential(mock_module("nn_relu"), l1)), "does not follow",
               class = "fwdprop_error")
  expect_error(as_network(mock_sequential(l1, l1)), "do not chain", class = "fwdprop_error")
})

test_that("torch for R nn_sequential modules predict as torch does (when torch is installed)", {
  skip_if_not_installed("torch")
  skip_if_not(torch::torch_is_installed(), "torch's libtorch is not installed")
  torch::torch_manual_seed(15)
  model <- torch::nn_sequential(
    torch::nn_linear(4, 8), torch::nn_relu(),
    torch::nn_linear(8, 6), torch::nn_tanh(),
    torch::nn_linear(6, 3), torch::nn_softmax(dim = 2)
  )
  model$to(dtype = torch::torch_float64())
  x <- matrix(rnorm(40), 10)
  want <- torch::as_array(model(torch::torch_tensor(x, dtype = torch::torch_float64())))
  net <- as_network(model)
  expect_lt(rel_error(predict(net, x), want), 1e-12)
  reg <- torch::nn_sequential(torch::nn_linear(4, 5), torch::nn_sigmoid(), torch::nn_linear(5, 1))
  reg$to(dtype = torch::torch_float64())
  want <- torch::as_array(reg(torch::torch_tensor(x, dtype = torch::torch_float64())))
  expect_lt(rel_error(predict(as_network(reg), x), want), 1e-12)
})

# ---- safetensors: files made byte by byte -------------------------------------

test_that("bad input to as_network(), read_safetensors() and write_safetensors() is a fwdprop_error naming the argument", {
  bad <- import_bad_files()
  on.exit(unlink(bad$dir, recursive = TRUE))
  net <- network(c(3, 2, 2), bias = TRUE, seed = 1)
  nan_net <- net
  nan_net$weights[[2]][1, 1] <- NaN
  not_text_path <- "model\xff.safetensors"
  set.seed(1)
  f <- nnet::nnet(Species ~ ., data = iris, size = 2, maxit = 5, trace = FALSE)
  broken <- f
  broken$conn <- broken$conn[-1]
  nn <- fake_neuralnet(c(2, 3, 1), reps = 2)
  custom <- fake_neuralnet(c(2, 3, 1), act = function(x) log1p(exp(x)))
  unconverged <- nn
  unconverged$weights <- list(NULL, NULL)
  cases <- c(
    lapply(bad$paths, function(p) list(call = bquote(read_safetensors(.(p), activation = "relu", output = "identity")), arg = "path")),
    list(
      list(call = quote(as_network(lm(mpg ~ wt, mtcars))), arg = "x"),
      list(call = quote(as_network(matrix(1:4, 2))), arg = "x"),
      list(call = quote(as_network(NULL)), arg = "x"),
      list(call = quote(as_network(broken)), arg = "x"),
      list(call = quote(as_network(f, size = 3)), arg = "size"),
      list(call = quote(as_network(custom)), arg = "x"),
      list(call = quote(as_network(unconverged)), arg = "x"),
      list(call = quote(as_network(nn, rep = 3)), arg = "rep"),
      list(call = quote(as_network(nn, rep = "worst")), arg = "rep"),
      list(call = quote(as_network(nn, rep = 1.5)), arg = "rep"),
      list(call = quote(read_safetensors(NA_character_)), arg = "path"),
      list(call = quote(read_safetensors(c("a", "b"))), arg = "path"),
      list(call = quote(read_safetensors(1)), arg = "path"),
      list(call = quote(read_safetensors(file.path(bad$dir, "does-not-exist.safetensors"))), arg = "path"),
      list(call = quote(read_safetensors(bad$dir)), arg = "path"),
      list(call = quote(read_safetensors(bad$good)), arg = "activation"),
      list(call = quote(read_safetensors(bad$good, activation = "swish")), arg = "activation"),
      list(call = quote(read_safetensors(bad$good, activation = c("relu", "relu"))), arg = "activation"),
      list(call = quote(read_safetensors(bad$good, activation = "relu", output = 1)), arg = "output"),
      list(call = quote(write_safetensors(list(1), tempfile())), arg = "net"),
      list(call = quote(write_safetensors(nan_net, tempfile())), arg = "net"),
      list(call = quote(write_safetensors(net, "")), arg = "path"),
      list(call = quote(read_safetensors(not_text_path)), arg = "path"),
      list(call = quote(write_safetensors(net, NULL)), arg = "path"),
      list(call = quote(write_safetensors(net, bad$dir)), arg = "path"),
      list(call = quote(write_safetensors(net, file.path(bad$dir, "no", "such", "dir.safetensors"))), arg = "path")
    )
  )
  for (case in cases) {
    label <- paste(deparse(case$call, width.cutoff = 200L), collapse = " ")
    err <- expect_error(eval(case$call), regexp = paste0("`", case$arg, "[`$]"), class = "fwdprop_error",
                        info = label)
    if (inherits(err, "condition")) {
      expect_false(grepl("panicked|unwrap\\(|RUST_BACKTRACE", conditionMessage(err)), info = label)
    }
  }
  expect_gte(length(cases), 55)
  # R is still fine, and a good file still reads
  path <- tempfile(fileext = ".safetensors")
  write_safetensors(net, path)
  expect_identical(read_safetensors(path), net)
  unlink(path)
})

test_that("error messages of the new functions", {
  skip_on_cran()
  bad <- import_bad_files()
  on.exit(unlink(bad$dir, recursive = TRUE))
  hide_dir <- function(x) gsub(bad$dir, "<dir>", x, fixed = TRUE)
  read_bad <- function(name) read_safetensors(bad$paths[[name]], activation = "relu", output = "identity")
  set.seed(9)
  skip_fit <- nnet::nnet(Species ~ ., data = iris, size = 2, skip = TRUE, trace = FALSE)
  expect_snapshot(transform = hide_dir, {
    as_network(lm(mpg ~ wt, mtcars))
    as_network(skip_fit)
    as_network(fake_neuralnet(c(2, 3, 1), act = function(x) log1p(exp(x))))
    as_network(fake_neuralnet(c(2, 3, 1), reps = 2), rep = 3)
    read_bad("empty_file")
    read_bad("truncated")
    read_bad("extra_bytes")
    read_bad("header_length_past_end")
    read_bad("offsets_lie")
    read_bad("shape_lies_larger")
    read_bad("shape_lies_smaller")
    read_bad("nan_filled")
    read_bad("dtype_i64")
    read_bad("non_numeric_key")
    read_bad("bias_without_weight")
    read_bad("do_not_chain")
    read_bad("meta_missing_layer")
    read_bad("meta_unknown_activation")
    read_bad("meta_levels")
    read_bad("duplicate_name")
    read_bad("duplicate_metadata")
    read_safetensors(bad$good)
    write_safetensors(network(c(2, 1), seed = 1), bad$dir)
  }, error = TRUE)
})

# Damaged fits: `edit` (code changing `x`) applied to a copy of `fit`;
# `field` is what the error must name (`x$<field>`).
damaged_fit <- function(fit, edit) {
  x <- fit
  eval(edit)
  x
}

# nnet, multinom and neuralnet-shaped fits with one field damaged, each
# list(fit, edit, field).
damaged_fits <- function() {
  set.seed(1)
  f <- nnet::nnet(Species ~ ., data = iris, size = 2, maxit = 5, trace = FALSE)
  x <- scale(as.matrix(mtcars[, c("wt", "hp")]))
  set.seed(2)
  r <- nnet::nnet(x, mtcars$mpg, size = 2, linout = TRUE, maxit = 5, trace = FALSE)
  m <- nnet::multinom(Species ~ ., data = iris, trace = FALSE)
  set.seed(3)
  nn <- fake_neuralnet(c(3, 4, 2), reps = 2)
  cases <- list(
    # the numbers of units
    list(f, quote(x$n[2] <- 1e10), "n"),
    list(f, quote(x$n[2] <- Inf), "n"),
    list(f, quote(x$n[1] <- NA), "n"),
    list(f, quote(x$n[2] <- -1), "n"),
    list(f, quote(x$n[2] <- 1.5), "n"),
    list(f, quote(x$n[1] <- 3e9), "n"),
    list(f, quote(x$n <- x$n[1:2]), "n"),
    list(f, quote(x$n <- as.character(x$n)), "n"),
    list(m, quote(x$n[3] <- 0), "n"),
    list(f, quote(x$n <- c(3, 3, 3)), "conn"), # as many units, other layers
    # where each unit's weights start
    list(f, quote(x$nconn[3] <- NA), "nconn"),
    list(f, quote(x$nconn[3] <- -5), "nconn"),
    list(f, quote(x$nconn[8] <- x$nconn[8] + 0.5), "nconn"),
    list(f, quote(x$nconn[8] <- 1e10), "nconn"),
    list(f, quote(x$nconn[length(x$nconn)] <- 1e10), "nconn"),
    list(f, quote(x$nconn[length(x$nconn)] <- Inf), "nconn"),
    list(f, quote(x$nconn <- x$nconn[-1]), "nconn"),
    list(f, quote(x$nconn[2:6] <- 1), "nconn"),
    list(m, quote(x$nconn <- as.character(x$nconn)), "nconn"),
    # the source unit of each weight
    list(f, quote(x$conn[3] <- NA), "conn"),
    list(f, quote(x$conn[3] <- -1), "conn"),
    list(f, quote(x$conn[3] <- 1.5), "conn"),
    list(f, quote(x$conn[3] <- 1e10), "conn"),
    list(f, quote(x$conn[12] <- 9), "conn"),
    list(f, quote(x$conn[3] <- x$conn[2]), "conn"),
    list(f, quote(x$conn <- x$conn[-1]), "conn"),
    list(m, quote(x$conn <- NULL), "conn"),
    # the weights
    list(f, quote(x$wts <- x$wts[-1]), "nconn"), # nconn says how many
    list(f, quote(x$wts <- c(x$wts, 1)), "nconn"),
    list(f, quote(x$wts[1] <- NA), "wts"),
    list(m, quote(x$wts[5] <- Inf), "wts"),
    list(f, quote(x$wts <- as.character(x$wts)), "wts"),
    list(f, quote(x$wts <- matrix(x$wts)), "wts"),
    # the output activation
    list(f, quote(x$nunits <- 1e10), "nunits"),
    list(f, quote(x$nunits <- NULL), "nunits"),
    list(r, quote(x$nsunits <- NA), "nsunits"),
    list(r, quote(x$nsunits <- c(1, 2)), "nsunits"),
    list(r, quote(x$nsunits <- 2), "nsunits"),
    list(f, quote(x$softmax <- NA), "softmax"),
    list(f, quote(x$softmax <- "yes"), "softmax"),
    # names, classes and the formula
    list(f, quote(x$lev <- c("a", NA, "b")), "lev"),
    list(m, quote(x$lev <- c("a", "a", "b")), "lev"),
    list(f, quote(x$coefnames[2] <- NA), "coefnames"),
    list(f, quote(x$terms <- NULL), "terms"),
    list(m, quote(x$xlevels <- 1), "xlevels"),
    list(f, quote(x$xlevels <- list(1)), "xlevels"),
    list(f, quote(x$contrasts <- list(a = 1)), "contrasts"),
    # neuralnet
    list(nn, quote(x$weights <- 1), "weights"),
    list(nn, quote(x$weights[[1]][[1]][2, 2] <- Inf), "weights[[1]]"),
    list(nn, quote(x$weights[[1]][[1]][2, 2] <- NA), "weights[[1]]"),
    list(nn, quote(x$weights[[1]][[1]] <- array(1, c(4, 4, 1))), "weights[[1]]"),
    list(nn, quote(x$weights[[1]][[1]] <- matrix("a", 4, 4)), "weights[[1]]"),
    list(nn, quote(x$result.matrix <- matrix("a", 3, 2, dimnames = list(c("error", "b", "c")))), "result.matrix"),
    list(nn, quote(x$model.list <- "x"), "model.list"),
    list(nn, quote(x$model.list$variables[2] <- NA), "model.list$variables"),
    list(nn, quote(x$linear.output <- NA), "linear.output"),
    list(nn, quote(attr(x$act.fct, "type") <- NA_character_), "act.fct")
  )
  lapply(cases, function(case) {
    list(x = damaged_fit(case[[1]], case[[2]]), field = case[[3]],
         label = paste(deparse(case[[2]], width.cutoff = 200L), collapse = " "))
  })
}

test_that("every damaged field of an nnet, multinom or neuralnet fit is a fwdprop_error naming it", {
  cases <- damaged_fits()
  for (case in cases) {
    err <- expect_error(expect_no_warning(as_network(case$x)), class = "fwdprop_error", info = case$label)
    msg <- if (inherits(err, "condition")) conditionMessage(err) else ""
    named <- grepl(sprintf("`x$%s`", case$field), msg, fixed = TRUE) ||
      grepl(sprintf("`x$%s[", case$field), msg, fixed = TRUE)
    expect_true(named, info = paste(case$label, "gives:", msg))
    expect_false(grepl("subscript|missing value|argument of length", msg), info = case$label)
  }
  expect_gte(length(cases), 55)
  # the damage the checks allow: a logical response with NA (no classes) and
  # nnet's own nsunits for a logistic output
  set.seed(3)
  na_response <- fake_neuralnet(c(3, 4, 2), linear = FALSE, response = matrix(c(TRUE, NA, FALSE, TRUE), 2, 2))
  expect_null(as_network(na_response)$levels)
  x <- scale(as.matrix(mtcars[, c("wt", "hp")]))
  set.seed(2)
  r <- nnet::nnet(x, mtcars$mpg, size = 2, linout = TRUE, maxit = 5, trace = FALSE)
  r$nsunits <- r$nunits
  expect_identical(as_network(r)$activations, c("sigmoid", "sigmoid"))
})

test_that("error messages for damaged nnet and neuralnet fits", {
  skip_on_cran()
  cases <- damaged_fits()
  messages <- vapply(cases, function(case) {
    conditionMessage(tryCatch(as_network(case$x), fwdprop_error = identity))
  }, character(1L))
  expect_snapshot(writeLines(paste0(vapply(cases, `[[`, "", "label"), "\n  ", messages)))
})

# ---- PyTorch --------------------------------------------------------------------

