# Bad input to every exported function: each call must fail with an R error
# of class `fwdprop_error` whose message names the offending argument, and
# never crash R or show Rust panic text. Where base R accepts an input
# (zero-row matrices), the result is checked against base R instead. At the
# end, normal calls give exactly what they gave before the bad calls.
#
# The cases are tables of unevaluated calls; values are spliced into the
# calls with bquote(), so the failing call is shown when a case fails.

# The lecture's section 3 network (helper-lecture.R).
bad_lecture <- lecture_weights()
bad_beta <- bad_lecture$beta
bad_gamma <- bad_lecture$gamma
bad_X <- matrix(1:6, ncol = 2, byrow = TRUE)
bad_net <- network(weights = list(bad_beta, bad_gamma))

# The lecture's chain in base R, the reference for forward().
bad_reference <- function(x) plogis(plogis(x %*% bad_beta) %*% bad_gamma)

# Results of normal calls before any bad call (compared in the last test).
bad_before <- list(
  mm = mm(bad_X, bad_beta),
  forward = forward(bad_net, bad_X),
  threads = fwdprop_threads()
)

# Values of the wrong type for an argument that wants numbers.
wrong_types <- list(
  character = "a",
  character_matrix = matrix(c("1", "2", "3", "4"), 2),
  complex = 1i,
  complex_matrix = matrix(1i, 2, 2),
  factor = factor(c("a", "b")),
  list = list(1, 2),
  list_matrix = matrix(list(1, 2, 3, 4), 2),
  `NULL` = NULL,
  `function` = function(x) x,
  environment = new.env(),
  raw_matrix = matrix(as.raw(1:4), 2),
  symbol = quote(a),
  call = quote(f(x)),
  expression = expression(1),
  data_frame_chr = data.frame(a = 1:2, b = c("u", "v"))
)

# A value to splice into a call: language objects are quoted so they stay
# values rather than being evaluated.
as_arg <- function(v) if (is.language(v)) call("quote", v) else v

# One case per element of `values`, made by `make(value)` (a call).
cases_from <- function(values, make, arg, prefix) {
  Map(function(v, nm) {
    list(label = paste0(prefix, ": ", nm), call = make(as_arg(v)), arg = arg)
  }, values, names(values))
}

# Cases written out: `arg` is a regular expression for the argument name
# (without the backticks).
cases <- function(arg, ...) {
  calls <- eval(substitute(alist(...)))
  lapply(calls, function(cl) {
    list(label = paste(deparse(cl, width.cutoff = 200L), collapse = " "), call = cl, arg = arg)
  })
}

# Runs every case in `env`: an error of class fwdprop_error naming the
# argument, with no panic text. Returns the number of cases.
expect_bad_inputs <- function(case_list, env = parent.frame()) {
  for (case in case_list) {
    err <- expect_error(
      eval(case$call, env),
      regexp = paste0("`(", case$arg, ")"),
      class = "fwdprop_error",
      info = case$label
    )
    if (inherits(err, "condition")) {
      msg <- conditionMessage(err)
      expect_false(grepl("panicked|unwrap\\(|RUST_BACKTRACE|called `", msg), info = case$label)
    }
  }
  length(case_list)
}

test_that("mm() refuses bad x and y with fwdprop_error naming the argument", {
  X <- bad_X
  beta <- bad_beta
  extra <- list(
    vector = 1:3,
    logical_scalar = TRUE,
    data_frame_num = data.frame(a = 1:2, b = 3:4),
    array_3d = array(1, c(2, 2, 2))
  )
  vals <- c(wrong_types, extra)
  all_cases <- c(
    cases_from(vals, function(v) bquote(mm(.(v), beta)), "x", "x"),
    cases_from(vals, function(v) bquote(mm(X, .(v))), "y", "y"),
    cases("x|y",
      mm(X, X),                             # 3x2 by 3x2
      mm(beta, beta),                       # 2x3 by 2x3
      mm(matrix(0, 0, 0), matrix(1, 2, 2)), # 0x0 by 2x2
      mm(matrix(1, 2, 2), matrix(0, 0, 0)), # 2x2 by 0x0
      mm(matrix(1, 3, 0), matrix(1, 2, 1)), # 3x0 by 2x1
      mm(matrix(1, 1, 2), matrix(1, 1, 2))  # 1x2 by 1x2
    )
  )
  n <- expect_bad_inputs(all_cases)
  expect_gte(n, 30)
})

