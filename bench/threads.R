# Speed that grows with the cores: the workloads of bench/bench.R and
# bench/train.R at 1, 2, 4, 8 and 16 threads (those the machine has cores
# for), fwdprop beside PyTorch (float64, the same number of threads) where
# it is installed, in one run. Writes a table of times and speed-ups over
# one thread.
#   FWDPROP_PYTHON=/tmp/torchenv/bin/python Rscript bench/threads.R [OUT.md]
#   FWDPROP_BENCH_THREADS=1,2,4 Rscript bench/threads.R   # other thread counts
# Workloads (each REPS runs after a warm-up, FWDPROP_BENCH_REPS, default 3):
#   W2  forward(), X 100,000 x 100 -> 256 -> 128 -> 1 (sigmoid)
#   W3  forward(), X 2000 x 2000 -> 2000 (one product and sigmoid)
#   G2  backward(): the full-batch gradient of W2's network (bce)
#   E2  one epoch of fit(): minibatch SGD, batch 128, 782 steps
# PyTorch runs G2 and E2 (bench/torch_train.py with the thread count).
# Results of one configuration are the same bits whatever the thread count
# (checked here for W2 and G2).
suppressPackageStartupMessages(library(fwdprop))
args <- commandArgs(trailingOnly = TRUE)
out_file <- if (length(args)) args[[1]] else ""
reps <- as.integer(Sys.getenv("FWDPROP_BENCH_REPS", "3"))
cores <- parallel::detectCores()
want <- Sys.getenv("FWDPROP_BENCH_THREADS", "1,2,4,8,16")
counts <- as.integer(strsplit(want, ",")[[1]])
counts <- counts[counts <= cores]
py <- Sys.getenv("FWDPROP_PYTHON")
has_torch <- nzchar(py) && identical(suppressWarnings(system2(py, c("-c", shQuote("import torch, numpy")),
                                                             stdout = FALSE, stderr = FALSE)), 0L)

set.seed(1)
n <- 100000L
x <- matrix(rnorm(n * 100), n)
y <- as.numeric(x[, 1] + x[, 2] > 0)
net <- network(c(100, 256, 128, 1), activation = "sigmoid", bias = TRUE, init = "xavier", seed = 10)
x3 <- matrix(rnorm(2000 * 2000), 2000)
net3 <- network(c(2000, 2000), activation = "sigmoid", seed = 3)
dir <- tempfile("threads-bench")
dir.create(dir)
on.exit(unlink(dir, recursive = TRUE), add = TRUE)
writeBin(as.vector(x), file.path(dir, "x.bin"))
writeBin(y, file.path(dir, "y.bin"))
for (l in 1:3) writeBin(as.vector(net$weights[[l]]), file.path(dir, sprintf("w%d.bin", l)))

timed <- function(f) {
  f() # warm-up
  vapply(seq_len(reps), function(i) system.time(f())[["elapsed"]], 0)
}
e2_times <- function() {
  f <- fit(net, x, y, optimizer = "sgd", learn_rate = 0.01, batch_size = 128, epochs = reps + 1L,
           seed = 1, verbose = FALSE)
  diff(c(0, f$history$time))[-1] # the first epoch warms up
}
torch_times <- function(t) {
  if (!has_torch) return(list(G2 = NA_real_, E2 = NA_real_))
  out <- system2(py, c(shQuote(file.path("bench", "torch_train.py")), shQuote(dir), reps, t), stdout = TRUE)
  get <- function(key) as.numeric(strsplit(grep(paste0("^", key, " "), out, value = TRUE), " ")[[1]][-1])
  list(G2 = get("G2"), E2 = get("E2"))
}

res <- list()
ref <- NULL
for (t in counts) {
  old <- fwdprop_threads(t)
  w2 <- timed(function() forward(net, x, threads = t))
  w3 <- timed(function() forward(net3, x3, threads = t))
  g2 <- timed(function() backward(net, x, y, threads = t))
  e2 <- e2_times()
  fwdprop_threads(old)
  # the same bits on every thread count
  bits <- list(forward(net, x[1:5000, ], threads = t), backward(net, x[1:5000, ], y[1:5000], threads = t)[c("weights", "biases")])
  if (is.null(ref)) ref <- bits
  if (!identical(bits, ref)) stop(sprintf("results on %d threads differ from those on %d", t, counts[[1]]))
  tr <- torch_times(t)
  res[[as.character(t)]] <- list(W2 = w2, W3 = w3, G2 = g2, E2 = e2, torch_G2 = tr$G2, torch_E2 = tr$E2)
  cat(sprintf("%2d threads: W2 %.0f ms, W3 %.0f ms, G2 %.0f ms, E2 %.0f ms; PyTorch G2 %.0f ms, E2 %.0f ms\n",
              t, 1e3 * median(w2), 1e3 * median(w3), 1e3 * median(g2), 1e3 * median(e2),
              1e3 * median(tr$G2), 1e3 * median(tr$E2)))
}

cell <- function(v, one) {
  if (all(is.na(v))) return("–")
  sprintf("%.0f (%.0f) ms, %.2fx", 1e3 * median(v), 1e3 * max(v), median(one) / median(v))
}
lines <- c(
  sprintf("Threads benchmark (%s; %d cores: %s; fwdprop %s, PyTorch %s, float64, %d runs each).",
          format(Sys.time(), "%Y-%m-%d %H:%M UTC", tz = "UTC"), cores,
          trimws(sub(".*: ", "", grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)[1])),
          packageVersion("fwdprop"),
          if (has_torch) system2(py, c("-c", shQuote("import torch; print(torch.__version__)")), stdout = TRUE) else "not run",
          reps),
  "",
  "Median (slowest) time, and the speed-up of the median over one thread.",
  "",
  "| threads | W2 forward | W3 2000 x 2000 | G2 gradient | E2 epoch | PyTorch G2 | PyTorch E2 |",
  "|---|---|---|---|---|---|---|"
)
one <- res[[1]]
for (t in names(res)) {
  r <- res[[t]]
  lines <- c(lines, sprintf("| %s | %s | %s | %s | %s | %s | %s |", t,
                            cell(r$W2, one$W2), cell(r$W3, one$W3), cell(r$G2, one$G2), cell(r$E2, one$E2),
                            cell(r$torch_G2, one$torch_G2), cell(r$torch_E2, one$torch_E2)))
}
lines <- c(lines, "", sprintf("Results identical on %s threads (W2's forward pass and G2's gradients on 5,000 rows).",
                              paste(counts, collapse = ", ")))
writeLines(lines)
if (nzchar(out_file)) writeLines(lines, out_file)
