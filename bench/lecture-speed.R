# Lectures 6 and 8 with fwdprop and with PyTorch (CPU, float32, 1 thread),
# in one run, rounds interleaved: fwdprop round, PyTorch round, ...
# - lecture 6's gradient-descent step (y <- mean((x - mu)^2); y$backward();
#   the update and zero_grad under with_no_grad), 5 rounds of 10,000 steps:
#   microseconds per step;
# - lecture 8's training epoch (1-10-10-10-1, 100 rows, SGD, MSE, the loss
#   stored every epoch), 5 rounds of 1,000 epochs: milliseconds per epoch;
# - lecture 8's whole 50,000-epoch loop once each: seconds.
# Wall time (the article's user waits for it). Writes a Markdown table.
#   Rscript bench/lecture-speed.R [PYTHON] [OUT.md]
#   FWDPROP_BENCH_DIGEST=file Rscript bench/lecture-speed.R ...
# PYTHON: a Python with torch (default: python3); without it only fwdprop runs.
# FWDPROP_BENCH_DIGEST also writes the bits of every lecture 8 loss, the
# final parameters and lecture 6's mu (hexadecimal doubles), so that two
# versions of fwdprop can be checked to compute the same numbers.
args <- commandArgs(TRUE)
python <- if (length(args) >= 1) args[[1]] else "python3"
out <- if (length(args) >= 2) args[[2]] else ""
suppressPackageStartupMessages(library(fwdprop))
has_torch <- identical(suppressWarnings(system2(python, c("-c", shQuote("import torch")),
                                                stdout = FALSE, stderr = FALSE)), 0L)
wall <- function(expr) {
  t0 <- proc.time()[["elapsed"]]
  expr
  proc.time()[["elapsed"]] - t0
}
py_rounds <- function(script, ...) {
  res <- system2(python, c(script, ...), stdout = TRUE)
  line <- grep("^ROUNDS", res, value = TRUE)
  as.numeric(strsplit(sub("^ROUNDS [^:]*: ", "", line), " ")[[1]])
}

# lecture 6 --------------------------------------------------------------
x6 <- torch_tensor(c(5.1338701, 7.4255710, 7.1588898, 5.7047157, 1.6527355, 0.4430902, 9.6277122))
mu <- torch_tensor(0.5, requires_grad = TRUE)
learning_rate <- 0.1
step <- function() {
  y <- mean((x6 - mu)^2)
  y$backward()
  with_no_grad({
    mu$sub_(learning_rate * mu$grad)
    mu$grad$zero_()
  })
}
for (i in 1:1000) step()

# lecture 8 --------------------------------------------------------------
set.seed(2021)
x <- sort(sample(1:100, 100))
y <- x + 30 * sin(0.1 * x) + 5 * rnorm(100)
torch_manual_seed(2021)
TwoLayerNet <- nn_module(
  classname = "TowLayerNet",
  initialize = function(data_in, hidden, data_out) {
    self$hidden1 <- nn_linear(data_in, hidden)
    self$hidden2 <- nn_linear(hidden, hidden)
    self$hidden3 <- nn_linear(hidden, hidden)
    self$output_layer <- nn_linear(hidden, data_out)
    self$tanh <- nn_tanh()
  },
  forward = function(X) {
    x <- self$tanh(self$hidden1(X))
    x <- self$tanh(self$hidden2(x))
    x <- self$hidden3(x)
    self$output_layer(x)
  }
)
x_tensor <- torch_tensor(scale(x), dtype = torch_float(), requires_grad = TRUE)$view(c(-1, 1))
y_tensor <- torch_tensor(y, dtype = torch_float())$view(c(-1, 1))
my_net <- TwoLayerNet(1, 10, 1)
mse_loss <- nn_mse_loss(reduction = "mean")
optimizer <- optim_sgd(my_net$parameters, lr = 1e-5)
all_losses <- numeric(0)
epochs <- function(n) {
  store_loss <- rep(0, n)
  for (epoch in seq_len(n)) {
    optimizer$zero_grad()
    loss <- mse_loss(my_net(x_tensor), y_tensor)
    loss$backward()
    optimizer$step()
    store_loss[epoch] <- as.numeric(loss$item())
  }
  all_losses <<- c(all_losses, store_loss)
  store_loss
}
invisible(epochs(200))