test_that("mm() with zero-extent matrices gives base R's result", {
  x0 <- matrix(0, 0, 2)
  expect_identical(mm(x0, bad_beta), x0 %*% bad_beta)
  expect_identical(dim(mm(x0, bad_beta)), c(0L, 3L))
  a <- matrix(0, 3, 0)
  b <- matrix(0, 0, 2)
  expect_identical(mm(a, b), a %*% b) # 3x2 of zeros
  expect_identical(mm(matrix(1, 2, 2), matrix(0, 2, 0)), matrix(1, 2, 2) %*% matrix(0, 2, 0))
  expect_identical(mm(matrix(0, 0, 0), matrix(0, 0, 0)), matrix(0, 0, 0) %*% matrix(0, 0, 0))
})

test_that("sigmoid() refuses non-numeric x with fwdprop_error naming `x`", {
  extra <- list(
    data_frame_num = data.frame(a = 1),
    numeric_list = list(1),
    nested_list = list(list(1))
  )
  n <- expect_bad_inputs(cases_from(c(wrong_types, extra), function(v) bquote(sigmoid(.(v))), "x", "x"))
  expect_gte(n, 15)
})

test_that("sigmoid() of empty input keeps base R's (or the documented) shape", {
  expect_identical(sigmoid(numeric(0)), plogis(numeric(0)))
  expect_identical(sigmoid(integer(0)), plogis(integer(0)))
  expect_identical(sigmoid(logical(0)), plogis(logical(0)))
  # documented: an empty matrix stays a matrix, as 1 / (1 + exp(-x)) does
  z <- matrix(0, 0, 3)
  expect_identical(sigmoid(z), 1 / (1 + exp(-z)))
})

test_that("tensor() refuses bad data and dtype with fwdprop_error naming the argument", {
  extra <- list(
    data_frame_num = data.frame(a = 1:2)
  )
  all_cases <- c(
    cases_from(c(wrong_types, extra), function(v) bquote(tensor(.(v))), "data", "data"),
    cases("dtype",
      tensor(1:3, dtype = "int32"),
      tensor(1:3, dtype = "float16"),
      tensor(1:3, dtype = ""),
      tensor(1:3, dtype = NA),
      tensor(1:3, dtype = NA_character_),
      tensor(1:3, dtype = 1L),
      tensor(1:3, dtype = TRUE),
      tensor(1:3, dtype = 1i),
      tensor(1:3, dtype = c("double", "double")),
      tensor(1:3, dtype = list("double")),
      tensor(1:3, dtype = function() "double"),
      tensor(1:3, dtype = torch_float16()),
      tensor(1:3, dtype = torch_int32()),
      tensor(1:3, dtype = torch_double(1)),
      tensor(1:3, dtype = character(0))
    )
  )
  n <- expect_bad_inputs(all_cases)
  expect_gte(n, 30)
})

test_that("tensor() of a zero-row matrix is a zero-row tensor", {
  t0 <- tensor(matrix(0L, 0, 2))
  expect_s3_class(t0, "fwdprop_tensor")
  expect_identical(dim(t0), c(0L, 2L))
  expect_identical(as.matrix(t0), matrix(0L, 0, 2))
})

cat_cases <- function(fn) {
  f <- as.name(fn)
  m <- matrix(1:4, 2)
  tensors_values <- list(
    character = "a", `NULL` = NULL, matrix = m, number = 1:3, data_frame = data.frame(a = 1),
    empty_list = list(), environment = new.env(), `function` = function(x) x,
    factor = factor("a"), complex = 1i
  )
  element_values <- list(
    character = "b", `NULL` = NULL, `function` = function(x) x, environment = new.env(),
    complex = matrix(1i, 2, 2), factor = factor(c("a", "b")), array_3d = array(1, c(2, 2, 2)),
    nested_list = list(1), data_frame_chr = data.frame(a = "x"), raw = as.raw(1:2)
  )
  dim_values <- list(
    zero = 0, three = 3, minus_three = -3, na = NA, `NULL` = NULL, character = "1",
    fraction = 1.5, two_values = c(1, 2), inf = Inf, logical = TRUE, list = list(1), complex = 1i
  )
  c(
    cases_from(tensors_values, function(v) bquote(.(f)(.(v), 1)), "tensors", paste(fn, "tensors")),
    cases_from(element_values, function(v) bquote(.(f)(list(1:2, .(v)), 2)),
               "tensors\\[\\[2\\]\\]", paste(fn, "element")),
    cases_from(dim_values, function(v) bquote(.(f)(list(1:2, 3:4), .(v))), "dim", paste(fn, "dim")),
    list(
      list(label = paste(fn, "cbind rows differ"), arg = "tensors",
           call = bquote(.(f)(list(matrix(1:4, 2), matrix(1:6, 3)), 2))),
      list(label = paste(fn, "rbind columns differ"), arg = "tensors",
           call = bquote(.(f)(list(matrix(1:4, 2), matrix(1:6, 2)), 1)))
    )
  )
}

