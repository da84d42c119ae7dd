# Steadiness of large results: after a W2-sized workload in the same
# process (forward() of X 100,000 x 100 through 100-256-128-1, and base R's
# chain, which uses and frees about 1 GB), seven calls each of
#   S  sigmoid() of 1e7 values                  against plogis()
#   F  forward() with an 80 MB output            against plogis(X %*% W)
#      (X 1,000,000 x 10 through one 10-10 sigmoid layer)
#   M  mm() with an 80 MB result                 against %*%
#      (100,000 x 10 by 10 x 100: the page faults of the result are most
#      of the work, for base R too)
#   M2 mm() with an 80 MB result and more to compute (10,000 x 50 by
#      50 x 1000)
# are timed one by one. Each call is preceded by an untimed gc() and every
# result is kept until the seven are done, as a session keeping its results
# would: each call gets fresh memory from the system, and R's collection of
# earlier results (which R runs when it likes) does not fall into a timed
# call. Reported: median and maximum, max / median (required <= 1.5), and
# the ratio of medians to base R (for S required <= 0.4).
# FWDPROP_STEADY_RAW=1 also times the calls the plain way (results dropped,
# no gc() in between: R's collections of earlier results then land in some
# calls, for base R too).
#   Rscript bench/steady.R            # the installed fwdprop
#   R_LIBS=/tmp/lib Rscript bench/steady.R
suppressPackageStartupMessages(library(fwdprop))
set.seed(1)
now <- function() as.numeric(bench::hires_time())

# the W2 workload, as in bench/bench.R
X <- matrix(runif(1e5 * 100), 1e5)
sizes <- c(100, 256, 128, 1)
W <- lapply(1:3, function(l) matrix(runif(sizes[l] * sizes[l + 1]), sizes[l]) / sizes[l])
net <- network(weights = W)
for (i in 1:3) invisible(forward(net, X))
a <- X
for (w in W) a <- plogis(a %*% w)
rm(a, X)

x <- runif(1e7, -20, 20)
Xf <- matrix(runif(1e6 * 10), 1e6)
Wf <- matrix(runif(100), 10) / 10
netf <- network(weights = list(Wf))
A <- matrix(runif(1e5 * 10), 1e5)
B <- matrix(runif(1000), 10)
A2 <- matrix(runif(1e4 * 50), 1e4)
B2 <- matrix(runif(5e4), 50)

# seven calls of `expr`: kept results and a gc() before each (see above),
# or with raw = TRUE dropped results and no gc()
timed <- function(expr, raw = FALSE, n = 7L) {
  expr <- substitute(expr)
  env <- parent.frame()
  keep <- vector("list", n)
  invisible(gc())
  vapply(seq_len(n), function(i) {
    if (!raw) invisible(gc())
    t0 <- now()
    res <- eval(expr, env)
    t <- now() - t0
    if (!raw) keep[[i]] <<- res
    t
  }, numeric(1))
}

cases <- list(
  S = list(fw = quote(sigmoid(x)), base = quote(plogis(x)), target = 0.4),
  F = list(fw = quote(forward(netf, Xf)), base = quote(plogis(Xf %*% Wf)), target = NA),
  M = list(fw = quote(mm(A, B)), base = quote(A %*% B), target = NA),
  M2 = list(fw = quote(mm(A2, B2)), base = quote(A2 %*% B2), target = NA)
)
modes <- if (nzchar(Sys.getenv("FWDPROP_STEADY_RAW"))) c(FALSE, TRUE) else FALSE
ms <- function(v) sprintf("%.1f", 1000 * v)
cat(sprintf("fwdprop %s, threads %d, huge pages option %s, load average %s\n",
            utils::packageVersion("fwdprop"), fwdprop_threads(),
            format(isTRUE(getOption("fwdprop.huge_pages"))),
            paste(strsplit(readLines("/proc/loadavg"), " ")[[1]][1:3], collapse = " ")))
cat("| case | timing | fwdprop calls (ms) | median | max | max/median | base R median | base R max/median | ratio |\n")
cat("|---|---|---|---|---|---|---|---|---|\n")
for (raw in modes) {
  for (name in names(cases)) {
    cs <- cases[[name]]
    fw <- eval(bquote(timed(.(cs$fw), raw = .(raw))))
    base <- eval(bquote(timed(.(cs$base), raw = .(raw))))
    steady <- max(fw) / median(fw)
    ratio <- median(fw) / median(base)
    cat(sprintf("| %s | %s | %s | %s | %s | %.2f%s | %s | %.2f | %.3f%s |\n", name,
                if (raw) "raw" else "kept, gc before",
                paste(ms(fw), collapse = " "), ms(median(fw)), ms(max(fw)),
                steady, if (!raw && steady > 1.5) " (over 1.5)" else "",
                ms(median(base)), max(base) / median(base), ratio,
                if (!raw && !is.na(cs$target) && ratio > cs$target) " (over target)" else ""))
  }
}
