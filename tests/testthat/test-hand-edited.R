# Networks edited by hand, as learners do (`net$weights[[1]] <- "a"`):
# every function that takes a network checks it with check_network(), so a
# broken one is refused by each of them with a `fwdprop_error` naming the
# broken part (never base R's "non-numeric argument ..."), and one with
# extra fields (a training record, class levels, ...) or valid edits works
# everywhere and gives what the same network built by network() gives.

he_net <- network(c(3, 4, 2), bias = TRUE, seed = 5)
he_X <- matrix(c(0.5, -1, 2, 1, 0, -0.5), 2, 3, byrow = TRUE)
he_X_big <- matrix(seq(-1, 1, length.out = 900), 300, 3) # past forward()'s small-input path

# Every function that takes a network: how to call it, and the name its
# messages give the network.
he_methods <- list(
  print = list(arg = "x", run = function(n) utils::capture.output(print(n))),
  print_weights = list(arg = "x", run = function(n) utils::capture.output(print(n, weights = TRUE))),
  format = list(arg = "x", run = function(n) format(n)),
  summary = list(arg = "object", run = function(n) summary(n)),
  plot = list(arg = "x", run = function(n) {
    grDevices::pdf(NULL)
    on.exit(grDevices::dev.off())
    plot(n)
  }),
  plot_input = list(arg = "x", run = function(n) {
    grDevices::pdf(NULL)
    on.exit(grDevices::dev.off())
    plot(n, input = c(1, 2, 3), highlight = c(1, 1, 1))
  }),
  knit_print = list(arg = "x", run = function(n) {
    if (requireNamespace("knitr", quietly = TRUE)) unclass(knitr::knit_print(n)) else format(n)
  }),
  tidy = list(arg = "x", run = function(n) tidy(n)),
  glance = list(arg = "x", run = function(n) glance(n)),
  forward = list(arg = "net", run = function(n) forward(n, he_X)),
  forward_big = list(arg = "net", run = function(n) forward(n, he_X_big)),
  forward_trace = list(arg = "net", run = function(n) forward(n, he_X, trace = TRUE)),
  predict = list(arg = "object", run = function(n) predict(n, he_X))
)

# Runs every method on `net`; each must fail with a fwdprop_error whose
# message names `<arg>$<field>` (or `<arg>` itself when `field` is NULL).
# Returns the number of calls made.
he_expect_refused <- function(net, field, label) {
  for (m in names(he_methods)) {
    meth <- he_methods[[m]]
    err <- tryCatch({
      meth$run(net)
      NULL
    }, error = function(e) e)
    what <- sprintf("%s, %s()", label, m)
    expect(inherits(err, "fwdprop_error"), sprintf(
      "%s: expected a fwdprop_error, got %s", what,
      if (is.null(err)) "no error" else sprintf("<%s> %s", class(err)[[1L]], conditionMessage(err))
    ))
    if (inherits(err, "fwdprop_error")) {
      part <- if (is.null(field)) sprintf("`%s`", meth$arg) else sprintf("`%s$%s", meth$arg, field)
      expect(grepl(part, conditionMessage(err), fixed = TRUE),
             sprintf("%s: the message does not name %s: %s", what, part, conditionMessage(err)))
    }
  }
  length(he_methods)
}

# Runs every method on `net` and on `reference` (a network built by
# network() that `net` should equal) and expects the same results.
he_expect_same <- function(net, reference, label) {
  for (m in names(he_methods)) {
    got <- he_methods[[m]]$run(net) # plot() returns the layout it drew
    want <- he_methods[[m]]$run(reference)
    expect(identical(got, want), sprintf("%s, %s(): differs from the network built by network()", label, m))
  }
}

# Values of every wrong kind for a part of a network.
he_wrong_values <- list(
  string = "a",
  string_matrix = matrix("a", 3, 4),
  number = 1,
  logical_na = NA,
  integer_vector = 1:3,
  complex_matrix = matrix(1i, 3, 4),
  factor = factor(c("a", "b")),
  empty_list = list(),
  list_of_string = list("a"),
  list_matrix = matrix(list(1), 3, 4),
  data_frame = data.frame(a = 1:3),
  `function` = function(x) x,
  environment = new.env(),
  array_3d = array(0, c(3, 4, 1)),
  zero_columns = matrix(0, 3, 0),
  raw = as.raw(1:3),
  call = quote(f(x))
)