test_that("tensor_cat() refuses bad tensors and dim with fwdprop_error", {
  n <- expect_bad_inputs(cat_cases("tensor_cat"))
  expect_gte(n, 30)
  # a zero-row element stacks as rbind() stacks it
  got <- tensor_cat(list(matrix(0, 0, 2), matrix(1:4, 2)), 1)
  expect_identical(as.matrix(got), rbind(matrix(0, 0, 2), matrix(as.double(1:4), 2)))
})

test_that("torch_cat() refuses bad tensors and dim with fwdprop_error", {
  n <- expect_bad_inputs(cat_cases("torch_cat"))
  expect_gte(n, 30)
})

test_that("network() refuses bad arguments with fwdprop_error naming the argument", {
  beta <- bad_beta
  gamma <- bad_gamma
  all_cases <- c(
    cases("sizes",
      network(),
      network("a"),
      network(2),
      network(c(2, NA, 1)),
      network(c(2, NaN, 1)),
      network(c(2, -1, 1)),
      network(c(2, 0, 1)),
      network(c(2, 1.5, 1)),
      network(c(2, Inf, 1)),
      network(c(2, 1e12, 1)),
      network(c(2^31, 1)),
      network(c(50000, 50000)),
      network(list(2, 3)),
      network(factor(c(2, 3))),
      network(matrix(c(2, 3, 1))),
      network(c(TRUE, TRUE)),
      network(c(2, 3) + 0i),
      network(c(2, 4, 1), weights = list(beta, gamma))
    ),
    cases("activation",
      network(c(2, 3, 1), activation = "swish"),
      network(c(2, 3, 1), activation = NA_character_),
      network(c(2, 3, 1), activation = 1),
      network(c(2, 3, 1), activation = NULL),
      network(c(2, 3, 1), activation = character(0)),
      network(c(2, 3, 1), activation = factor("relu")),
      network(c(2, 3, 1), activation = c("relu", "relu")),
      network(c(2, 3, 1), activation = list("relu"))
    ),
    cases("output",
      network(c(2, 3, 1), output = "foo"),
      network(c(2, 3, 1), output = NA),
      network(c(2, 3, 1), output = c("sigmoid", "relu")),
      network(c(2, 3, 1), output = 1)
    ),
    cases("bias",
      network(c(2, 3, 1), bias = NA),
      network(c(2, 3, 1), bias = "yes"),
      network(c(2, 3, 1), bias = c(TRUE, FALSE)),
      network(c(2, 3, 1), bias = 1),
      network(c(2, 3, 1), bias = NULL)
    ),
    cases("init",
      network(c(2, 3, 1), init = "glorot"),
      network(c(2, 3, 1), init = NA),
      network(c(2, 3, 1), init = 1),
      network(c(2, 3, 1), init = c("uniform", "normal"))
    ),
    cases("seed",
      network(c(2, 3, 1), seed = NA),
      network(c(2, 3, 1), seed = Inf),
      network(c(2, 3, 1), seed = -1),
      network(c(2, 3, 1), seed = 1.5),
      network(c(2, 3, 1), seed = "1"),
      network(c(2, 3, 1), seed = c(1, 2)),
      network(c(2, 3, 1), seed = 2^54),
      network(c(2, 3, 1), seed = NaN),
      network(c(2, 3, 1), seed = TRUE)
    ),
    cases("weights",
      network(weights = "a"),
      network(weights = list()),
      network(weights = data.frame(a = 1)),
      network(weights = list("a")),
      network(weights = list(beta, matrix(1, 4, 1))),
      network(weights = list(beta, gamma, matrix(1, 2, 1))),
      network(weights = list(matrix(0, 0, 2))),
      network(weights = list(matrix(0, 2, 0))),
      network(weights = list(beta, NULL)),
      network(weights = list(function(x) x)),
      network(weights = list(matrix(1i, 2, 2))),
      network(weights = list(matrix("1", 2, 2))),
      network(weights = 1:3),
      network(weights = new.env())
    ),
    cases("biases",
      network(c(2, 3, 1), biases = list(1:3, 1)),
      network(weights = list(beta, gamma), biases = list(1:3)),
      network(weights = list(beta, gamma), biases = list(1:2, NULL)),
      network(weights = list(beta, gamma), biases = list("a", NULL)),
      network(weights = list(beta, gamma), biases = list(NULL, 1i)),
      network(weights = list(beta, gamma), biases = "a"),
      network(weights = list(beta, gamma), biases = data.frame(a = 1, b = 2))
    )
  )
  n <- expect_bad_inputs(all_cases)
  expect_gte(n, 30)
})

