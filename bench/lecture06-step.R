# Lecture 6's gradient-descent step, 10,000 times: microseconds per step
# (CPU time, as the machine may be shared). Compare bench/lecture06-step.py
# (PyTorch, same step).
#   Rscript bench/lecture06-step.R
library(fwdprop)
x_tensor <- torch_tensor(c(5.1338701, 7.4255710, 7.1588898, 5.7047157, 1.6527355, 0.4430902, 9.6277122))
mu <- torch_tensor(0.5, requires_grad = TRUE)
learning_rate <- 0.1
step <- function() {
  y <- mean((x_tensor - mu)^2)
  y$backward()
  with_no_grad({
    mu$sub_(learning_rate * mu$grad)
    mu$grad$zero_()
  })
}
for (i in 1:1000) step()
per_step <- vapply(1:5, function(r) {
  p0 <- proc.time()
  for (i in 1:10000) step()
  p <- proc.time() - p0
  c(cpu = sum(p[1:2]), elapsed = p[["elapsed"]]) / 10000 * 1e6
}, numeric(2))
cat(sprintf("fwdprop: %.0f us per step (CPU, best of 5), %.0f us elapsed\n", min(per_step["cpu", ]), min(per_step["elapsed", ])))
