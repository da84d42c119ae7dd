# Peak memory of forward() against base R's chain on W2 (X 100,000 x 100,
# 100 -> 256 -> 128 -> 1) and W3 (X 2000 x 2000, 2000 -> 2000), sigmoid on
# every layer, in this process (Linux: /proc/self/status and clear_refs).
# For each call the peak resident memory (VmHWM) is reset just before it,
# and the rise of the peak over the resident memory before the call is
# reported, with the result's own size. (Memory freed earlier and still
# resident, e.g. the temporaries of building X, can be reused without
# raising the peak: the rise is what the call needed beyond that.)
#   Rscript bench/memory.R
suppressPackageStartupMessages(library(fwdprop))

status_kb <- function(field) {
  line <- grep(paste0("^", field, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", line))
}
reset_peak <- function() {
  # "5" resets VmHWM to the current RSS (Linux >= 4.0)
  ok <- tryCatch({
    cat("5", file = "/proc/self/clear_refs")
    TRUE
  }, error = function(e) FALSE)
  if (!ok) stop("cannot reset the peak (needs Linux's /proc/self/clear_refs)")
}
peak_rise <- function(expr) {
  invisible(gc(full = TRUE))
  before <- status_kb("VmRSS")
  reset_peak()
  res <- force(expr)
  list(rise_mb = (status_kb("VmHWM") - before) / 1024,
       result_mb = as.numeric(object.size(res)) / 2^20)
}

set.seed(1)
workload <- function(n, sizes) {
  X <- matrix(runif(n * sizes[1]), n)
  W <- lapply(seq_len(length(sizes) - 1L), function(l) matrix(runif(sizes[l] * sizes[l + 1L]), sizes[l]) / sizes[l])
  list(X = X, W = W, net = network(weights = W))
}
report <- function(name, w) {
  X <- w$X
  W <- w$W
  net <- w$net
  invisible(forward(net, X[1:300, , drop = FALSE])) # warm-up (threads, code pages)
  fw <- peak_rise(forward(net, X))
  base <- peak_rise({
    a <- X
    for (wl in W) a <- plogis(a %*% wl)
    a
  })
  cat(sprintf("%s (input %.1f MB, result %.2f MB): forward() peak +%.1f MB, base R chain peak +%.1f MB\n",
              name, object.size(X) / 2^20, fw$result_mb, fw$rise_mb, base$rise_mb))
}
cat(sprintf("threads: %d\n", fwdprop_threads()))
report("W2", workload(100000, c(100, 256, 128, 1)))
invisible(gc(full = TRUE))
report("W3", workload(2000, c(2000, 2000)))