test_that("network(c(2, 1e12, 1)) and other huge layers fail fast, before allocating", {
  elapsed <- system.time(
    expect_error(network(c(2, 1e12, 1)), "`sizes", class = "fwdprop_error")
  )[["elapsed"]]
  expect_lt(elapsed, 1)
  expect_error(network(c(2, 3, 1e12)), "layer 2's weight matrix", class = "fwdprop_error")
})

test_that("forward() refuses bad net, x, trace and threads with fwdprop_error", {
  net <- bad_net
  X <- bad_X
  net_values <- list(
    `NULL` = NULL, list = list(), matrix = bad_beta, character = "a", `function` = function(x) x,
    environment = new.env(), data_frame = data.frame(a = 1), tensor = tensor(bad_beta),
    unclassed_network = unclass(bad_net)
  )
  x_extra <- list(
    vector = 1:2,
    three_columns = matrix(1, 3, 3),
    zero_by_zero = matrix(0, 0, 0),
    array_3d = array(1, c(3, 2, 1)),
    data_frame_three_columns = data.frame(a = 1, b = 2, c = 3)
  )
  all_cases <- c(
    cases_from(net_values, function(v) bquote(forward(.(v), X)), "net", "net"),
    cases_from(c(wrong_types, x_extra), function(v) bquote(forward(net, .(v))), "x", "x"),
    cases("trace",
      forward(net, X, trace = NA),
      forward(net, X, trace = "yes"),
      forward(net, X, trace = c(TRUE, TRUE)),
      forward(net, X, trace = 1),
      forward(net, X, trace = NULL)
    ),
    cases("threads",
      forward(net, X, threads = 0),
      forward(net, X, threads = -1),
      forward(net, X, threads = NA),
      forward(net, X, threads = 1.5),
      forward(net, X, threads = "2"),
      forward(net, X, threads = Inf),
      forward(net, X, threads = 1e12),
      forward(net, X, threads = c(1, 2)),
      forward(net, X, threads = TRUE)
    )
  )
  n <- expect_bad_inputs(all_cases)
  expect_gte(n, 30)
})

test_that("forward() of zero-row input gives base R's zero-row result", {
  x0 <- matrix(0, 0, 2)
  # plogis() drops the dimensions of an empty matrix, so the base R chain
  # cannot run on it; the shape is that of the plain products, 0x1
  expect_identical(forward(bad_net, x0), x0 %*% bad_beta %*% bad_gamma)
  df0 <- data.frame(a = numeric(0), b = numeric(0))
  expect_identical(dim(forward(bad_net, df0)), c(0L, 1L))
  tr <- forward(bad_net, x0, trace = TRUE)
  expect_identical(dim(tr$z[[1]]), c(0L, 3L))
  expect_identical(dim(tr$a[[2]]), c(0L, 1L))
})

test_that("forward() refuses a corrupted network with fwdprop_error", {
  X <- bad_X
  X_big <- matrix(stats::runif(600), 300, 2) # past the small-input fast path
  corrupt <- function(field, value) {
    n <- bad_net
    n[field] <- list(value)
    n
  }
  nets <- list(
    corrupt("weights", list(bad_beta, matrix(1, 4, 1))),
    corrupt("weights", list(matrix("a", 2, 3), bad_gamma)),
    corrupt("weights", NULL),
    corrupt("weights", list()),
    corrupt("weights", list(bad_beta)),
    corrupt("weights", list(bad_beta, matrix(1, 3, 0))),
    corrupt("weights", list(bad_beta, 1:3)),
    corrupt("weights", data.frame(a = 1)),
    corrupt("activations", c("sigmoid", "foo")),
    corrupt("activations", "sigmoid"),
    corrupt("activations", c("sigmoid", NA)),
    corrupt("activations", c(1, 2)),
    corrupt("activations", NULL),
    corrupt("biases", list(1:4, NULL)),
    corrupt("biases", list(c(1, 2), NULL)),
    corrupt("biases", list(NULL)),
    corrupt("biases", list("a", NULL)),
    corrupt("biases", "a"),
    corrupt("sizes", NULL),
    corrupt("sizes", c(2, 5, 1)),
    corrupt("sizes", c(2, 3)),
    corrupt("sizes", c(2, NA, 1)),
    corrupt("sizes", "2, 3, 1"),
    structure(list(1, 2), class = "fwdprop_network"),
    structure(1:3, class = "fwdprop_network")
  )
  names(nets) <- vapply(seq_along(nets), function(i) {
    paste(i, deparse(nets[[i]], width.cutoff = 60L)[[1L]])
  }, character(1L))
  all_cases <- c(
    cases_from(nets, function(v) bquote(forward(.(v), X)), "net", "small x"),
    cases_from(nets, function(v) bquote(forward(.(v), X_big)), "net", "large x"),
    cases_from(nets, function(v) bquote(forward(.(v), X, trace = TRUE)), "net", "trace"),
    cases_from(nets, function(v) bquote(predict(.(v), X)), "object", "predict")
  )
  n <- expect_bad_inputs(all_cases)
  expect_gte(n, 100)
  # and the message says what is wrong, with the shapes
  expect_snapshot(error = TRUE, {
    forward(corrupt("weights", list(bad_beta, matrix(1, 4, 1))), X)
    forward(corrupt("sizes", c(2, 5, 1)), X)
    forward(corrupt("activations", c("sigmoid", "foo")), X)
    forward(corrupt("biases", list(c(1, 2), NULL)), X)
  })
})

