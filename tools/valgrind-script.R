# Exercises every exported fwdprop function, normal and error paths, for a
# run under valgrind (see tools/valgrind.sh). Small inputs, except one
# forward pass large enough to use two threads. Errors are expected on the
# bad calls and caught with try(); anything else that goes wrong stops the
# script.

library(fwdprop)
set.seed(1)

bad <- function(expr) {
  res <- try(expr, silent = TRUE)
  if (!inherits(res, "try-error")) stop("expected an error, got none")
  invisible(res)
}
check <- function(ok) if (!isTRUE(ok)) stop("check failed: ", deparse(substitute(ok)))

X <- matrix(1:6, ncol = 2, byrow = TRUE)
beta <- matrix(c(0.2827, 0.9234, 0.2923, 0.8373, 0.2862, 0.2668), 2)
gamma <- matrix(c(0.0062, 0.2263, 0.3187), 3)

# mm() -------------------------------------------------------------------
check(isTRUE(all.equal(mm(X, beta), X %*% beta)))
A <- matrix(rnorm(40 * 30), 40)
B <- matrix(rnorm(30 * 20), 30)
check(isTRUE(all.equal(mm(A, B), A %*% B)))
A[3, 4] <- NA
B[5, 6] <- Inf
check(identical(is.na(mm(A, B)), is.na(A %*% B)))
check(identical(mm(matrix(TRUE, 2, 2), matrix(1L, 2, 1)), matrix(2, 2, 1)))
check(identical(dim(mm(matrix(0, 0, 2), beta)), c(0L, 3L)))
check(identical(mm(matrix(0, 3, 0), matrix(0, 0, 2)), matrix(0, 3, 2)))
named <- matrix(1:4, 2, dimnames = list(c("a", "b"), NULL))
check(identical(rownames(mm(named, diag(2))), c("a", "b")))
bad(mm("a", beta))
bad(mm(X, X))
bad(mm(list(1), beta))
bad(mm(X, NULL))
bad(mm(matrix(1i, 2, 2), beta))
bad(mm(data.frame(a = "x"), beta))

# sigmoid() ----------------------------------------------------------------
v <- c(-Inf, -800, -1, 0, 1, 40, Inf, NA, NaN)
check(isTRUE(all.equal(sigmoid(v), plogis(v))))
check(isTRUE(all.equal(sigmoid(c(-2L, NA, 3L)), plogis(c(-2L, NA, 3L)))))
check(isTRUE(all.equal(sigmoid(c(TRUE, NA, FALSE)), plogis(c(TRUE, NA, FALSE)))))
z <- matrix(rnorm(1000), 50)
check(isTRUE(all.equal(sigmoid(z), plogis(z))))
check(identical(sigmoid(numeric(0)), numeric(0)))
bad(sigmoid("a"))
bad(sigmoid(NULL))
bad(sigmoid(list(1)))
bad(sigmoid(factor("a")))
# a large input: chunks over two threads, each prefaulted; and with huge
# pages asked for (a result of more than 8 MB)
big <- rnorm(300000)
old <- fwdprop_threads(2)
check(identical(sigmoid(big), {
  fwdprop_threads(1)
  sigmoid(big)
}))
fwdprop_threads(2)
big <- rnorm(1100000)
plain <- sigmoid(big)
options(fwdprop.huge_pages = TRUE)
check(identical(sigmoid(big), plain))
options(fwdprop.huge_pages = NULL)
fwdprop_threads(old)

# init_weights() -----------------------------------------------------------
for (m in c("uniform", "normal", "xavier", "he")) {
  w <- init_weights(7, 5, method = m, seed = 42)
  check(identical(w, init_weights(7, 5, method = m, seed = 42)))
}
invisible(init_weights(3, 3))
bad(init_weights(0, 3))
bad(init_weights(2^31, 2))
bad(init_weights(50000, 50000))
bad(init_weights(2, 3, method = "glorot"))
bad(init_weights(2, 3, seed = Inf))

# network(), print, summary, format ---------------------------------------
net <- network(weights = list(beta, gamma))
print(net)
print(summary(net))
invisible(format(net))
net2 <- network(c(4, 6, 5, 3), activation = c("relu", "tanh"), output = "softmax",
                bias = TRUE, init = "he", seed = 3)
print(net2, weights = FALSE)
net3 <- network(weights = list(beta, gamma), biases = list(c(0.1, 0.2, 0.3), 0.5),
                activation = "identity", output = "sigmoid")
