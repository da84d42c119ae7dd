xor_x <- matrix(c(0, 0, 1, 1, 0, 1, 0, 1), ncol = 2)
xor_y <- c(0, 1, 1, 0)
xor_net <- function(seed = 1) {
  network(c(2, 4, 1), activation = "tanh", output = "sigmoid", bias = TRUE, init = "xavier", seed = seed)
}

test_that("fit() learns XOR with adam, sgd and bfgs", {
  fa <- fit(xor_net(), xor_x, xor_y, epochs = 400, batch_size = 4, learn_rate = 0.05, seed = 1)
  expect_equal(as.vector(round(predict(fa, xor_x))), xor_y)
  fs <- fit(xor_net(), xor_x, xor_y, optimizer = "sgd", momentum = 0.9, epochs = 600,
            batch_size = 4, learn_rate = 0.1, seed = 1)
  expect_equal(as.vector(round(predict(fs, xor_x))), xor_y)
  fb <- fit(xor_net(), xor_x, xor_y, optimizer = "bfgs", maxit = 200)
  expect_equal(as.vector(round(predict(fb, xor_x))), xor_y)
  for (f in list(fa, fs, fb)) {
    expect_s3_class(f, "fwdprop_network")
    h <- f$history
    expect_s3_class(h, "fwdprop_history")
    expect_named(h, c("epoch", "loss", "val_loss", "time"))
    expect_lt(h$loss[nrow(h)], h$loss[1] / 10)
    # the record's last loss is the loss of the returned network (bfgs:
    # the full-batch loss at the last accepted point)
    expect_identical(f$training$loss, "bce")
  }
  # (a loss near 1e-10: the last digits depend on the order of the sums)
  expect_equal(backward(fb, xor_x, xor_y)$loss, fb$history$loss[nrow(fb$history)],
               tolerance = 1e-6)
  expect_true(fb$training$stopped %in% c("converged", "maxit"))
  expect_identical(fa$training$stopped, "completed")
  expect_identical(nrow(fa$history), 400L)
})

test_that("one epoch of full-batch sgd is one gradient step of backward()", {
  set.seed(2)
  net <- network(c(3, 5, 2), activation = "tanh", output = "identity", bias = TRUE, init = "normal")
  x <- matrix(rnorm(30), 10)
  y <- matrix(rnorm(20), 10)
  g <- backward(net, x, y, weight_decay = 0.1)
  f <- fit(net, x, y, optimizer = "sgd", epochs = 1, batch_size = 10, learn_rate = 0.2,
           weight_decay = 0.1, seed = 3)
  for (l in 1:2) {
    expect_equal(f$weights[[l]], net$weights[[l]] - 0.2 * g$weights[[l]], tolerance = 1e-13)
    expect_equal(f$biases[[l]], net$biases[[l]] - 0.2 * g$biases[[l]], tolerance = 1e-13)
  }
  # the epoch's loss is the data loss at the step (without weight decay)
  expect_equal(f$history$loss, backward(net, x, y)$loss, tolerance = 1e-13)
})

test_that("the same seed gives the same bits on 1 and 2 threads; set.seed() governs seed = NULL", {
  set.seed(4)
  x <- matrix(rnorm(3000 * 6), 3000)
  y <- factor(ifelse(x[, 1] + x[, 2] > 0, "a", ifelse(x[, 3] > 0, "b", "c")))
  net <- network(c(6, 16, 3), activation = "relu", output = "softmax", bias = TRUE, init = "he", seed = 2)
  run <- function(threads, seed = 7, batch_size = 300, ...) {
    fit(net, x, y, epochs = 3, batch_size = batch_size, seed = seed, threads = threads,
        validation = 0.1, ...)
  }
  one <- run(1)
  expect_identical(run(2)[c("weights", "biases")], one[c("weights", "biases")])
  expect_identical(run(2)$history$loss, one$history$loss)
  expect_identical(run(3, batch_size = 128)[c("weights", "biases")],
                   run(1, batch_size = 128)[c("weights", "biases")])
  expect_false(identical(run(1, seed = 8)$weights, one$weights))
  set.seed(99)
  a <- fit(net, x, y, epochs = 2, batch_size = 500)
  set.seed(99)
  b <- fit(net, x, y, epochs = 2, batch_size = 500)
  expect_identical(a$weights, b$weights)
  expect_identical(a$training$seed, b$training$seed)
  # bfgs: deterministic too
  expect_identical(run(1, optimizer = "bfgs", maxit = 5)$weights, run(2, optimizer = "bfgs", maxit = 5)$weights)
})

test_that("early stopping returns the weights of the best validation epoch", {
  set.seed(6)
  n <- 200
  x <- matrix(rnorm(n * 5), n)
  y <- x[, 1] - x[, 2] + rnorm(n, sd = 2) # noisy: a wide network overfits
  net <- network(c(5, 64, 64, 1), activation = "tanh", output = "identity", bias = TRUE,
                 init = "xavier", seed = 1)
  f <- fit(net, x, y, epochs = 300, batch_size = 16, learn_rate = 0.01, validation = 0.25,
           patience = 5, seed = 2)
  h <- f$history
  expect_identical(f$training$stopped, "early_stopping")
  expect_lt(nrow(h), 300L)
  best <- which.min(h$val_loss)
  expect_identical(f$training$best_epoch, best)
  expect_identical(nrow(h), best + 5L)
  # the returned network's loss on the held-out rows is the best val_loss
  split <- fwdprop:::validation_split_impl(n, 50, f$training$seed)
  expect_length(split$validation, 50)
  val <- backward(f, x[split$validation, ], y[split$validation])$loss
  expect_equal(val, min(h$val_loss), tolerance = 1e-12)
  expect_identical(f$training$rows, c(train = 150, validation = 50))
})