test_that("forward() accepts a hand-edited network that is still valid", {
  # integer weights, biases added by hand, sizes stored as double
  n <- bad_net
  n$weights[[2]] <- matrix(c(1L, -2L, 3L), 3, 1)
  n$biases <- list(c(0.5, -0.5, 0), 1L)
  n$sizes <- c(2, 3, 1)
  X_big <- matrix(stats::runif(600), 300, 2)
  ref <- function(x) plogis(sweep(plogis(sweep(x %*% bad_beta, 2, c(0.5, -0.5, 0), "+")) %*% c(1, -2, 3), 2, 1, "+"))
  expect_equal(forward(n, bad_X), ref(bad_X), tolerance = 1e-14)
  expect_equal(forward(n, X_big), ref(X_big), tolerance = 1e-14)
  expect_equal(predict(n, bad_X), ref(bad_X), tolerance = 1e-14)
  # the biases may be left out altogether
  n2 <- bad_net
  n2$biases <- NULL
  expect_identical(forward(n2, X_big), forward(bad_net, X_big))
})

test_that("predict() refuses bad newdata, trace and threads with fwdprop_error", {
  net <- bad_net
  X <- bad_X
  x_extra <- list(
    vector = 1:2,
    three_columns = matrix(1, 3, 3),
    zero_by_zero = matrix(0, 0, 0),
    array_3d = array(1, c(3, 2, 1)),
    data_frame_three_columns = data.frame(a = 1, b = 2, c = 3)
  )
  all_cases <- c(
    cases_from(c(wrong_types, x_extra), function(v) bquote(predict(net, .(v))), "newdata", "newdata"),
    cases("trace",
      predict(net, X, trace = NA),
      predict(net, X, trace = "yes"),
      predict(net, X, trace = c(TRUE, FALSE)),
      predict(net, X, trace = NULL),
      predict(net, X, trace = 1)
    ),
    cases("threads",
      predict(net, X, threads = 0),
      predict(net, X, threads = NA),
      predict(net, X, threads = 2.5),
      predict(net, X, threads = "1"),
      predict(net, X, threads = 2^31),
      predict(net, X, threads = -1)
    )
  )
  n <- expect_bad_inputs(all_cases)
  expect_gte(n, 30)
  df0 <- data.frame(a = numeric(0), b = numeric(0))
  expect_identical(dim(predict(net, df0)), c(0L, 1L))
})

test_that("predict() names `newdata` and refuses unknown arguments with fwdprop_error", {
  all_cases <- c(
    cases("newdata",
      predict(bad_net, "a"),
      predict(bad_net),
      predict(bad_net, matrix(1, 3, 3)),
      predict(bad_net, data.frame(a = 1, b = "x"))
    ),
    cases("foo|\\.\\.1|tracee",
      predict(bad_net, bad_X, foo = 1),
      predict(bad_net, bad_X, "response", FALSE, NULL, 3),
      predict(bad_net, bad_X, tracee = TRUE)
    )
  )
  expect_bad_inputs(all_cases)
  expect_snapshot(error = TRUE, {
    predict(bad_net, "a")
    predict(bad_net, bad_X, foo = 1)
    predict(bad_net)
  })
  # trace and threads are passed on
  expect_identical(predict(bad_net, bad_X, trace = TRUE), forward(bad_net, bad_X, trace = TRUE))
  expect_equal(predict(bad_net, bad_X, threads = 1), bad_reference(bad_X), tolerance = 1e-14)
})

