# Benchmarks of fwdprop against base R, measured in the same process.
#   Rscript bench/bench.R [OUTPUT.md]
# Workloads (double precision, weights runif(), sigmoid on every layer):
#   W0 lecture       X 3x2,          2 -> 3 -> 1          (per-call overhead)
#   W1 tabular       X 10000x20,     20 -> 64 -> 1
#   W2 batch scoring X 100000x100,   100 -> 256 -> 128 -> 1
#   W3 compute-bound X 2000x2000,    2000 -> 2000
#   S  sigmoid() of a length-1e7 vector
# and, without targets: mm() and sigmoid() at the lecture's sizes (M0, A0)
# and mm() of two 1000x1000 matrices (M1).
# Every pair of results is checked with all.equal() by bench::mark. Ratios
# are fwdprop's median over base R's median; the targets are issue #5's.
suppressPackageStartupMessages({
  library(fwdprop)
  library(bench)
})
args <- commandArgs(trailingOnly = TRUE)
out_file <- if (length(args)) args[[1]] else file.path("bench", "results.md")
threads <- fwdprop_threads()

set.seed(1)
workload <- function(n, sizes) {
  X <- matrix(runif(n * sizes[1]), n)
  W <- lapply(seq_len(length(sizes) - 1L), function(l) matrix(runif(sizes[l] * sizes[l + 1L]), sizes[l]))
  # scale so the sigmoids do not all saturate (values stay informative)
  W <- lapply(W, function(w) w / nrow(w))
  list(X = X, W = W, net = network(weights = W), sizes = sizes, n = n)
}
base_chain <- function(X, W) {
  a <- X
  for (w in W) a <- plogis(a %*% w)
  a
}
flops <- function(w) 2 * w$n * sum(head(w$sizes, -1) * tail(w$sizes, -1))

cases <- list(
  W0 = list(w = workload(3, c(2, 3, 1)), target = 0.5, min_time = 1, iters = 1000),
  W1 = list(w = workload(10000, c(20, 64, 1)), target = 0.12, min_time = 2, iters = 20),
  W2 = list(w = workload(100000, c(100, 256, 128, 1)), target = 0.045, min_time = 0, iters = 3),
  W3 = list(w = workload(2000, c(2000, 2000)), target = 0.04, min_time = 0, iters = 3)
)

rows <- list()
for (name in names(cases)) {
  cs <- cases[[name]]
  w <- cs$w
  X <- w$X
  W <- w$W
  net <- w$net
  m <- bench::mark(
    base_R = base_chain(X, W),
    fwdprop = forward(net, X),
    min_iterations = cs$iters, min_time = cs$min_time, check = TRUE, filter_gc = FALSE
  )
  base_t <- as.numeric(m$median[1])
  fw_t <- as.numeric(m$median[2])
  rows[[name]] <- data.frame(
    workload = name, base_R = format(m$median[1]), fwdprop = format(m$median[2]),
    ratio = fw_t / base_t, target = cs$target,
    met = if (fw_t / base_t <= cs$target) "yes" else "NO",
    GFLOPs = flops(w) / fw_t / 1e9,
    mem_base = format(m$mem_alloc[1]), mem_fwdprop = format(m$mem_alloc[2])
  )
  message(sprintf("%s: base R %s, fwdprop %s, ratio %.3f (target %.3f)",
                  name, format(m$median[1]), format(m$median[2]), fw_t / base_t, cs$target))
}

x <- runif(1e7, -20, 20)
m <- bench::mark(base_R = plogis(x), fwdprop = sigmoid(x), min_iterations = 10, check = TRUE)
rows$S <- data.frame(
  workload = "S", base_R = format(m$median[1]), fwdprop = format(m$median[2]),
  ratio = as.numeric(m$median[2]) / as.numeric(m$median[1]), target = 0.33,
  met = if (as.numeric(m$median[2]) / as.numeric(m$median[1]) <= 0.33) "yes" else "NO",
  GFLOPs = NA_real_, mem_base = format(m$mem_alloc[1]), mem_fwdprop = format(m$mem_alloc[2])
)
message(sprintf("S: base R %s, fwdprop %s", format(m$median[1]), format(m$median[2])))

# The building blocks at the lecture's size and one large product (no
# targets in issue #5; shown so that regressions in per-call cost show up).
X0 <- cases$W0$w$X
b0 <- cases$W0$w$W[[1]]
z0 <- X0 %*% b0
A <- matrix(runif(1e6), 1000)
B <- matrix(runif(1e6), 1000)
extra <- list(
  M0 = list(label = "M0 mm() 3x2 by 2x3", base = quote(X0 %*% b0), fw = quote(mm(X0, b0)), iters = 10000, flops = 2 * 18),
  A0 = list(label = "A0 sigmoid() of 3x3", base = quote(plogis(z0)), fw = quote(sigmoid(z0)), iters = 10000, flops = NA),
  M1 = list(label = "M1 mm() 1000x1000 by 1000x1000", base = quote(A %*% B), fw = quote(mm(A, B)), iters = 3, flops = 2e9)
)
for (name in names(extra)) {
  e <- extra[[name]]
  m <- bench::mark(base_R = eval(e$base), fwdprop = eval(e$fw), min_iterations = e$iters, check = TRUE)
  r <- as.numeric(m$median[2]) / as.numeric(m$median[1])
  rows[[name]] <- data.frame(
    workload = e$label, base_R = format(m$median[1]), fwdprop = format(m$median[2]),
    ratio = r, target = NA_real_, met = "", GFLOPs = e$flops / as.numeric(m$median[2]) / 1e9,
    mem_base = format(m$mem_alloc[1]), mem_fwdprop = format(m$mem_alloc[2])
  )
  message(sprintf("%s: base R %s, fwdprop %s, ratio %.3f", name, format(m$median[1]), format(m$median[2]), r))
}

tab <- do.call(rbind, rows)
fmt <- function(v, d) ifelse(is.na(v), "", formatC(v, format = "f", digits = d))
tab$GFLOPs[tab$GFLOPs < 0.05] <- NA
md <- c(
  sprintf("Machine: %s, %d cores, R %s, BLAS %s; fwdprop threads: %d; %s.",
          sub("^model name\\s*:\\s*", "", grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)[1]),
          parallel::detectCores(), getRversion(), basename(extSoftVersion()[["BLAS"]]), threads,
          format(Sys.time(), "%Y-%m-%d")),
  "",
  "| workload | base R median | fwdprop median | ratio | target | met | fwdprop GFLOP/s | base R alloc | fwdprop alloc |",
  "|---|---|---|---|---|---|---|---|---|",
  sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |", tab$workload, tab$base_R, tab$fwdprop,
          fmt(tab$ratio, 3), fmt(tab$target, 3), tab$met, fmt(tab$GFLOPs, 1), tab$mem_base, tab$mem_fwdprop)
)
writeLines(md, out_file)
cat(md, sep = "\n")
