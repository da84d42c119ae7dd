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
# Every pair of results is checked with all.equal() by bench::mark. The
# machine's speed drifts (a shared VM): each workload is measured in ROUNDS
# rounds, each timing base R and then fwdprop, and the ratio reported is the
# median over rounds of fwdprop's median over base R's median in that round
# (so that a slow spell hits both sides of a ratio); the times shown are
# medians over rounds. The targets are issue #5's.
#   FWDPROP_BENCH_ROUNDS=5 (default) sets the number of rounds;
#   FWDPROP_BENCH_ONLY=W2,W3 runs only the workloads named (no table file).
suppressPackageStartupMessages({
  library(fwdprop)
  library(bench)
})
args <- commandArgs(trailingOnly = TRUE)
out_file <- if (length(args)) args[[1]] else file.path("bench", "results.md")
threads <- fwdprop_threads()
rounds <- as.integer(Sys.getenv("FWDPROP_BENCH_ROUNDS", "5"))
only <- strsplit(Sys.getenv("FWDPROP_BENCH_ONLY"), ",", fixed = TRUE)[[1]]
wanted <- function(name) !length(only) || name %in% only

# bench::mark of base R against fwdprop in `rounds` rounds: medians of the
# per-round medians, the median per-round ratio, memory of the first round
paired <- function(base, fw, iters, min_time, env = parent.frame()) {
  res <- lapply(seq_len(rounds), function(r) {
    m <- eval(bquote(bench::mark(
      base_R = .(base), fwdprop = .(fw),
      min_iterations = .(iters), min_time = .(min_time), check = .(r == 1L), filter_gc = FALSE
    )), env)
    list(t = as.numeric(m$median), mem = m$mem_alloc)
  })
  t <- vapply(res, `[[`, numeric(2), "t")
  list(
    base = bench::as_bench_time(median(t[1, ])), fw = bench::as_bench_time(median(t[2, ])),
    ratio = median(t[2, ] / t[1, ]), mem = res[[1]]$mem
  )
}

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
  # iterations and minimum time per round
  W0 = list(w = workload(3, c(2, 3, 1)), target = 0.5, min_time = 0.3, iters = 1000),
  W1 = list(w = workload(10000, c(20, 64, 1)), target = 0.12, min_time = 0.5, iters = 20),
  W2 = list(w = workload(100000, c(100, 256, 128, 1)), target = 0.045, min_time = 0, iters = 1),
  W3 = list(w = workload(2000, c(2000, 2000)), target = 0.04, min_time = 0, iters = 1)
)

rows <- list()
for (name in names(cases)) {
  if (!wanted(name)) next
  cs <- cases[[name]]
  w <- cs$w
  X <- w$X
  W <- w$W
  net <- w$net
  m <- paired(quote(base_chain(X, W)), quote(forward(net, X)), cs$iters, cs$min_time)
  rows[[name]] <- data.frame(
    workload = name, base_R = format(m$base), fwdprop = format(m$fw),
    ratio = m$ratio, target = cs$target,
    met = if (m$ratio <= cs$target) "yes" else "NO",
    GFLOPs = flops(w) / as.numeric(m$fw) / 1e9,
    mem_base = format(m$mem[1]), mem_fwdprop = format(m$mem[2])
  )
  message(sprintf("%s: base R %s, fwdprop %s, ratio %.3f (target %.3f)",
                  name, format(m$base), format(m$fw), m$ratio, cs$target))
}

if (wanted("S")) {
  x <- runif(1e7, -20, 20)
  m <- paired(quote(plogis(x)), quote(sigmoid(x)), 4, 0)
  rows$S <- data.frame(
    workload = "S", base_R = format(m$base), fwdprop = format(m$fw),
    ratio = m$ratio, target = 0.33, met = if (m$ratio <= 0.33) "yes" else "NO",
    GFLOPs = NA_real_, mem_base = format(m$mem[1]), mem_fwdprop = format(m$mem[2])
  )
  message(sprintf("S: base R %s, fwdprop %s, ratio %.3f", format(m$base), format(m$fw), m$ratio))
}

# The building blocks at the lecture's size and one large product (no
# targets in issue #5; shown so that regressions in per-call cost show up).
X0 <- cases$W0$w$X
b0 <- cases$W0$w$W[[1]]
z0 <- X0 %*% b0
A <- matrix(runif(1e6), 1000)
B <- matrix(runif(1e6), 1000)
extra <- list(
  M0 = list(label = "M0 mm() 3x2 by 2x3", base = quote(X0 %*% b0), fw = quote(mm(X0, b0)), iters = 2000, flops = 2 * 18),
  A0 = list(label = "A0 sigmoid() of 3x3", base = quote(plogis(z0)), fw = quote(sigmoid(z0)), iters = 2000, flops = NA),
  M1 = list(label = "M1 mm() 1000x1000 by 1000x1000", base = quote(A %*% B), fw = quote(mm(A, B)), iters = 1, flops = 2e9)
)
for (name in names(extra)) {
  if (!wanted(name)) next
  e <- extra[[name]]
  m <- paired(e$base, e$fw, e$iters, 0)
  rows[[name]] <- data.frame(
    workload = e$label, base_R = format(m$base), fwdprop = format(m$fw),
    ratio = m$ratio, target = NA_real_, met = "", GFLOPs = e$flops / as.numeric(m$fw) / 1e9,
    mem_base = format(m$mem[1]), mem_fwdprop = format(m$mem[2])
  )
  message(sprintf("%s: base R %s, fwdprop %s, ratio %.3f", name, format(m$base), format(m$fw), m$ratio))
}

if (length(only)) quit(save = "no")
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