test_that("a corrupted part of every kind is refused by every function, naming the part", {
  n_calls <- 0L
  L <- length(he_net$weights)
  set_part <- function(net, field, l, value) {
    if (is.null(l)) net[field] <- list(value) else net[[field]][l] <- list(value)
    net
  }
  for (field in c("weights", "biases", "sizes", "activations")) {
    for (l in list(NULL, 1L, L)) {
      for (v in names(he_wrong_values)) {
        value <- he_wrong_values[[v]]
        net <- set_part(he_net, field, l, value)
        label <- sprintf("%s%s <- %s", field, if (is.null(l)) "" else sprintf("[[%d]]", l), v)
        n_calls <- n_calls + he_expect_refused(net, field, label)
      }
    }
    # the field left out
    net <- he_net
    net[[field]] <- NULL
    if (field != "biases") { # no biases at all is valid (see below)
      n_calls <- n_calls + he_expect_refused(net, field, sprintf("%s removed", field))
    }
  }
  # a layer removed or added, wrong numbers
  n_calls <- n_calls + he_expect_refused(set_part(he_net, "weights", 1L, NULL), "weights", "weights[[1]] removed")
  extra <- he_net
  extra$weights[[3]] <- matrix(1, 2, 2)
  n_calls <- n_calls + he_expect_refused(extra, "weights", "a third weight matrix")
  n_calls <- n_calls + he_expect_refused(set_part(he_net, "sizes", 2L, 5), "sizes", "sizes[2] <- 5")
  n_calls <- n_calls + he_expect_refused(set_part(he_net, "sizes", 2L, NA), "sizes", "sizes[2] <- NA")
  n_calls <- n_calls + he_expect_refused(set_part(he_net, "activations", 2L, "swish"), "activations", "unknown activation")
  n_calls <- n_calls + he_expect_refused(set_part(he_net, "biases", 1L, 1:2), "biases", "short bias")
  # not a network at all, under the class
  for (bad in list(structure(list(1, 2), class = "fwdprop_network"),
                   structure(list(), class = "fwdprop_network"))) {
    n_calls <- n_calls + he_expect_refused(bad, "weights", paste("not a network:", deparse(bad)[[1L]]))
  }
  for (bad in list(structure(1:3, class = "fwdprop_network"),
                   structure(function(x) x, class = "fwdprop_network"))) {
    n_calls <- n_calls + he_expect_refused(bad, NULL, paste("not a list:", deparse(bad)[[1L]]))
  }
  expect_gte(n_calls, 800L)
})

test_that("randomly corrupted networks are refused by every function, naming the part", {
  set.seed(20261130)
  n_calls <- 0L
  for (i in seq_len(60L)) {
    field <- sample(c("weights", "biases", "sizes", "activations"), 1L)
    L <- length(he_net$weights)
    l <- sample.int(L, 1L)
    net <- he_net
    shape <- dim(he_net$weights[[l]])
    kind <- switch(field,
      weights = sample(c("shape", "type", "dims"), 1L),
      biases = sample(c("length", "type"), 1L),
      sizes = sample(c("value", "length"), 1L),
      activations = sample(c("name", "length"), 1L)
    )
    if (field == "weights" && kind == "shape") {
      # a numeric matrix of another shape, with random values
      repeat {
        d <- sample.int(6L, 2L, replace = TRUE)
        if (!identical(d, shape)) break
      }
      net$weights[[l]] <- matrix(stats::rnorm(prod(d)), d[[1L]], d[[2L]])
    } else if (field == "weights" && kind == "type") {
      net$weights[[l]] <- sample(he_wrong_values, 1L)[[1L]]
    } else if (field == "weights") {
      # the right number of values without the dimensions
      net$weights[[l]] <- as.vector(he_net$weights[[l]])
    } else if (field == "biases" && kind == "length") {
      k <- sample(setdiff(0:6, length(he_net$biases[[l]])), 1L)
      net$biases[[l]] <- stats::rnorm(k)
    } else if (field == "biases") {
      net$biases[[l]] <- sample(he_wrong_values[c("string", "factor", "list_of_string", "environment", "raw")], 1L)[[1L]]
    } else if (field == "sizes" && kind == "value") {
      k <- sample.int(L + 1L, 1L)
      net$sizes[[k]] <- net$sizes[[k]] + sample(c(-1L, 1L, 7L), 1L)
    } else if (field == "sizes") {
      net$sizes <- c(net$sizes, sample.int(5L, 1L))
    } else if (kind == "name") {
      net$activations[[l]] <- sample(c("Sigmoid", "swish", "", NA), 1L)
    } else {
      net$activations <- rep("relu", sample(setdiff(0:4, L), 1L))
    }
    n_calls <- n_calls + he_expect_refused(net, field, sprintf("random %d: %s %s of layer %d", i, field, kind, l))
  }
  expect_identical(n_calls, 60L * length(he_methods))
})

test_that("extra fields are kept and ignored by every function", {
  set.seed(42)
  extras <- list(
    input_names = c("a", "b", "c"),
    note = "edited by hand",
    anything = new.env()
  )
  for (k in seq_len(20L)) {
    net <- he_net
    picked <- sample(names(extras), sample.int(length(extras), 1L))
    for (e in picked) net[[e]] <- extras[[e]]
    he_expect_same(net, he_net, paste("extras:", paste(picked, collapse = ", ")))
    # the extras are still there
    expect_identical(net[picked], extras[picked])
  }
  # extras survive a saveRDS() round trip and the check's normalisation
  net <- he_net
  net$note <- extras$note
  f <- tempfile(fileext = ".rds")
  on.exit(unlink(f))
  saveRDS(net, f)
  he_expect_same(readRDS(f), he_net, "extras after readRDS()")
})

