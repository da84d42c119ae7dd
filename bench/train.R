# Training benchmarks: fwdprop against PyTorch (float64, 2 threads) and
# nnet, measured side by side in one run.
#   Rscript bench/train.R [OUTPUT.md]
# Workloads:
#   G2  the full-batch gradient of the mean binary cross-entropy of W2's
#       network (X 100,000 x 100 -> 256 -> 128 -> 1, sigmoid layers with
#       biases; 30 GFLOP): backward() against PyTorch's forward, loss and
#       backward
#   E2  one epoch of minibatch SGD (batch 128, 782 steps) on the same data
#       and network: the time of one epoch of fit() (from its history, so
#       the one-off copy of the data that fit() makes is left out; it is
#       reported separately) against PyTorch's usual loop (randperm, x[idx],
#       forward, loss, backward, step)
#   F0  iris (scaled), 4 -> 5 -> 3 softmax, the full-batch quasi-Newton
#       optimiser for at most 200 iterations: fit(optimizer = "bfgs") against
#       nnet(size = 5, maxit = 200); final training loss of both over 20
#       seeds
#   M2  peak extra memory of G2 (VmHWM rise over the resident memory before
#       the call), fwdprop and PyTorch
# Targets (fwdprop at most): G2 0.55 x PyTorch, E2 0.7 x PyTorch, F0 2 x
# nnet with a final loss no higher than nnet's, M2 50 MB.
# PyTorch: FWDPROP_PYTHON names a python with torch and numpy (e.g. a
# throwaway virtual environment: python3 -m venv /tmp/torchenv &&
# /tmp/torchenv/bin/pip install torch numpy); without it the PyTorch
# columns are left empty. The machine is a shared VM whose speed drifts:
# each workload is measured in ROUNDS rounds (FWDPROP_BENCH_ROUNDS, default
# 3), PyTorch then fwdprop in each, and the ratio is the median over rounds
# of the per-round ratio of medians. Medians and the slowest run are shown.
suppressPackageStartupMessages({
  library(fwdprop)
  library(bench)
})
args <- commandArgs(trailingOnly = TRUE)
out_file <- if (length(args)) args[[1]] else file.path("bench", "train-results.md")
rounds <- as.integer(Sys.getenv("FWDPROP_BENCH_ROUNDS", "3"))
reps <- 5L
py <- Sys.getenv("FWDPROP_PYTHON")
has_torch <- nzchar(py) && identical(suppressWarnings(system2(py, c("-c", shQuote("import torch, numpy")),
                                                             stdout = FALSE, stderr = FALSE)), 0L)
threads <- fwdprop_threads()
cat(sprintf("fwdprop threads: %d; PyTorch: %s\n", threads, if (has_torch) py else "not available"))

