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
    # the minibatch optimisers record each epoch's learning rate
    expect_named(h, c("epoch", "loss", "val_loss", "time", if (!identical(f, fb)) "lr"))
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

test_that("minibatches of 128 train to the same bits on 1, 2, 3, 7 and 16 threads", {
  # a network large enough for a step to be shared out among threads
  # (20 -> 61 -> 33 -> 3, batch 128, a last step of 35 rows), with dropout
  # and row weights; epochs' losses and fitted weights alike, bit for bit
  set.seed(12)
  n <- 1059
  x <- matrix(rnorm(n * 20), n)
  y <- factor(ifelse(x[, 1] + x[, 2] > 0, "a", ifelse(x[, 3] > 0, "b", "c")))
  w <- rep(c(0.5, 1, 2), length.out = n)
  net <- network(c(20, 61, 33, 3), activation = "tanh", output = "softmax", bias = TRUE, init = "xavier", seed = 3)
  run <- function(threads) {
    fit(net, x, y, epochs = 3, batch_size = 128, seed = 5, threads = threads, validation = 0.1,
        dropout = 0.2, weights = w, optimizer = "adam", learn_rate = 0.01, verbose = FALSE)
  }
  one <- run(1)
  expect_true(all(is.finite(one$history$loss)))
  expect_lt(one$history$loss[3], one$history$loss[1])
  for (th in c(2, 3, 7, 16)) {
    other <- run(th)
    expect_identical(other[c("weights", "biases")], one[c("weights", "biases")], label = paste(th, "threads"))
    expect_identical(other$history$loss, one$history$loss, label = paste(th, "threads"))
    expect_identical(other$history$val_loss, one$history$val_loss, label = paste(th, "threads"))
  }
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
    class = "fwdprop_warning", regexp = "diverged"
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

# A script run in a child R process (a hang or an abort there fails the
# test instead of stalling the suite): its output lines, and its exit code.
run_child <- function(lines, timeout_s = 240, env = character()) {
  skip_on_cran()
  skip_on_os("windows")
  skip_if_not_installed("processx")
  script <- tempfile(fileext = ".R")
  out <- tempfile(fileext = ".txt")
  writeLines(c(sprintf(".libPaths(%s)", paste(deparse(.libPaths()), collapse = "")),
               "suppressPackageStartupMessages(library(fwdprop))", lines), script)
  p <- processx::process$new(file.path(R.home("bin"), "Rscript"), script, stdout = out,
                             stderr = "2>&1", env = c("current", env))
  on.exit(p$kill(), add = TRUE)
  p$wait(timeout_s * 1000)
  alive <- p$is_alive()
  list(lines = readLines(out, warn = FALSE), status = if (alive) NA_integer_ else p$get_exit_status(),
       hung = alive)
}

test_that("minibatches past the block and buffer limits train, agree across threads and never hang", {
  # more blocks per step than gradient buffers: batches of 1,025 rows and
  # up; a network of 4 million parameters (fewer buffers) at batch 129
  r <- run_child(c(
    "set.seed(1)",
    "x <- matrix(rnorm(15000), 3000); y <- rnorm(3000)",
    "net <- network(c(5, 32, 16, 1), output = 'identity', bias = TRUE, seed = 1)",
    "for (bs in c(1025, 1088, 2000, 2049, 3000, 10000)) {",
    "  fits <- lapply(1:3, function(th) fit(net, x, y, epochs = 2, batch_size = bs, threads = th,",
    "                                      optimizer = 'sgd', learn_rate = 0.01, seed = 3, verbose = FALSE))",
    "  same <- all(vapply(fits[-1], function(f) identical(f$weights, fits[[1]]$weights) &&",
    "                                 identical(f$history$loss, fits[[1]]$history$loss), logical(1)))",
    "  cat('batch', bs, 'same', same, 'finite', all(is.finite(fits[[1]]$history$loss)), '\\n')",
    "}",
    "big <- network(c(1000, 4000, 1), output = 'identity', bias = TRUE, seed = 1)",
    "xb <- matrix(rnorm(300 * 1000), 300); yb <- rnorm(300)",
    "fits <- lapply(1:3, function(th) fit(big, xb, yb, epochs = 1, batch_size = 129, threads = th,",
    "                                    learn_rate = 1e-4, seed = 1, verbose = FALSE))",
    "cat('big same', identical(fits[[1]]$weights, fits[[2]]$weights) && identical(fits[[1]]$weights, fits[[3]]$weights),",
    "    'finite', is.finite(fits[[1]]$history$loss), '\\n')",
    "cat('done\\n')"
  ))
  info <- paste(r$lines, collapse = "\n")
  expect_false(r$hung, info = info)
  expect_identical(r$status, 0L, info = info)
  for (bs in c(1025, 1088, 2000, 2049, 3000, 10000)) {
    expect_true(any(r$lines == sprintf("batch %d same TRUE finite TRUE ", bs)), info = info)
  }
  expect_true(any(r$lines == "big same TRUE finite TRUE "), info = info)
})

test_that("one full-batch SGD step past the buffer limit is the full-batch gradient step", {
  set.seed(2)
  for (n in c(1025, 2049)) {
    x <- matrix(rnorm(n * 3), n)
    y <- matrix(plogis(x %*% c(1, -1, 0.5)), ncol = 1)
    net <- network(c(3, 7, 1), activation = "tanh", output = "sigmoid", bias = TRUE, seed = 4)
    f <- fit(net, x, y, optimizer = "sgd", learn_rate = 0.1, batch_size = n, epochs = 1,
             seed = 1, verbose = FALSE)
    g <- backward(net, x, y)
    for (l in 1:2) {
      expect_equal(unname(f$weights[[l]]), unname(net$weights[[l]] - 0.1 * g$weights[[l]]), tolerance = 1e-12)
      expect_equal(f$biases[[l]], net$biases[[l]] - 0.1 * g$biases[[l]], tolerance = 1e-12)
    }
    expect_equal(f$history$loss, g$loss, tolerance = 1e-13)
  }
})

test_that("fit() and mlp() fuzzed across block and buffer limits agree across threads", {
  # random networks (a layer wider than a block's scratch now and then),
  # rows and batch sizes around every internal limit
  r <- run_child(c(
    "set.seed(20261204)",
    "batches <- c(1, 7, 63, 64, 65, 127, 128, 129, 1023, 1024, 1025, 2048, 2049, 2050, 4100)",
    "bad <- 0",
    "for (case in 1:24) {",
    "  bs <- sample(batches, 1)",
    "  n <- max(2, round(bs * runif(1, 0.5, 2.5)))",
    "  wide <- case %% 8 == 0",
    "  sizes <- c(sample(1:6, 1), if (wide) 66000 else sample(c(1:20, 64, 129), sample(1:3, 1), TRUE), sample(1:3, 1))",
    "  if (wide) n <- min(n, 400)",
    "  x <- matrix(rnorm(n * sizes[1]), n); y <- matrix(runif(n * sizes[length(sizes)]), n)",
    "  net <- network(sizes, activation = sample(c('tanh', 'relu', 'sigmoid'), 1), output = 'sigmoid',",
    "                 bias = TRUE, init = 'xavier', seed = case)",
    "  opt <- sample(c('adam', 'sgd'), 1)",
    "  fits <- lapply(c(1, 2, 3), function(th) fit(net, x, y, loss = 'mse', optimizer = opt, epochs = 2,",
    "    batch_size = bs, validation = if (n > 10) 0.1 else 0, learn_rate = 0.01, threads = th, seed = case, verbose = FALSE))",
    "  ok <- all(vapply(fits[-1], function(f) identical(f$weights, fits[[1]]$weights), logical(1))) &&",
    "    all(is.finite(fits[[1]]$history$loss)) && nrow(fits[[1]]$history) == 2",
    "  if (!ok) { bad <- bad + 1; cat('case', case, 'failed: sizes', sizes, 'n', n, 'batch', bs, opt, '\\n') }",
    "}",
    "d <- data.frame(y = rnorm(3000), a = rnorm(3000), b = factor(sample(letters[1:4], 3000, TRUE)))",
    "for (bs in c(1024, 1025, 2999)) {",
    "  m <- lapply(1:2, function(th) mlp(y ~ ., d, hidden = c(9, 4), batch_size = bs, epochs = 2,",
    "                                   threads = th, seed = 1, verbose = FALSE))",
    "  if (!identical(predict(m[[1]], d), predict(m[[2]], d))) { bad <- bad + 1; cat('mlp batch', bs, 'failed\\n') }",
    "}",
    "cat('failures', bad, '\\n')"
  ), timeout_s = 300)
  info <- paste(r$lines, collapse = "\n")
  expect_false(r$hung, info = info)
  expect_identical(r$status, 0L, info = info)
  expect_true(any(r$lines == "failures 0 "), info = info)
})

test_that("a buffer that cannot be allocated is a fwdprop_error, and R lives", {
  skip_if_not(nzchar(Sys.which("bash")))
  skip_on_os(c("windows", "mac"))
  script <- tempfile(fileext = ".R")
  writeLines(c(
    sprintf(".libPaths(%s)", paste(deparse(.libPaths()), collapse = "")),
    "suppressPackageStartupMessages(library(fwdprop))",
    "net <- network(c(2000, 25000, 1), output = 'identity', bias = TRUE, seed = 1)",
    "r <- tryCatch(fit(net, matrix(rnorm(2e4), 10), rnorm(10), epochs = 1, verbose = FALSE), error = function(e) e)",
    "cat('class', class(r)[1], '\\n')",
    "cat('message', conditionMessage(r), '\\n')",
    "cat('R lives\\n')"
  ), script)
  # an address space of 2.5 GB: the network (400 MB) fits, training's
  # buffers do not
  out <- suppressWarnings(system2("bash", c("-c", shQuote(sprintf("ulimit -v 2500000; '%s' '%s' 2>&1",
    file.path(R.home("bin"), "Rscript"), script))), stdout = TRUE))
  info <- paste(out, collapse = "\n")
  expect_true(any(out == "class fwdprop_error "), info = info)
  expect_true(any(grepl("^message could not allocate [0-9.]+ MB for .*: not enough memory", out)), info = info)
  expect_true(any(out == "R lives"), info = info)
})

test_that("networks larger than the free memory are refused before anything is allocated", {
  skip_if(is.na(fwdprop:::available_memory()))
  huge <- ceiling(fwdprop:::available_memory() / 8 / 3)
  expect_error(network(c(2, huge, 1)), class = "fwdprop_error",
               regexp = "parameters needs .* of memory .*more than the .* this machine has free")
  expect_error(mlp(mpg ~ wt, mtcars, hidden = 1e9), class = "fwdprop_error", regexp = "memory")
})

test_that("recording the history is linear in the epochs; epochs = .Machine$integer.max allocates nothing up front", {
  x <- matrix(rnorm(20), 10)
  y <- rnorm(10)
  net <- network(c(2, 3, 1), output = "identity", bias = TRUE, seed = 1)
  time_of <- function(epochs) {
    system.time(fit(net, x, y, epochs = epochs, batch_size = 10, seed = 1, verbose = FALSE))[["elapsed"]]
  }
  # 20 times the epochs in (much) less than 60 times the time: quadratic
  # bookkeeping took 160 times (313 us per epoch at 1e5 against 37 at 1e3)
  t1 <- time_of(2000)
  t2 <- time_of(40000)
  expect_lt(t2 / max(t1, 0.02), 60)
  f <- fit(net, x, y, epochs = .Machine$integer.max, validation = 0.2, patience = 3, seed = 1,
           verbose = FALSE)
  expect_identical(f$training$stopped, "early_stopping")
  expect_identical(f$history$epoch, seq_len(nrow(f$history)))
  expect_true(all(is.finite(f$history$loss)))
})

test_that("an interrupted BFGS fit returns its best accepted weights, never a line-search probe", {
  set.seed(3)
  x <- matrix(rnorm(200), 100)
  y <- x[, 1]^2 + rnorm(100, sd = 0.1)
  net <- network(c(2, 6, 1), activation = "tanh", output = "identity", bias = TRUE, init = "xavier", seed = 2)
  start_loss <- backward(net, x, y, loss = "mse")$loss
  ns <- asNamespace("fwdprop")
  real <- ns$flat_gradient_impl
  # an interrupt arriving at the k-th evaluation of the loss, wherever
  # BFGS is (an accepted point or a probe); the binding replaced by hand
  # (this testthat may predate local_mocked_bindings())
  unlockBinding("flat_gradient_impl", ns)
  on.exit({
    assign("flat_gradient_impl", real, envir = ns)
    lockBinding("flat_gradient_impl", ns)
  }, add = TRUE)
  calls <- 0L
  k <- 0L
  assign("flat_gradient_impl", function(...) {
    calls <<- calls + 1L
    if (calls == k) signalCondition(structure(class = c("interrupt", "condition"), list(message = "", call = NULL)))
    real(...)
  }, envir = ns)
  for (k in c(2:12, 20, 35)) {
    calls <- 0L
    f <- suppressWarnings(fit(net, x, y, optimizer = "bfgs", maxit = 100, seed = 1, verbose = FALSE))
    expect_identical(f$training$stopped, "interrupted")
    got <- backward(f, x, y, loss = "mse")$loss
    expect_lte(got, start_loss)
    if (nrow(f$history) > 0) {
      # the best loss the history records at an accepted point
      expect_equal(got, min(f$history$loss), tolerance = 1e-12)
    }
  }
})

test_that("divergence in the first step says so, and its epoch is counted right", {
  x <- matrix(c(1e300, 1, 2, 3), 2)
  net <- network(c(2, 3, 1), output = "identity", seed = 1)
  expect_warning(f <- fit(net, x, c(1e300, 1), optimizer = "sgd", epochs = 3, verbose = FALSE),
                 "NaN or infinite from the first step of epoch 1; returning the starting weights",
                 class = "fwdprop_warning")
  expect_identical(f$weights, net$weights)
  expect_identical(nrow(f$history), 0L)
})

test_that("BFGS's flat parameters follow the core's one layout, and come back in the network's shapes", {
  net <- network(c(3, 4, 2, 1), bias = TRUE, seed = 1)
  net$biases[[1]] <- c(0.1, 0.2, 0.3, 0.4)
  net$biases[2] <- list(NULL)
  flat <- flat_params_impl(net$weights, net$biases, net$activations)
  # layer by layer: the weights column by column, then the bias
  want <- unlist(lapply(1:3, function(l) c(net$weights[[l]], net$biases[[l]])))
  expect_identical(flat$par, want)
  expect_identical(flat$is_weight, unlist(lapply(1:3, function(l) {
    c(rep(TRUE, length(net$weights[[l]])), rep(FALSE, length(net$biases[[l]])))
  })))
  back <- unflatten_params_impl(flat$par, net$sizes, !vapply(net$biases, is.null, logical(1)))
  expect_identical(back$weights, lapply(net$weights, unname))
  expect_identical(back$biases, net$biases)
  expect_error(unflatten_params_impl(flat$par[-1], net$sizes, c(TRUE, FALSE, TRUE)), "parameters")
})

test_that("a training loss far past its start stops as diverged, with the starting weights when epoch 1 did", {
  net <- network(c(4, 5, 3), output = "softmax", bias = TRUE, init = "xavier", seed = 1)
  x <- scale(iris[, 1:4])
  start <- backward(net, x, iris$Species)$loss
  for (opt in c("adam", "sgd")) {
    expect_warning(
      f <- fit(net, x, iris$Species, optimizer = opt, epochs = 30, learn_rate = 1e6, seed = 1),
      class = "fwdprop_warning", regexp = "training loss diverged in epoch 1 .*smaller `learn_rate`"
    )
    expect_identical(f$training$stopped, "diverged")
    expect_identical(nrow(f$history), 1L)
    # the loss of epoch 1 is more than 10 times the starting loss (and than
    # a constant prediction's, log(3) here)
    expect_gt(f$history$loss, 10 * max(start, log(3)))
    expect_identical(f$training$best_epoch, 0L)
    expect_identical(lapply(f$weights, as.vector), lapply(net$weights, as.vector))
    expect_equal(backward(f, x, iris$Species)$loss, start, tolerance = 1e-14)
  }
  # a run whose loss grows later returns its best epoch (lowest training loss)
  set.seed(8)
  xr <- matrix(rnorm(400), 100)
  yr <- as.vector(xr %*% c(1, -2, 3, 1))
  netr <- network(c(4, 8, 1), activation = "tanh", output = "identity", bias = TRUE, init = "xavier", seed = 1)
  expect_warning(
    f <- fit(netr, xr, yr, optimizer = "sgd", momentum = 0.9, learn_rate = 0.6, epochs = 200,
             batch_size = 100, seed = 1),
    class = "fwdprop_warning", regexp = "diverged in epoch 4 .*returning the weights of epoch 1\\."
  )
  h <- f$history
  expect_identical(f$training$stopped, "diverged")
  expect_identical(nrow(h), 4L)
  expect_identical(f$training$best_epoch, which.min(h$loss))
  expect_gt(h$loss[4], 10 * backward(netr, xr, yr)$loss)
  expect_lte(max(h$loss[1:3]), 10 * backward(netr, xr, yr)$loss)
  # a sane learning rate is not judged diverged
  f <- fit(net, x, iris$Species, epochs = 30, learn_rate = 0.01, seed = 1)
  expect_identical(f$training$stopped, "completed")
})

test_that("fit(decay = d) minimises nnet's objective: a BFGS fit ends where nnet's does from the same start", {
  skip_if_not_installed("nnet")
  x <- scale(as.matrix(mtcars[, c("wt", "hp", "disp")]))
  y <- as.vector(scale(mtcars$mpg))
  d <- 0.05
  set.seed(1)
  f0 <- nnet::nnet(x, y, size = 3, linout = TRUE, decay = d, maxit = 0, trace = FALSE)
  f1 <- nnet::nnet(x, y, size = 3, linout = TRUE, decay = d, maxit = 1000, trace = FALSE, Wts = f0$wts)
  fb <- fit(as_network(f0), x, y, optimizer = "bfgs", decay = d, maxit = 1000)
  expect_identical(fb$training$stopped, "converged")
  expect_equal(backward(fb, x, y, decay = d)$loss * 32, f1$value, tolerance = 1e-6)
  expect_equal(predict(fb, x), unname(predict(f1, x)), tolerance = 1e-3, ignore_attr = TRUE)
  # softmax (nnet's summed cross-entropy over the rows): the formula fit
  f3 <- nnet::nnet(Species ~ ., data = iris, size = 2, decay = d, maxit = 0, trace = FALSE)
  f4 <- nnet::nnet(Species ~ ., data = iris, size = 2, decay = d, maxit = 1000, trace = FALSE, Wts = f3$wts)
  fb3 <- fit(as_network(f3), iris, iris$Species, optimizer = "bfgs", decay = d, maxit = 1000)
  expect_equal(backward(fb3, iris, iris$Species, decay = d)$loss * 150, f4$value, tolerance = 1e-6)
  # the history reports the data loss, without the decay (its first row:
  # the starting point)
  expect_equal(fb$history$loss[1], backward(as_network(f0), x, y)$loss, tolerance = 1e-14)
  expect_identical(fb$training$settings$decay, d)
  expect_identical(fb$training$settings$weight_decay, 0)
  expect_error(fit(as_network(f0), x, y, decay = d, weight_decay = 0.1), class = "fwdprop_error",
               regexp = "not both")
})

test_that("one epoch of full-batch sgd with decay is one gradient step of backward(decay = )", {
  set.seed(2)
  net <- network(c(3, 5, 2), activation = "gelu", output = "identity", bias = TRUE, init = "normal")
  net$biases <- lapply(net$biases, function(b) b + 0.5)
  x <- matrix(rnorm(30), 10)
  y <- matrix(rnorm(20), 10)
  g <- backward(net, x, y, decay = 0.7)
  f <- fit(net, x, y, optimizer = "sgd", epochs = 1, batch_size = 10, learn_rate = 0.2, decay = 0.7, seed = 3)
  for (l in 1:2) {
    expect_equal(f$weights[[l]], net$weights[[l]] - 0.2 * g$weights[[l]], tolerance = 1e-13)
    # the biases are decayed too
    expect_equal(f$biases[[l]], net$biases[[l]] - 0.2 * g$biases[[l]], tolerance = 1e-13)
  }
  g0 <- backward(net, x, y)
  expect_false(isTRUE(all.equal(g$biases, g0$biases)))
})

test_that("bfgs holds out the validation rows, stops after `patience` iterations and returns the best", {
  set.seed(6)
  n <- 120
  x <- matrix(rnorm(n * 5), n)
  y <- x[, 1] - x[, 2] + rnorm(n, sd = 2) # noisy: a wide network overfits
  net <- network(c(5, 32, 1), activation = "tanh", output = "identity", bias = TRUE,
                 init = "xavier", seed = 1)
  f <- fit(net, x, y, optimizer = "bfgs", maxit = 500, validation = 0.25, patience = 8, seed = 2)
  h <- f$history
  expect_identical(f$training$stopped, "early_stopping")
  expect_lt(nrow(h), 500L)
  expect_true(all(is.finite(h$val_loss)))
  best <- which.min(h$val_loss)
  expect_identical(f$training$best_epoch, best)
  expect_identical(nrow(h), best + 8L)
  # the validation loss rose: the last is above the best
  expect_gt(h$val_loss[nrow(h)], h$val_loss[best])
  split <- fwdprop:::validation_split_impl(n, 30, f$training$seed)
  val <- backward(f, x[split$validation, ], y[split$validation])$loss
  expect_equal(val, min(h$val_loss), tolerance = 1e-12)
  # and the training loss is that of the training rows at the best iteration
  expect_equal(backward(f, x[split$train, ], y[split$train])$loss, h$loss[best], tolerance = 1e-10)
  # patience = NULL: runs on, but still returns the best iteration's weights
  g <- fit(net, x, y, optimizer = "bfgs", maxit = 60, validation = 0.25, patience = NULL, seed = 2)
  expect_true(g$training$stopped %in% c("maxit", "converged"))
  gb <- which.min(g$history$val_loss)
  expect_identical(g$training$best_epoch, gb)
  expect_equal(backward(g, x[split$validation, ], y[split$validation])$loss, min(g$history$val_loss),
               tolerance = 1e-12)
})