# interleaved rounds ------------------------------------------------------
l6 <- l8 <- list(fwdprop = numeric(0), PyTorch = numeric(0))
gc_time <- 0
gc_rounds <- numeric(0)
invisible(gc.time(TRUE))
gc_wall <- function(expr) {
  g0 <- gc.time()[[1L]]
  w <- wall(expr)
  gc_rounds <<- c(gc_rounds, gc.time()[[1L]] - g0)
  gc_time <<- gc_time + gc.time()[[1L]] - g0
  w
}
for (r in 1:5) {
  l6$fwdprop[r] <- gc_wall(for (i in 1:10000) step()) / 10000 * 1e6
  if (has_torch) l6$PyTorch[r] <- py_rounds("bench/lecture06-step.py", 1, 10000)
  l8$fwdprop[r] <- gc_wall(epochs(1000)) / 1000 * 1e3
  if (has_torch) l8$PyTorch[r] <- py_rounds("bench/lecture08-loop.py", 1, 1000)
}
full <- list(fwdprop = wall(epochs(50000)),
             PyTorch = if (has_torch) py_rounds("bench/lecture08-loop.py", 1, 50000) * 50 else NA)

digest_file <- Sys.getenv("FWDPROP_BENCH_DIGEST")
if (nzchar(digest_file)) {
  bits <- c(all_losses, mu$item(), unlist(lapply(my_net$parameters, function(p) as.vector(as_array(p)))))
  writeLines(sprintf("%a", bits), digest_file)
}

row <- function(what, v, unit, digits) {
  fmt <- function(z) if (length(z) && all(is.finite(z))) formatC(z, format = "f", digits = digits) else "-"
  ratio <- if (length(v$PyTorch)) median(v$fwdprop) / median(v$PyTorch) else NA
  slow <- if (length(v$PyTorch)) max(v$fwdprop) / median(v$PyTorch) else NA
  sprintf("| %s (%s) | %s / %s | %s / %s | %s | %s |", what, unit,
          fmt(median(v$fwdprop)), fmt(max(v$fwdprop)),
          fmt(median(v$PyTorch)), fmt(max(v$PyTorch)),
          fmt(ratio), fmt(slow))
}
torch_version <- if (has_torch) system2(python, c("-c", shQuote("import torch; print(torch.__version__)")), stdout = TRUE) else "not installed"
lines <- c(
  sprintf("fwdprop %s, R %s; PyTorch %s (CPU, float32, 1 thread); %s; %d cores, load %s",
          packageVersion("fwdprop"), getRversion(), torch_version, format(Sys.time(), "%Y-%m-%d %H:%M UTC", tz = "UTC"),
          parallel::detectCores(), paste(readLines("/proc/loadavg", warn = FALSE), collapse = "")),
  "",
  "| workload | fwdprop median / slowest | PyTorch median / slowest | ratio of medians | fwdprop slowest / PyTorch median |",
  "|---|---|---|---|---|",
  row("lecture 6 step", l6, "us", 1),
  row("lecture 8 epoch", l8, "ms", 3),
  sprintf("| lecture 8, all 50,000 epochs (s) | %.1f | %s | %s | |", full$fwdprop,
          if (has_torch) sprintf("%.1f", full$PyTorch) else "-",
          if (has_torch) sprintf("%.2f", full$fwdprop / full$PyTorch) else "-")
)
rounds <- function(what, v) {
  sprintf("%s rounds, fwdprop: %s; PyTorch: %s", what, paste(format(v$fwdprop, digits = 3), collapse = " "),
          if (length(v$PyTorch)) paste(format(v$PyTorch, digits = 3), collapse = " ") else "-")
}
lines <- c(lines, "", rounds("lecture 6 step (us)", l6), "", rounds("lecture 8 epoch (ms)", l8),
           "", sprintf("R's garbage collector in fwdprop's rounds: %.2f s (lecture 6 and 8 rounds in turn: %s s)",
                       gc_time, paste(format(gc_rounds, digits = 2), collapse = " ")))
writeLines(lines)
if (nzchar(out)) writeLines(lines, out)