test_that("a diverging fit stops with a warning and returns the last good weights", {
  set.seed(7)
  x <- matrix(rnorm(400), 100)
  y <- x %*% c(1, -2, 3, 1) * 100
  net <- network(c(4, 8, 1), activation = "relu", output = "identity", bias = TRUE, init = "he", seed = 1)
  expect_warning(
    f <- fit(net, x, y, optimizer = "sgd", momentum = 0.9, learn_rate = 10, epochs = 50, seed = 1),
    class = "fwdprop_warning", regexp = "NaN or infinite"
  )
  expect_identical(f$training$stopped, "diverged")
  expect_true(all(is.finite(unlist(f$weights))))
  expect_lt(nrow(f$history), 50L)
})

test_that("Ctrl-C (SIGINT) stops training cleanly and returns the network so far", {
  skip_on_cran()
  skip_on_os("windows")
  rscript <- file.path(R.home("bin"), "Rscript")
  out <- tempfile(fileext = ".txt")
  script <- tempfile(fileext = ".R")
  writeLines(c(
    sprintf(".libPaths(%s)", paste(deparse(.libPaths()), collapse = "")),
    "library(fwdprop)",
    "set.seed(1)",
    "x <- matrix(rnorm(100000 * 10), ncol = 10); y <- as.numeric(x[, 1] > 0)",
    "net <- network(c(10, 32, 1), output = 'sigmoid', bias = TRUE, init = 'xavier', seed = 1)",
    "cat('started\\n')",
    "f <- withCallingHandlers(fit(net, x, y, epochs = 100000, batch_size = 1, seed = 1, verbose = FALSE),",
    "  warning = function(w) { cat('warning:', conditionMessage(w), '\\n'); invokeRestart('muffleWarning') })",
    "cat('stopped:', f$training$stopped, '\\n')",
    "cat('finite:', all(is.finite(forward(f, x[1:5, ]))), '\\n')",
    "cat('survived\\n')"
  ), script)
  p <- processx::process$new(rscript, script, stdout = out, stderr = "2>&1")
  on.exit(p$kill(), add = TRUE)
  # wait until training has started, then interrupt it mid-epoch
  for (i in 1:200) {
    if (file.exists(out) && any(grepl("started", readLines(out, warn = FALSE)))) break
    Sys.sleep(0.05)
  }
  Sys.sleep(1)
  p$interrupt()
  p$wait(30000)
  lines <- readLines(out, warn = FALSE)
  expect_identical(p$get_exit_status(), 0L)
  expect_true(any(grepl("warning: training interrupted after", lines)), info = paste(lines, collapse = "\n"))
  expect_true(any(grepl("stopped: interrupted", lines)))
  expect_true(any(grepl("finite: TRUE", lines)))
  expect_true(any(grepl("survived", lines)))
})

test_that("a fitted network is an ordinary network: print, summary, plot, saveRDS, fit again", {
  f <- fit(xor_net(), xor_x, xor_y, epochs = 20, batch_size = 2, seed = 1)
  expect_output(print(f), "trained: adam, bce loss, 20 epochs \\(completed\\)")
  expect_s3_class(summary(f), "summary.fwdprop_network")
  path <- tempfile(fileext = ".rds")
  saveRDS(f, path)
  g <- readRDS(path)
  expect_identical(predict(g, xor_x), predict(f, xor_x))
  expect_identical(forward(g, xor_x), predict(f, xor_x))
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  expect_invisible(plot(f))
  expect_invisible(plot(f$history))
  again <- fit(f, xor_x, xor_y, epochs = 5, batch_size = 2, seed = 2)
  expect_identical(nrow(again$history), 5L)
  expect_false(identical(again$weights, f$weights))
})

test_that("history printing and plotting", {
  h <- fwdprop:::as_history(data.frame(epoch = 1:3, loss = c(1, 0.5, 0.25), val_loss = c(1.1, 0.6, 0.7),
                                       time = c(0.1, 0.2, 0.3)))
  expect_snapshot(print(h))
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  expect_identical(plot(h), h)
  h$val_loss <- NA_real_
  expect_snapshot(print(h))
})

test_that("fit() with a factor target keeps its levels as the network's classes", {
  set.seed(12)
  x <- matrix(rnorm(300), 100)
  y <- factor(ifelse(x[, 1] > 0, "up", "down"), levels = c("down", "up"))
  f <- fit(network(c(3, 4, 1), output = "sigmoid", bias = TRUE, init = "xavier", seed = 1), x, y,
           optimizer = "bfgs", maxit = 100)
  expect_identical(f$levels, c("down", "up"))
  cls <- predict(f, x, type = "class")
  expect_identical(levels(cls), c("down", "up"))
  expect_gte(mean(cls == y), 0.95)
  # a network that has classes already keeps them, and a target with other
  # levels is refused
  expect_error(fit(f, x, factor(ifelse(x[, 1] > 0, "yes", "no")), epochs = 1), class = "fwdprop_error",
               regexp = "`y` has levels")
})