bad(network())
bad(network(c(2, 1e12, 1)))
bad(network(c(2, NA, 1)))
bad(network(c(2, 3, 1), activation = "swish"))
bad(network(c(2, 3, 1), seed = NaN))
bad(network(weights = list(beta, matrix(1, 4, 1))))
bad(network(weights = list(beta, gamma), biases = list(1:2, NULL)))

# forward(), predict() -----------------------------------------------------
ref <- plogis(plogis(X %*% beta) %*% gamma)
check(isTRUE(all.equal(forward(net, X), ref)))
tr <- forward(net, X, trace = TRUE)
print(tr)
check(isTRUE(all.equal(tr$z[[1]], X %*% beta)))
big <- matrix(rnorm(600 * 4), 600) # above the threading threshold
out1 <- forward(net2, big, threads = 1)
out2 <- forward(net2, big, threads = 2)
check(isTRUE(all.equal(out1, out2)))
check(isTRUE(all.equal(rowSums(out2), rep(1, 600))))
invisible(forward(net3, X))
df <- data.frame(a = c(1, 3, 5), b = c(2, 4, 6), row.names = c("r1", "r2", "r3"))
check(identical(rownames(predict(net, df)), c("r1", "r2", "r3")))
check(identical(dim(forward(net, matrix(0, 0, 2))), c(0L, 1L)))
Xna <- X
Xna[2, 1] <- NA
check(is.na(forward(net, Xna)[2, 1]))
bad(forward(NULL, X))
bad(forward(net, "a"))
bad(forward(net, matrix(1, 3, 3)))
bad(forward(net, X, trace = NA))
bad(forward(net, X, threads = 0))
bad(forward(net, data.frame(a = 1, b = "x")))
bad(predict(net, list(1, 2)))
corrupted <- net
corrupted$weights[[2]] <- matrix(1, 4, 1)
bad(forward(corrupted, X))  # checked in Rust
corrupted <- net
corrupted$activations <- c("sigmoid", "foo")
bad(forward(corrupted, X))
corrupted <- net
corrupted$biases <- list(1:4, NULL)
bad(forward(corrupted, X))

# fwdprop_threads() --------------------------------------------------------
old <- fwdprop_threads(2)
check(identical(fwdprop_threads(), 2L))
fwdprop_threads(old)
bad(fwdprop_threads(0))
bad(fwdprop_threads("2"))

# tensors ------------------------------------------------------------------
Xt <- tensor(X, dtype = torch_double())
bt <- tensor(beta, dtype = torch_double())
zt <- Xt$mm(bt)
print(zt)
at <- sigmoid(zt)
check(isTRUE(all.equal(as.matrix(at), plogis(X %*% beta))))
invisible(1 / (1 + exp(-zt)))
invisible(at * 2 + tensor(matrix(1, 1, 3), dtype = torch_double()))
invisible(zt$t()$shape)
invisible(zt$size(-1))
invisible(zt > 3)
b1 <- tensor(matrix(c(0.6234, 0.8609), ncol = 1))
b2 <- tensor(matrix(c(0.6403, 0.0095), ncol = 1))
print(torch_cat(c(b1, b2), 2))
print(tensor_cat(list(b1, b2), 1))
invisible(format(tensor(matrix(c(1e-6, 1, NA, Inf), 2))))
bad(tensor("a"))
bad(tensor(1:3, dtype = "int32"))
bad(Xt$mm("a"))
bad(Xt$mm(Xt))
bad(Xt$size(3))
bad(Xt$foo)
bad(torch_cat(list(b1, "b"), 1))
bad(tensor_cat(list(matrix(1:4, 2), matrix(1:6, 3)), 2))
bad(Xt + 1:3)

# plot() -------------------------------------------------------------------
pdf(NULL)
invisible(plot(net))
invisible(plot(net, input = c(1, 2), highlight = c(1, 1, 1), main = "lecture"))
invisible(plot(net2, highlight = list(c(1, 1, 1, 1), c(2, 3, 4, 2))))
bad(plot(net, input = "a"))
bad(plot(net, highlight = c(1, 9, 1)))
bad(plot(net, digits = NA))
bad(plot(net, foo = 1))
invisible(dev.off())

# backward(), fit(), mlp() ------------------------------------------------
lnet <- network(c(3, 5, 4, 2), activation = c("tanh", "relu"), output = "softmax", bias = TRUE,
                init = "xavier", seed = 1)
