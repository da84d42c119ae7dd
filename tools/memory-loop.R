# Memory stability of the hot paths: 100,000 iterations, each calling mm()
# and forward() on the lecture's data (3x2 input, 2 -> 3 -> 1 network) and on
# a moderate 200x20 input (20 -> 16 -> 4 network): 400,000 calls in all.
# Prints R's heap (gc() Ncells / Vcells used, in cells and Mb) and the
# process's resident memory (VmRSS from /proc/self/status) before, after
# 50,000 and after 100,000 iterations, and says whether memory stayed flat.
#   R_LIBS=/tmp/lib-dev Rscript tools/memory-loop.R [ITERATIONS]
# Linux only for RSS (elsewhere RSS shows as NA). Then, separately, the
# error path: 20,000 forward() calls on a hand-edited, inconsistent network.
# Exit status 1 if memory grows or results change.

library(fwdprop)

args <- commandArgs(trailingOnly = TRUE)
n_iter <- if (length(args)) as.integer(args[[1L]]) else 100000L
stopifnot(!is.na(n_iter), n_iter >= 2L)
half <- n_iter %/% 2L

rss_kb <- function() {
  f <- "/proc/self/status"
  if (!file.exists(f)) return(NA_real_)
  line <- grep("^VmRSS:", readLines(f), value = TRUE)
  if (!length(line)) return(NA_real_)
  as.numeric(gsub("[^0-9]", "", line))
}

snapshot <- function(label) {
  g <- gc(full = TRUE)
  data.frame(
    at = label,
    Ncells = g["Ncells", "used"], Ncells_Mb = g["Ncells", 2L],
    Vcells = g["Vcells", "used"], Vcells_Mb = g["Vcells", 2L],
    Vcells_max_Mb = g["Vcells", ncol(g)], # max used since the start
    RSS_kB = rss_kb(),
    row.names = NULL
  )
}

# the lecture's section 3
X <- matrix(1:6, ncol = 2, byrow = TRUE)
storage.mode(X) <- "double"
beta <- matrix(c(0.2827, 0.9234, 0.2923, 0.8373, 0.2862, 0.2668), 2)
gamma <- matrix(c(0.0062, 0.2263, 0.3187), 3)
net_small <- network(weights = list(beta, gamma))
# moderate
set.seed(1)
B <- matrix(rnorm(200 * 20), 200)
W <- matrix(rnorm(20 * 16), 20)
net_mid <- network(c(20, 16, 4), activation = "relu", output = "softmax", bias = TRUE, seed = 1)

# results to check against at the end: memory must not change values
ref <- list(mm(X, beta), forward(net_small, X), mm(B, W), forward(net_mid, B))

one_iteration <- function() {
  mm(X, beta)
  forward(net_small, X)
  mm(B, W)
  forward(net_mid, B)
  invisible(NULL)
}

# warm up (JIT compilation, first allocations), then measure
for (i in 1:100) one_iteration()
rows <- list(snapshot("before"))
t0 <- proc.time()[["elapsed"]]
for (i in seq_len(n_iter)) {
  one_iteration()
  if (i == half) rows[[length(rows) + 1L]] <- snapshot(sprintf("after %d", i))
}
rows[[length(rows) + 1L]] <- snapshot(sprintf("after %d", n_iter))
elapsed <- proc.time()[["elapsed"]] - t0
tab <- do.call(rbind, rows)

cat(sprintf("%d iterations x 4 calls (mm 3x2 %%*%% 2x3, forward 3x2 through 2-3-1, mm 200x20 %%*%% 20x16, forward 200x20 through 20-16-4) in %.1f s\n",
            n_iter, elapsed))
print(tab, row.names = FALSE)

same <- identical(ref, list(mm(X, beta), forward(net_small, X), mm(B, W), forward(net_mid, B)))
d_ncells <- tab$Ncells[3] - tab$Ncells[2]
d_vcells <- tab$Vcells[3] - tab$Vcells[2]
d_rss <- tab$RSS_kB[3] - tab$RSS_kB[2]
d_rss_total <- tab$RSS_kB[3] - tab$RSS_kB[1]
cat(sprintf("second half: Ncells %+d, Vcells %+d, RSS %+g kB; whole run: RSS %+g kB\n",
            as.integer(d_ncells), as.integer(d_vcells), d_rss, d_rss_total))
