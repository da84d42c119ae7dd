# Scoring a large data set with a network trained by nnet: nnet's own
# predict() against fwdprop's predict() of the converted network.
#   Rscript bench/import.R
# An nnet classifier 20 -> 16 -> 1 (logistic hidden layer and output,
# entropy fit) is trained on 5,000 rows, then both score the same
# 1,000,000 x 20 matrix: predict.nnet(fit, x) and predict(as_network(fit),
# x), each ITERATIONS times (bench::mark, alternating), with their median
# and max. The two are checked against each other first: the same classes
# on every row where nnet's outputs are not a tie, and the outputs to
# 1e-12 relative where nnet's logistic is not clamped (|z| <= 15).
#   FWDPROP_BENCH_ITERATIONS=10 (default) sets the iterations.
suppressPackageStartupMessages({
  library(fwdprop)
  library(bench)
})
iterations <- as.integer(Sys.getenv("FWDPROP_BENCH_ITERATIONS", "10"))

set.seed(20261130)
n <- 1e6
p <- 20
x <- matrix(rnorm(n * p), n, p)
beta <- rnorm(p)
y <- as.numeric(x %*% beta + rnorm(n, sd = 4) > 0)
train <- seq_len(5000)
fit <- nnet::nnet(x[train, ], y[train], size = 16, entropy = TRUE, decay = 0.1,
                  maxit = 300, trace = FALSE)
net <- as_network(fit)
cat(sprintf("network %s: %d weights, converted in %s\n",
            paste(net$sizes, collapse = "-"), length(fit$wts),
            format(bench::mark(as_network(fit), iterations = 20)$median)))

# agreement
out_nnet <- predict(fit, x)
out_fw <- predict(net, x)
tr <- forward(net, x, trace = TRUE)
unclamped <- rowSums(abs(tr$z[[1]]) > 15) == 0 & abs(tr$z[[2]][, 1]) <= 15
rel <- max(abs(out_fw[unclamped, ] - out_nnet[unclamped, ]) / abs(out_nnet[unclamped, ]))
decided <- abs(out_nnet[, 1] - 0.5) > 1e-9
same_class <- identical(as.character(predict(net, x, type = "class"))[decided],
                        predict(fit, x, type = "class")[decided])
cat(sprintf("rows where nnet's logistic is not clamped: %d of %d; largest relative difference there: %.2g\n",
            sum(unclamped), n, rel))
cat(sprintf("largest difference anywhere: %.2g; same classes: %s\n",
            max(abs(out_fw - out_nnet)), same_class))
stopifnot(rel < 1e-12, same_class)
rm(out_nnet, out_fw, tr)
invisible(gc())

m <- bench::mark(
  predict.nnet = predict(fit, x),
  fwdprop = predict(net, x),
  iterations = iterations, check = FALSE, filter_gc = FALSE
)
times <- lapply(m$time, as.numeric)
res <- data.frame(
  expression = c("predict(fit, x) (nnet)", "predict(as_network(fit), x) (fwdprop)"),
  median = format(bench::as_bench_time(vapply(times, stats::median, numeric(1)))),
  max = format(bench::as_bench_time(vapply(times, max, numeric(1)))),
  mem_alloc = format(m$mem_alloc)
)
cpu <- if (file.exists("/proc/cpuinfo")) {
  sub("^model name\\s*:\\s*", "", grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)[1])
} else {
  R.version$platform
}
load <- if (file.exists("/proc/loadavg")) {
  paste(strsplit(readLines("/proc/loadavg"), " ")[[1]][1:3], collapse = " ")
} else {
  "unknown"
}
cat(sprintf("\n%d iterations each; machine: %s, %d cores, R %s; fwdprop threads: %d; load average %s; %s\n\n",
            iterations, cpu, parallel::detectCores(), getRversion(), fwdprop_threads(), load,
            format(Sys.time(), "%Y-%m-%d %H:%M %Z")))
cat("| expression | median | max | memory allocated |\n|---|---|---|---|\n")
cat(sprintf("| `%s` | %s | %s | %s |\n", res$expression, res$median, res$max, res$mem_alloc), sep = "")
cat(sprintf("\nratio of medians: %.3f\n", as.numeric(m$median[[2]]) / as.numeric(m$median[[1]])))