lx <- matrix(rnorm(600), 200)
ly <- factor(ifelse(lx[, 1] > 0, "a", "b"))
g <- backward(lnet, lx, ly, weight_decay = 0.1)
gt <- backward(lnet, lx, ly, weight_decay = 0.1, trace = TRUE, threads = 2)
check(isTRUE(all.equal(g$weights, gt$weights)))
check(identical(g, backward(lnet, lx, ly, weight_decay = 0.1, threads = 2)))
invisible(backward(network(c(3, 2, 1), output = "sigmoid", seed = 1), lx, lx[, 1] > 0))
invisible(backward(network(c(3, 2, 1), output = "identity", seed = 1), lx, lx[, 2], loss = "mse"))
f1 <- fit(lnet, lx, ly, epochs = 3, batch_size = 64, validation = 0.2, threads = 2, seed = 1)
f2 <- fit(lnet, lx, ly, optimizer = "sgd", momentum = 0.9, epochs = 2, batch_size = 200, seed = 1)
f3 <- fit(lnet, lx, ly, optimizer = "bfgs", maxit = 5, validation = 0.1, seed = 1)
check(identical(dim(predict(f1, lx)), c(200L, 2L)))
check(is.factor(predict(f2, lx, type = "class")))
m <- mlp(Species ~ ., data = iris, hidden = 3, epochs = 2, seed = 1)
check(identical(levels(predict(m, iris, type = "class")), levels(iris$Species)))
invisible(capture.output(print(f3), print(g), print(f1$history)))
bad(backward(lnet, lx, 1:200))
bad(backward(lnet, lx, ly, loss = "bce"))
bad(backward(lnet, lx[, 1:2], ly))
bad(fit(lnet, lx, ly, epochs = 0))
bad(fit(lnet, lx, ly, validation = 1))
bad(mlp(Species ~ ., data = iris, hidden = -1))

# as_network(), read_safetensors(), write_safetensors() -------------------
set.seed(3)
nfit <- nnet::nnet(Species ~ ., data = iris, size = 2, decay = 0.1, trace = FALSE)
inet <- as_network(nfit)
check(identical(as.character(predict(inet, iris, type = "class")), predict(nfit, iris, type = "class")))
inet$terms <- NULL
path <- tempfile(fileext = ".safetensors")
write_safetensors(inet, path)
check(identical(read_safetensors(path), inet))
bytes <- readBin(path, "raw", file.size(path))
writeBin(bytes[seq_len(length(bytes) - 8L)], path) # truncated
bad(read_safetensors(path))
writeBin(c(bytes, as.raw(1)), path) # a byte too many
bad(read_safetensors(path))
writeBin(c(bytes[1:8], as.raw(rep(0xff, 40))), path) # header not UTF-8
bad(read_safetensors(path))
writeBin(as.raw(c(0, 0, 0, 0, 0, 0, 0, 64, 123, 125)), path) # header length 2^62
bad(read_safetensors(path))
unlink(path)
bad(read_safetensors(path))
bad(as_network(stats::lm(mpg ~ wt, mtcars)))
bad(write_safetensors(net, tempdir()))
# score() ------------------------------------------------------------------
iris_id <- cbind(id = seq_len(150), iris)
sc <- score(m, iris_id, chunk_rows = 40, keep = "id")
check(isTRUE(all.equal(unname(as.matrix(sc[2:4])), unname(predict(m, iris)))))
csv_in <- tempfile(fileext = ".csv")
csv_out <- tempfile(fileext = ".csv")
utils::write.csv(iris_id, csv_in, row.names = FALSE)
invisible(capture.output(print(score(m, csv_in, to = csv_out, chunk_rows = 60, keep = "id"))))
check(identical(nrow(utils::read.csv(csv_out)), 150L))
unlink(c(csv_in, csv_out))
bad(score(m, iris_id, chunk_rows = 0))
bad(score(m, iris_id[1:3]))

# autograd, torch's random streams, modules, optimizers, data loaders ------
torch_manual_seed(2021)
u <- torch_rand(7) * 10
check(identical(length(as.numeric(u)), 7L))
invisible(torch_randn(3, 4))
mu <- torch_tensor(c(1, 2, 3), requires_grad = TRUE)
y <- (mu^2 + exp(mu) - log(mu))$mean()
y$backward()
check(isTRUE(all.equal(as.numeric(mu$grad), (2 * c(1, 2, 3) + exp(c(1, 2, 3)) - 1 / c(1, 2, 3)) / 3,
                       tolerance = 1e-6)))