test_that("init_weights() refuses bad sizes, method and seed with fwdprop_error", {
  all_cases <- c(
    cases("n_in",
      init_weights(0, 3),
      init_weights(-1, 3),
      init_weights(1.5, 3),
      init_weights(NA, 3),
      init_weights(NaN, 3),
      init_weights("2", 3),
      init_weights(NULL, 3),
      init_weights(Inf, 3),
      init_weights(c(2, 3), 3),
      init_weights(2^31, 2),
      init_weights(TRUE, 3),
      init_weights(list(2), 3),
      init_weights(2i, 3),
      init_weights(factor(2), 3),
      init_weights(numeric(0), 3),
      init_weights(50000, 50000),
      init_weights(2^30, 4)
    ),
    cases("n_out",
      init_weights(2, 0),
      init_weights(2, NA),
      init_weights(2, 2^31),
      init_weights(2, "3"),
      init_weights(2, -Inf)
    ),
    cases("method",
      init_weights(2, 3, method = "glorot"),
      init_weights(2, 3, method = NA),
      init_weights(2, 3, method = 1),
      init_weights(2, 3, method = c("uniform", "normal")),
      init_weights(2, 3, method = NULL),
      init_weights(2, 3, method = "")
    ),
    cases("seed",
      init_weights(2, 3, seed = NA),
      init_weights(2, 3, seed = Inf),
      init_weights(2, 3, seed = -Inf),
      init_weights(2, 3, seed = NaN),
      init_weights(2, 3, seed = -1),
      init_weights(2, 3, seed = 1.5),
      init_weights(2, 3, seed = "1"),
      init_weights(2, 3, seed = c(1, 2)),
      init_weights(2, 3, seed = 2^53 + 2),
      init_weights(2, 3, seed = list(1)),
      init_weights(2, 3, seed = TRUE)
    )
  )
  n <- expect_bad_inputs(all_cases)
  expect_gte(n, 30)
})

test_that("a long-vector-sized init_weights() request is refused before allocation", {
  mem_before <- gc(reset = TRUE)
  elapsed <- system.time({
    expect_error(init_weights(2^31, 2), "`n_in`", class = "fwdprop_error")
    expect_error(init_weights(50000, 50000), "`n_in` x `n_out`", class = "fwdprop_error")
    expect_error(init_weights(2^16, 2^15 + 1), "2,147,549,184 elements", class = "fwdprop_error")
  })[["elapsed"]]
  expect_lt(elapsed, 1)
  # nothing near 16 GB (or even 1 GB) was allocated on the way
  mem_after <- gc()
  expect_lt(mem_after[2L, ncol(mem_after)], 1000) # max Vcells used since reset, in Mb
})

test_that("fwdprop_threads() refuses bad n with fwdprop_error and keeps its value", {
  before <- fwdprop_threads()
  all_cases <- cases("n",
    fwdprop_threads(0),
    fwdprop_threads(-1),
    fwdprop_threads(NA),
    fwdprop_threads(NaN),
    fwdprop_threads(1.5),
    fwdprop_threads("2"),
    fwdprop_threads(Inf),
    fwdprop_threads(-Inf),
    fwdprop_threads(c(1, 2)),
    fwdprop_threads(list(1)),
    fwdprop_threads(TRUE),
    fwdprop_threads(2^31),
    fwdprop_threads(1i),
    fwdprop_threads(function() 1),
    fwdprop_threads(new.env()),
    fwdprop_threads(factor(2)),
    fwdprop_threads(numeric(0)),
    fwdprop_threads(data.frame(n = 2))
  )
  expect_bad_inputs(all_cases)
  expect_identical(fwdprop_threads(), before)
})

test_that("plot() on a network refuses bad input, highlight, digits and ... with fwdprop_error", {
  pdf(NULL)
  on.exit(dev.off())
  net <- bad_net
  all_cases <- c(
    cases("input",
      plot(net, input = "a"),
      plot(net, input = c(1, 2, 3)),
      plot(net, input = 1),
      plot(net, input = list(1, 2)),
      plot(net, input = matrix(1, 2, 2)),
      plot(net, input = matrix(0, 0, 2)),
      plot(net, input = data.frame(a = 1, b = "x")),
      plot(net, input = data.frame(a = 1:2, b = 1:2)),
      plot(net, input = c(1i, 2i)),
      plot(net, input = function(x) x),
      plot(net, input = new.env()),
      plot(net, input = factor(c(1, 2))),
      plot(net, input = matrix("a", 1, 2)),
      plot(net, input = array(1, c(1, 2, 1)))
    ),
    cases("highlight",
      plot(net, highlight = "a"),
      plot(net, highlight = c(1, 1)),
      plot(net, highlight = c(1, 1, 5)),
      plot(net, highlight = c(0, 1, 1)),
      plot(net, highlight = c(1, NA, 1)),
      plot(net, highlight = c(1, 1.5, 1)),
      plot(net, highlight = c(1, Inf, 1)),
      plot(net, highlight = list()),
      plot(net, highlight = list("a")),
      plot(net, highlight = data.frame(a = 1)),
      plot(net, highlight = matrix(1, 1, 3)),
      plot(net, highlight = factor(c(1, 1, 1))),
      plot(net, highlight = list(c(1, 1, 1), c(1, 9, 1))),
      plot(net, highlight = function(x) x)
    ),
    cases("digits",
      plot(net, digits = -1),
      plot(net, digits = 16),
      plot(net, digits = NA),
      plot(net, digits = "2"),
      plot(net, digits = 1.5),
      plot(net, digits = c(1, 2)),
      plot(net, digits = NULL)
    ),
    cases("foo|plot\\(\\)",
      plot(net, foo = 1),
      plot(net, NULL, NULL, 2, 5)
    )
  )
  n <- expect_bad_inputs(all_cases)
  expect_gte(n, 30)
})