status_kb <- function(field) {
  line <- grep(paste0("^", field, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", line))
}
peak_rise_mb <- function(expr) {
  invisible(gc(full = TRUE))
  before <- status_kb("VmRSS")
  cat("5", file = "/proc/self/clear_refs") # resets VmHWM (Linux)
  force(expr)
  (status_kb("VmHWM") - before) / 1024
}

# W2's data and network
set.seed(1)
n <- 100000L
sizes <- c(100, 256, 128, 1)
x <- matrix(rnorm(n * 100), n)
y <- as.numeric(x[, 1] + x[, 2] > 0)
net <- network(sizes, activation = "sigmoid", bias = TRUE, init = "xavier", seed = 10)
dir <- tempfile("train-bench")
dir.create(dir)
on.exit(unlink(dir, recursive = TRUE), add = TRUE)
writeBin(as.vector(x), file.path(dir, "x.bin"))
writeBin(y, file.path(dir, "y.bin"))
for (l in 1:3) writeBin(as.vector(net$weights[[l]]), file.path(dir, sprintf("w%d.bin", l)))

invisible(backward(net, x[1:1000, ], y[1:1000])) # warm-up
m2 <- peak_rise_mb(backward(net, x, y))

torch_run <- function() {
  if (!has_torch) return(NULL)
  out <- system2(py, c(shQuote(file.path("bench", "torch_train.py")), shQuote(dir), reps), stdout = TRUE)
  get <- function(key) as.numeric(strsplit(grep(paste0("^", key, " "), out, value = TRUE), " ")[[1]][-1])
  list(G2 = get("G2"), E2 = get("E2"), loss = get("G2_loss"), peak = get("G2_peak_mb"))
}
fw_g2 <- function() {
  as.numeric(bench::mark(backward(net, x, y), iterations = reps, check = FALSE, filter_gc = FALSE)$time[[1]])
}
fw_e2 <- function() {
  f <- fit(net, x, y, optimizer = "sgd", learn_rate = 0.01, batch_size = 128, epochs = reps + 1L,
           seed = 1, verbose = FALSE)
  t <- diff(c(0, f$history$time))
  list(epochs = t[-1], first = t[1]) # the first epoch includes no setup but warms up
}
rows <- list()
for (r in seq_len(rounds)) {
  tr <- torch_run()
  g <- fw_g2()
  e <- fw_e2()
  rows[[r]] <- list(torch = tr, g2 = g, e2 = e$epochs)
  cat(sprintf("round %d: G2 fwdprop %.0f ms (max %.0f)%s; E2 fwdprop %.0f ms (max %.0f)%s\n", r,
              1e3 * median(g), 1e3 * max(g),
              if (is.null(tr)) "" else sprintf(", PyTorch %.0f ms (max %.0f)", 1e3 * median(tr$G2), 1e3 * max(tr$G2)),
              1e3 * median(e$epochs), 1e3 * max(e$epochs),
              if (is.null(tr)) "" else sprintf(", PyTorch %.0f ms (max %.0f)", 1e3 * median(tr$E2), 1e3 * max(tr$E2))))
}
med <- function(key, side) median(vapply(rows, function(r) median(if (side == "fw") r[[key]] else r$torch[[toupper(key)]]), 0))
worst <- function(key, side) max(vapply(rows, function(r) max(if (side == "fw") r[[key]] else r$torch[[toupper(key)]]), 0))
ratio <- function(key) median(vapply(rows, function(r) median(r[[key]]) / median(r$torch[[toupper(key)]]), 0))
copy_time <- system.time(fit(net, x, y, optimizer = "sgd", batch_size = 128, epochs = 1, seed = 1))[["elapsed"]]

# F0: iris against nnet
xi <- scale(as.matrix(iris[, 1:4]))
yi <- iris$Species
Yi <- nnet::class.ind(yi)
neti <- network(c(4, 5, 3), output = "softmax", bias = TRUE, init = "xavier", seed = 1)
f0_times <- lapply(seq_len(rounds), function(r) {
  m <- bench::mark(
    nnet = nnet::nnet(xi, Yi, size = 5, softmax = TRUE, maxit = 200, trace = FALSE),
    fwdprop = fit(neti, xi, yi, optimizer = "bfgs", maxit = 200),
    iterations = 50, check = FALSE
  )
  list(nnet = as.numeric(m$time[[1]]), fw = as.numeric(m$time[[2]]))
})
f0_losses <- t(vapply(1:20, function(s) {
  f <- fit(network(c(4, 5, 3), output = "softmax", bias = TRUE, init = "xavier", seed = s), xi, yi,
           optimizer = "bfgs", maxit = 200)
  set.seed(s)
  nn <- nnet::nnet(xi, Yi, size = 5, softmax = TRUE, maxit = 200, trace = FALSE)
  c(fwdprop = backward(f, xi, yi)$loss, nnet = nn$value / 150) # nnet's value is the sum
}, numeric(2)))
f0_med <- function(side) median(vapply(f0_times, function(r) median(r[[side]]), 0))
f0_max <- function(side) max(vapply(f0_times, function(r) max(r[[side]]), 0))
f0_ratio <- median(vapply(f0_times, function(r) median(r$fw) / median(r$nnet), 0))

fmt_ms <- function(s) if (is.na(s)) "–" else sprintf("%.0f ms", 1e3 * s)
fmt_ms2 <- function(s) sprintf("%.2f ms", 1e3 * s)
tv <- function(key, f) if (has_torch) f(key, "torch") else NA
lines <- c(
  sprintf("Training benchmarks (%s; %d fwdprop threads, PyTorch %s, float64, %d rounds of %d runs).",
          format(Sys.time(), "%Y-%m-%d %H:%M"), threads,
          if (has_torch) "2 threads" else "not run", rounds, reps),
  "",
  "| workload | reference | median (slowest) | fwdprop median (slowest) | ratio | target |",
  "|---|---|---|---|---|---|",
  sprintf("| G2 full-batch gradient, W2 | PyTorch | %s (%s) | %s (%s) | %s | 0.55 |",
          fmt_ms(tv("g2", med)), fmt_ms(tv("g2", worst)), fmt_ms(med("g2", "fw")), fmt_ms(worst("g2", "fw")),
          if (has_torch) sprintf("%.2f", ratio("g2")) else "–"),
  sprintf("| E2 one SGD epoch, batch 128 | PyTorch | %s (%s) | %s (%s) | %s | 0.7 |",
          fmt_ms(tv("e2", med)), fmt_ms(tv("e2", worst)), fmt_ms(med("e2", "fw")), fmt_ms(worst("e2", "fw")),
          if (has_torch) sprintf("%.2f", ratio("e2")) else "–"),
  sprintf("| F0 iris 4-5-3, BFGS <= 200 iterations | nnet | %s (%s) | %s (%s) | %.2f | 2 |",
          fmt_ms2(f0_med("nnet")), fmt_ms2(f0_max("nnet")), fmt_ms2(f0_med("fw")), fmt_ms2(f0_max("fw")), f0_ratio),
  sprintf("| M2 peak extra memory of G2 | PyTorch | %s | %.1f MB | | 50 MB |",
          if (has_torch) sprintf("%.0f MB", median(vapply(rows, function(r) r$torch$peak, 0))) else "–", m2),
  "",
  sprintf("F0 final training loss (mean cross-entropy) over 20 seeds: fwdprop median %.4g (mean %.4g), nnet median %.4g (mean %.4g); fwdprop's no higher in %d of 20.",
          median(f0_losses[, 1]), mean(f0_losses[, 1]), median(f0_losses[, 2]), mean(f0_losses[, 2]),
          sum(f0_losses[, 1] <= f0_losses[, 2])),
  sprintf("E2: fit()'s one-off setup (a row-major copy of the 80 MB of inputs, the validation split) is not in the epoch time; a whole fit(epochs = 1) call took %.0f ms.",
          1e3 * copy_time)
)
if (has_torch) {
  lines <- c(lines, sprintf("G2 losses: fwdprop %.15g, PyTorch %.15g.", backward(net, x, y)$loss,
                            rows[[1]]$torch$loss))
}
writeLines(lines)
writeLines(lines, out_file)
cat(sprintf("written to %s\n", out_file))
