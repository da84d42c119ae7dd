# Per-operation overhead of the tensor/autograd/nn/optim path:
# - lecture 6's gradient-descent step, 10,000 steps: microseconds per step
# - lecture 8's 1-10-10-10-1 network on 100 rows, 1,000 epochs: ms per epoch
# Each measured 5 times (CPU time, the machine may be shared): median and slowest.
#   Rscript bench/autograd-speed.R [lib]     # optional library path to load fwdprop from
#   FWDPROP_BENCH_DIGEST=file Rscript ...    # also write the bits of losses/parameters
args <- commandArgs(TRUE)
if (length(args)) .libPaths(c(args[[1]], .libPaths()))
library(fwdprop)
cpu <- function(expr) {
  p0 <- proc.time()
  expr
  p <- proc.time() - p0
  sum(p[1:2])
}

# lecture 6 ------------------------------------------------------------------
x6 <- torch_tensor(c(5.1338701, 7.4255710, 7.1588898, 5.7047157, 1.6527355, 0.4430902, 9.6277122))
mu <- torch_tensor(0.5, requires_grad = TRUE)
learning_rate <- 0.1
step <- function() {
  y <- mean((x6 - mu)^2)
  y$backward()
  with_no_grad({
    mu$sub_(learning_rate * mu$grad)
    mu$grad$zero_()
  })
}
for (i in 1:1000) step()
l6 <- vapply(1:5, function(r) cpu(for (i in 1:10000) step()) / 10000 * 1e6, numeric(1))

# lecture 8 ------------------------------------------------------------------
set.seed(2021)
x <- sort(sample(1:100, 100))
y <- x + 30 * sin(0.1 * x) + 5 * rnorm(100)
torch_manual_seed(2021)
TwoLayerNet <- nn_module(
  classname = "TowLayerNet",
  initialize = function(data_in, hidden, data_out) {
    self$hidden1 <- nn_linear(data_in, hidden)
    self$hidden2 <- nn_linear(hidden, hidden)
    self$hidden3 <- nn_linear(hidden, hidden)
    self$output_layer <- nn_linear(hidden, data_out)
    self$tanh <- nn_tanh()
  },
  forward = function(X) {
    x <- self$tanh(self$hidden1(X))
    x <- self$tanh(self$hidden2(x))
    x <- self$hidden3(x)
    self$output_layer(x)
  }
)
x_tensor <- torch_tensor(scale(x), dtype = torch_float(), requires_grad = TRUE)$view(c(-1, 1))
y_tensor <- torch_tensor(y, dtype = torch_float())$view(c(-1, 1))
my_net <- TwoLayerNet(1, 10, 1)
mse_loss <- nn_mse_loss(reduction = "mean")
optimizer <- optim_sgd(my_net$parameters, lr = 1e-5)
losses <- numeric(0)
epochs <- function(n) {
  for (epoch in seq_len(n)) {
    optimizer$zero_grad()
    loss <- mse_loss(my_net(x_tensor), y_tensor)
    loss$backward()
    optimizer$step()
    losses[length(losses) + 1L] <<- loss$item()
  }
}
epochs(100)
l8 <- vapply(1:5, function(r) cpu(epochs(1000)) / 1000 * 1e3, numeric(1))

digest_file <- Sys.getenv("FWDPROP_BENCH_DIGEST")
if (nzchar(digest_file)) {
  bits <- c(losses, mu$item(), unlist(lapply(my_net$parameters, function(p) as.vector(as_array(p)))))
  writeLines(sprintf("%a", bits), digest_file)
}
cat(sprintf("lecture 6 step: median %.1f us, slowest %.1f us (10,000 steps x 5)\n", median(l6), max(l6)))
cat(sprintf("lecture 8 epoch: median %.3f ms, slowest %.3f ms (1,000 epochs x 5)\n", median(l8), max(l8)))