test_that("tensor $mm(), $size() and $ refuse bad input with fwdprop_error", {
  T1 <- tensor(matrix(1:4, 2), dtype = torch_double())
  extra <- list(
    vector = 1:3,
    data_frame_num = data.frame(a = 1:2, b = 3:4),
    array_3d = array(1, c(2, 2, 2)),
    three_rows = matrix(1, 3, 3),
    zero_by_zero = matrix(0, 0, 0),
    tensor_three_rows = tensor(matrix(1, 3, 1))
  )
  all_cases <- c(
    # the message names mat2 by its expression: `mat2` for a literal value,
    # `quote(a)` for the (quoted) language objects
    cases_from(c(wrong_types, extra), function(v) bquote(T1$mm(.(v))), "mat2|quote\\(", "$mm"),
    cases("dim",
      T1$size(3),
      T1$size(0),
      T1$size(NA),
      T1$size("1"),
      T1$size(1.5),
      T1$size(c(1, 2))
    ),
    cases("T1\\$",
      T1$foo,
      T1$mm2,
      T1[["weight"]]
    )
  )
  # a named mat2 is named in the message
  b <- matrix(1, 3, 1)
  all_cases <- c(all_cases, cases("b", T1$mm(b)), cases("T1", T1$mm(b)))
  n <- expect_bad_inputs(all_cases)
  expect_gte(n, 30)
  # zero-extent results are base R's
  expect_identical(as.matrix(T1$mm(matrix(0, 2, 0))), as.matrix(T1) %*% matrix(0, 2, 0))
  expect_identical(as.matrix(tensor(matrix(0, 0, 2), dtype = torch_double())$mm(T1)), matrix(0, 0, 2) %*% as.matrix(T1))
})

test_that("backward() refuses bad networks, data, targets and settings with fwdprop_error", {
  net <- bad_net
  X <- bad_X
  y <- c(0, 1, 1)
  soft <- network(c(2, 3, 3), output = "softmax", seed = 1)
  ident <- network(c(2, 3, 1), output = "identity", seed = 1)
  nan_net <- net
  nan_net$weights[[2]][2] <- NaN
  all_cases <- c(
    cases_from(wrong_types[c("character", "list", "NULL", "function")],
               function(v) bquote(backward(.(v), X, y)), "net", "net"),
    cases_from(wrong_types[c("character", "character_matrix", "complex", "list", "NULL")],
               function(v) bquote(backward(net, .(v), y)), "x", "x"),
    cases("net",
      backward(nan_net, X, y),
      backward(suppressWarnings(network(c(2, 3, 1), output = "softmax", seed = 1)), X, y)
    ),
    cases("x",
      backward(net, matrix(c(1, NA, 3, 4, 5, 6), 3), y),
      backward(net, matrix(c(1, Inf, 3, 4, 5, 6), 3), y),
      backward(net, matrix(1:9, 3), y)
    ),
    cases("y",
      backward(net, X),
      backward(net, X, NULL),
      backward(net, X, c(0, 1)),
      backward(net, X, c(0, NA, 1)),
      backward(net, X, c(0, 2, 1)),
      backward(net, X, c(0, -1, 1)),
      backward(net, X, "a"),
      backward(net, X, list(1, 2, 3)),
      backward(net, X, data.frame(y = y)),
      backward(net, X, matrix(0, 3, 2)),
      backward(net, X, factor(c("a", "b", "c"))),
      backward(soft, X, y),
      backward(soft, X, factor(c("a", "b", "a"))),
      backward(ident, X, c(0, Inf, 1))
    ),
    cases("loss",
      backward(net, X, y, loss = "hinge"),
      backward(net, X, y, loss = NA),
      backward(net, X, y, loss = c("mse", "bce")),
      backward(net, X, y, loss = "cross_entropy"),
      backward(soft, X, diag(3), loss = "bce"),
      backward(ident, X, y, loss = "bce")
    ),
    cases("weight_decay",
      backward(net, X, y, weight_decay = -1),
      backward(net, X, y, weight_decay = NA),
      backward(net, X, y, weight_decay = "0"),
      backward(net, X, y, weight_decay = c(1, 2))
    ),
    cases("trace", backward(net, X, y, trace = NA), backward(net, X, y, trace = "yes")),
    cases("threads", backward(net, X, y, threads = 0), backward(net, X, y, threads = 1.5))
  )
  n <- expect_bad_inputs(all_cases)
  expect_gte(n, 30)
  expect_snapshot(error = TRUE, {
    backward(net, X, c(0, 2, 1))
    backward(net, matrix(c(1, NA, 3, 4, 5, 6), 3), y)
    backward(suppressWarnings(network(c(2, 3, 1), output = "softmax", seed = 1)), X, y)
    backward(soft, X, diag(3), loss = "bce")
    backward(net, X, y, loss = "cross_entropy")
    backward(soft, X, factor(c("a", "b", "a")))
  })
})