test_that("the fields of fitted networks keep every function working, and show where they apply", {
  # a training record (even a partial, hand-made one), class levels and
  # input scaling, as fit(), mlp() and as_network() attach them
  known <- list(
    history = data.frame(epoch = 1:3, loss = c(0.9, 0.5, 0.3)),
    training = list(optimizer = "adam"),
    levels = c("setosa", "versicolor"),
    scaling = list(center = c(1, 2, 3), scale = c(2, 2, 2))
  )
  unchanged <- c("forward", "forward_big", "forward_trace", "tidy", "plot", "plot_input")
  for (picked in list(c("history", "training"), "history", "levels", "scaling", names(known))) {
    net <- he_net
    for (e in picked) net[[e]] <- known[[e]]
    label <- paste("fields:", paste(picked, collapse = ", "))
    for (m in names(he_methods)) {
      got <- tryCatch(he_methods[[m]]$run(net), error = function(e) e)
      expect(!inherits(got, "error"), sprintf("%s, %s(): %s", label, m,
                                               if (inherits(got, "error")) conditionMessage(got) else ""))
      if (m %in% unchanged) {
        expect(identical(got, he_methods[[m]]$run(he_net)), sprintf("%s, %s(): changed", label, m))
      }
    }
    out <- paste(utils::capture.output(print(net)), collapse = "\n")
    if ("history" %in% picked) {
      expect_match(out, if ("training" %in% picked) "trained: adam, 3 epochs" else "trained: 3 epochs", fixed = TRUE)
    }
    if ("levels" %in% picked) expect_match(out, "classes: setosa, versicolor", fixed = TRUE)
    if ("scaling" %in% picked) {
      expect_match(out, "inputs centred and scaled", fixed = TRUE)
      # predict() applies the scaling; forward() takes inputs as they are
      z <- sweep(sweep(he_X, 2, c(1, 2, 3)), 2, c(2, 2, 2), "/")
      expect_equal(predict(net, he_X), forward(he_net, z), tolerance = 1e-15)
    }
  }
})

test_that("valid hand edits show the edited values everywhere", {
  W1 <- he_net$weights[[1]]
  edited <- he_net
  edited$weights[[1]][2, 3] <- 10
  edited$biases[[2]] <- c(-1L, 1L) # integer biases
  edited$sizes <- as.double(edited$sizes)
  W1e <- W1
  W1e[2, 3] <- 10
  reference <- network(weights = list(W1e, he_net$weights[[2]]),
                       biases = list(he_net$biases[[1]], c(-1, 1)))
  reference$init <- he_net$init
  he_expect_same(edited, reference, "edited weight, integer biases, double sizes")
  w <- tidy(edited)
  expect_identical(w$weight[w$layer == 1 & w$type == "weight" & w$from == 2 & w$to == 3], 10)
  expect_identical(w$weight[w$layer == 2 & w$type == "bias"], c(-1, 1))
  expect_true(any(grepl("10.0000", utils::capture.output(print(edited)), fixed = TRUE)))

  # no biases at all (the field removed) is a network without biases
  nobias <- he_net
  nobias$biases <- NULL
  ref_nobias <- network(weights = he_net$weights)
  ref_nobias$init <- he_net$init
  he_expect_same(nobias, ref_nobias, "biases removed")
  expect_identical(glance(nobias)$biases, 0L)
})

test_that("an init record edited into another shape counts as none", {
  for (init in list("xavier", list(method = 1), list(method = c("a", "b")), list(seed = 3),
                    list(method = "normal", seed = "x"), NA, data.frame(method = "he"))) {
    net <- he_net
    net["init"] <- list(init)
    expect_identical(format(net)[[4L]], "  26 parameters")
    g <- glance(net)
    expect_identical(g$init, NA_character_)
    expect_identical(g$seed, NA_real_)
    expect_identical(forward(net, he_X), forward(he_net, he_X))
  }
  # a record without a seed
  net <- he_net
  net$init <- list(method = "he")
  expect_identical(format(net)[[4L]], "  26 parameters, initialised \"he\"")
  expect_identical(glance(net)$init, "he")
})

test_that("print() and knit_print() check digits and weights", {
  expect_error(print(he_net, digits = "a"), class = "fwdprop_error", regexp = "`digits`")
  expect_error(print(he_net, digits = -1), class = "fwdprop_error", regexp = "`digits`")
  expect_error(print(he_net, weights = NA), class = "fwdprop_error", regexp = "`weights`")
  expect_error(print(he_net, weights = "yes"), class = "fwdprop_error", regexp = "`weights`")
  skip_if_not_installed("knitr")
  expect_error(knitr::knit_print(he_net, digits = 1.5), class = "fwdprop_error", regexp = "`digits`")
  expect_error(knitr::knit_print(he_net, weights = c(TRUE, FALSE)), class = "fwdprop_error", regexp = "`weights`")
})
