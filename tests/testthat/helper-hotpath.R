# The hot path of the tensors (arithmetic, elementwise functions, mean()
# and sum() of all values, the linear layer, the backward pass, in-place
# updates and the plain SGD step, computed in Rust) against the R code that
# it replaces for the cases it takes: `f()` run with the hot path on, then
# off (fwdprop's internal switch `autograd_state$native`).
both_paths <- function(f) {
  st <- fwdprop:::autograd_state
  on.exit(st$native <- TRUE)
  st$native <- TRUE
  native <- f()
  st$native <- FALSE
  r <- f()
  list(native = native, r = r)
}