test_that("fit() and mlp() refuse bad settings with fwdprop_error naming the argument", {
  net <- network(c(2, 3, 1), output = "sigmoid", bias = TRUE, seed = 1)
  X <- bad_X
  y <- c(0, 1, 1)
  all_cases <- c(
    cases("object",
      fit(structure(list(weights = "a"), class = "fwdprop_network"), X, y),
      fit(structure(within(unclass(bad_net), sizes <- 1), class = "fwdprop_network"), X, y)
    ),
    cases("optimizer", fit(net, X, y, optimizer = "lbfgs"), fit(net, X, y, optimizer = 1)),
    cases("epochs", fit(net, X, y, epochs = 0), fit(net, X, y, epochs = 1.5), fit(net, X, y, epochs = NA)),
    cases("batch_size", fit(net, X, y, batch_size = 0), fit(net, X, y, batch_size = "32")),
    cases("learn_rate", fit(net, X, y, learn_rate = 0), fit(net, X, y, learn_rate = -1),
          fit(net, X, y, learn_rate = Inf), fit(net, X, y, learn_rate = c(0.1, 0.2))),
    cases("momentum", fit(net, X, y, optimizer = "sgd", momentum = 1), fit(net, X, y, optimizer = "sgd", momentum = -0.1),
          fit(net, X, y, momentum = 0.9)),
    cases("validation", fit(net, X, y, validation = 1), fit(net, X, y, validation = -0.1),
          fit(net, X, y, validation = 0.01), fit(net, X, y, validation = "0.2")),
    cases("patience", fit(net, X, y, patience = 0)),
    cases("maxit", fit(net, X, y, optimizer = "bfgs", maxit = 0)),
    cases("seed", fit(net, X, y, seed = -1), fit(net, X, y, seed = 1.5)),
    cases("verbose", fit(net, X, y, verbose = NA)),
    cases("weight_decay", fit(net, X, y, weight_decay = -1)),
    cases("learning_rate", fit(net, X, y, learning_rate = 0.1)),
    cases("y", fit(net, X), fit(net, X, c(0, 5, 1))),
    cases("hidden", mlp(Species ~ ., data = iris, hidden = -1), mlp(Species ~ ., data = iris, hidden = "5"),
          mlp(Species ~ ., data = iris, hidden = c(3, 0))),
    cases("data", mlp(Species ~ ., data = as.matrix(iris[, 1:4])), mlp(Species ~ .)),
    cases("y", mlp(iris[, 1:4], factor(rep("a", 150)))),
    cases("scale", mlp(Species ~ ., data = iris, scale = NA)),
    cases("type", predict(bad_net, X, type = "logit"), predict(bad_net, X, type = NA))
  )
  n <- expect_bad_inputs(all_cases)
  expect_gte(n, 30)
  expect_snapshot(error = TRUE, {
    fit(net, X, y, optimizer = "lbfgs")
    fit(net, X, y, momentum = 0.9)
    fit(net, X, y, validation = 0.01)
    fit(net, X, y, learning_rate = 0.1)
    mlp(Species ~ ., data = iris, hidden = -1)
  })
  # formula errors name the formula's problem
  expect_error(mlp(nope ~ ., data = iris), class = "fwdprop_error", regexp = "formula")
})

test_that("after all the bad calls R still runs and normal calls are unchanged", {
  expect_identical(mm(bad_X, bad_beta), bad_before$mm)
  expect_identical(forward(bad_net, bad_X), bad_before$forward)
  expect_identical(fwdprop_threads(), bad_before$threads)
  # and they are still base R's values
  expect_equal(mm(bad_X, bad_beta), bad_X %*% bad_beta, tolerance = 1e-15)
  expect_equal(forward(bad_net, bad_X), bad_reference(bad_X), tolerance = 1e-14)
  # the lecture's printed output (section 3), to 4 decimals
  expect_equal(round(as.vector(forward(bad_net, bad_X)), 4), c(0.6435, 0.6660, 0.6727))
  expect_equal(round(as.vector(mm(bad_X, bad_beta)), 4),
               c(2.1296, 4.5419, 6.9543, 1.9669, 4.2261, 6.4854, 0.8199, 1.9260, 3.0320))
})
