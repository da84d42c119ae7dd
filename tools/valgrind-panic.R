# A deliberate Rust panic (fwdprop:::panic_impl(), a test hook) under
# valgrind, run apart from tools/valgrind-script.R by tools/valgrind.sh: the
# panic must become an R error with no memory error, and R must go on
# working. extendr 0.9 longjmps out of its wrapper with the panic's payload
# still allocated (extendr/extendr#549), so this run shows a small definite
# leak (about 50 bytes per panic), which valgrind.sh lists as expected.

library(fwdprop)
X <- matrix(1:6, ncol = 2, byrow = TRUE)
net <- network(c(2, 3, 1), seed = 1)
ref <- forward(net, X)
for (i in 1:3) {
  res <- try(fwdprop:::panic_impl(), silent = TRUE)
  if (!inherits(res, "try-error")) stop("expected an error, got none")
}
stopifnot(identical(forward(net, X), ref))
cat("valgrind-script: all calls done\n")