# RSS first rises to the high-water mark of R's own heap (R collects
# garbage only when its gc trigger is reached, and freed pages stay with the
# process: the same loop on base R's %*% and plogis() does the same), so
# the first half is a warm-up.
# flat: R's heap does not grow between the two halves (a few hundred cells
# of bookkeeping at most) and RSS grows by less than 2 MB in the second
# half (a leak of even 16 bytes per call would add 3 MB there)
flat <- abs(d_ncells) < 1000 && abs(d_vcells) < 1000 && (is.na(d_rss) || d_rss < 2048)
cat(if (flat) "memory: FLAT" else "memory: GROWING", "\n")
cat("results unchanged after the loop:", same, "\n")

# The error path ---------------------------------------------------------
# forward() on a network edited by hand into an inconsistent one: refused by
# R-side checks before any Rust code runs. (extendr 0.9 leaks the message
# of an error returned by Rust, about 100 bytes per call, so no error a
# user can cause is left to Rust.)
n_err <- min(20000L, n_iter)
corrupted <- net_small
corrupted$weights[[2]] <- matrix(1, 4, 1)
for (i in 1:100) try(forward(corrupted, X), silent = TRUE)
before <- snapshot("errors: before")
for (i in seq_len(n_err)) try(forward(corrupted, X), silent = TRUE)
after <- snapshot(sprintf("errors: after %d", n_err))
cat(sprintf("\n%d forward() calls refusing a hand-edited network:\n", n_err))
print(rbind(before, after), row.names = FALSE)
d_err_rss <- after$RSS_kB - before$RSS_kB
cat(sprintf("RSS %+g kB (%.1f bytes per failing call)\n", d_err_rss, d_err_rss * 1024 / n_err))
err_flat <- abs(after$Ncells - before$Ncells) < 1000 && abs(after$Vcells - before$Vcells) < 1000 &&
  (is.na(d_err_rss) || d_err_rss < 1024)
cat(if (err_flat) "error path memory: FLAT" else "error path memory: GROWING", "\n")

# Learning ----------------------------------------------------------------
# backward() on the moderate network, and fit() for one epoch (each fit
# makes and frees a training state behind an external pointer).
n_learn <- max(2L, min(4000L, n_iter %/% 25L))
yb <- factor(letters[1L + (B[, 1] > 0) + 2L * (B[, 2] > 0)]) # 4 classes, one per output
net_learn <- network(c(20, 16, 4), activation = "tanh", output = "softmax", bias = TRUE, seed = 2)
learn_once <- function() {
  backward(net_learn, B, yb)
  fit(net_learn, B, yb, epochs = 1, batch_size = 50, seed = 1)
  invisible(NULL)
}
ref_learn <- list(backward(net_learn, B, yb), fit(net_learn, B, yb, epochs = 1, batch_size = 50, seed = 1)$weights)
for (i in 1:50) learn_once()
l_before <- snapshot("learning: before")
for (i in seq_len(n_learn)) {
  learn_once()
  if (i == n_learn %/% 2L) l_half <- snapshot(sprintf("learning: after %d", i))
}
l_after <- snapshot(sprintf("learning: after %d", n_learn))
cat(sprintf("\n%d iterations of backward() and fit(epochs = 1) on 200x20 through 20-16-4:\n", n_learn))
print(rbind(l_before, l_half, l_after), row.names = FALSE)
d_l_rss <- l_after$RSS_kB - l_half$RSS_kB
learn_flat <- abs(l_after$Ncells - l_half$Ncells) < 1000 && abs(l_after$Vcells - l_half$Vcells) < 1000 &&
  (is.na(d_l_rss) || d_l_rss < 2048)
learn_same <- identical(ref_learn, list(backward(net_learn, B, yb),
                                        fit(net_learn, B, yb, epochs = 1, batch_size = 50, seed = 1)$weights))
cat(sprintf("second half: RSS %+g kB\n", d_l_rss))
cat(if (learn_flat) "learning memory: FLAT" else "learning memory: GROWING", "\n")
cat("learning results unchanged after the loop:", learn_same, "\n")
invisible(if (!flat || !same || !err_flat || !learn_flat || !learn_same) quit(status = 1L))