invisible(capture.output(print(y$grad_fn), print(mu)))
with_no_grad(mu$sub_(0.1 * mu$grad))
invisible(mu$grad$zero_())
w <- torch_randn(4, 3, dtype = torch_double(), requires_grad = TRUE)
xx <- torch_tensor(matrix(rnorm(20), 5), dtype = torch_double())
l2 <- (xx$mm(w)$sigmoid()$sum(dim = 1) - 1)$pow(2)$sum()
l2$backward()
check(identical(dim(as.matrix(w$grad)), c(4L, 3L)))
# the hot path in Rust: arithmetic, functions, a linear layer, the plain SGD
# step, a graph mixing operations recorded in Rust and in R, NaN, empty
xs <- torch_tensor(matrix(c(0.5, -1, NaN, 2, 0, 3), 3), requires_grad = TRUE)$view(c(2, 3))
lin <- nn_linear(3, 2)
h3 <- tanh(lin(xs))$relu() / (1 + exp(-xs$sum()))
l3 <- mean((h3 - 0.5)^2) + sum(torch_tensor(numeric(0), requires_grad = TRUE) * 2)
l3$backward(retain_graph = TRUE)
l3$backward()
sgd <- optim_sgd(lin$parameters, lr = 0.1)
sgd$step()
sgd$zero_grad()
sgd$zero_grad(set_to_none = TRUE)
with_no_grad(lin$weight$add_(torch_ones(2, 3), alpha = 0.5))
bad(l3$backward())
bad(torch_tensor("a"))
bad(mu$view(c(2, 2)))
bad(torch_rand(-1))
bad(mu$backward())
Net <- nn_module(
  initialize = function() {
    self$l1 <- nn_linear(2, 3)
    self$l2 <- nn_linear(3, 1)
  },
  forward = function(x) self$l2(nnf_sigmoid(self$l1(x)))
)
torch_manual_seed(1)
mod <- Net()
invisible(capture.output(print(mod)))
xt <- torch_tensor(matrix(rnorm(40), 20))
yt <- torch_tensor(matrix(rnorm(20), 20))
for (opt in list(optim_sgd(mod$parameters, lr = 0.01, momentum = 0.9),
                 optim_adam(mod$parameters, lr = 0.01))) {
  for (i in 1:3) {
    opt$zero_grad()
    loss <- nn_mse_loss()(mod(xt), yt)
    loss$backward()
    opt$step()
  }
}
check(is.finite(loss$item()))
seqnet <- nn_sequential(nn_linear(2, 4), nn_tanh(), nn_linear(4, 1), nn_sigmoid())
snet <- as_network(seqnet)
check(isTRUE(all.equal(as.numeric(forward(snet, matrix(1:4, 2))),
                       as.numeric(with_no_grad(seqnet(torch_tensor(matrix(c(1, 2, 3, 4), 2))))), tolerance = 1e-6)))
invisible(nn_bce_loss()(torch_tensor(c(0.2, 0.7)), torch_tensor(c(0, 1))))
invisible(nn_cross_entropy_loss()(torch_randn(4, 3), torch_tensor(c(1, 2, 3, 1), dtype = torch_long())))
bad(nn_linear(0, 2))
bad(optim_sgd(list(), lr = 0.1))
ds <- dataset(
  initialize = function() self$x <- torch_tensor(matrix(1:20, 10)),
  .getitem = function(i) list(x = self$x[i, ]),
  .length = function() 10
)
dl <- dataloader(ds(), batch_size = 4, shuffle = TRUE)
nb <- 0
for (b in enumerate(dl)) nb <- nb + 1
check(identical(nb, 3))
bad(dataloader(ds(), batch_size = 0))

# the fitted model's methods and the training options ---------------------
mw <- mlp(Species ~ ., data = iris, hidden = 3, epochs = 3, seed = 1, dropout = 0.1,
          l1 = 1e-4, clip_norm = 1, class_weights = "balanced",
          lr_schedule = schedule_cosine(3), activation = "gelu")
check(isTRUE(all.equal(rowSums(predict(mw, iris, type = "prob")), rep(1, 150), check.attributes = FALSE)))
invisible(capture.output(print(summary(mw)), print(coef(mw)), print(glance(mw)), print(tidy(mw))))
invisible(fitted(mw))
invisible(residuals(mw))
invisible(update(mw, epochs = 2))
md <- mlp(mpg ~ wt + hp, data = mtcars, hidden = 2, optimizer = "bfgs", decay = 0.01,
          validation = 0.2, patience = 3, seed = 1)
check(identical(length(predict(md)), 32L))
imp <- importance(md, mtcars, repeats = 2, seed = 1)
check(identical(nrow(imp), 2L))
bad(mlp(Species ~ ., data = iris, hidden = 3, decay = 0.1, weight_decay = 0.1))
bad(predict(mw, iris, type = "foo"))
bad(fit(lnet, lx, ly, dropout = 1))

# (the deliberate Rust panic runs separately: tools/valgrind-panic.R)
check(isTRUE(all.equal(forward(net, X), ref)))

cat("valgrind-script: all calls done\n")
