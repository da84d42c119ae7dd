# Forward propagation on the lecture's 2-3-1 network (lecture 5), with
# fwdprop on plain R matrices. Every number printed here equals the
# lecture's own printout (torch for R), to 4 decimals.
library(fwdprop)
set.seed(1234)

cat("== 1. one sample, one path ==\n")
X <- matrix(1:2, ncol = 2, byrow = TRUE)
beta_1 <- matrix(runif(2), ncol = 1)
z_21 <- mm(X, beta_1)
a_21 <- sigmoid(z_21)
gamma_1 <- runif(1)
z_31 <- a_21 * gamma_1
y_hat <- sigmoid(z_31)
print(round(c(beta_11 = beta_1[1], beta_12 = beta_1[2], z_21 = z_21[1], a_21 = a_21[1],
              z_31 = z_31[1], y_hat = y_hat[1]), 4))

cat("\n== 2. one sample, three paths ==\n")
beta <- cbind(matrix(runif(2), ncol = 1), matrix(runif(2), ncol = 1), matrix(runif(2), ncol = 1))
cat("beta:\n"); print(round(beta, 4))
z_2 <- mm(X, beta)
a_2 <- sigmoid(z_2)
gamma <- matrix(c(runif(1), runif(1), runif(1)), ncol = 1)
z_3 <- mm(a_2, gamma)
y_hat <- sigmoid(z_3)
print(round(c(z_21 = z_2[1], z_22 = z_2[2], z_23 = z_2[3], z_3 = z_3[1], y_hat = y_hat[1]), 4))

cat("\n== 3. all samples ==\n")
X <- matrix(1:6, ncol = 2, byrow = TRUE)
beta <- matrix(runif(6), ncol = 3)
z_2 <- mm(X, beta)
a_2 <- sigmoid(z_2)
gamma <- matrix(runif(3), ncol = 1)
z_3 <- mm(a_2, gamma)
y_hat <- sigmoid(z_3)
cat("z_2:\n"); print(round(z_2, 4))
cat("z_3:\n"); print(round(z_3, 4))
cat("y_hat:\n"); print(round(y_hat, 4))

cat("\n== the same network as one object: network() + forward(trace = TRUE) ==\n")
net <- network(weights = list(beta, gamma))
print(net)
tr <- forward(net, X, trace = TRUE)
print(tr)

cat("\n== the lecture's torch style: tensor()$mm() ==\n")
Xt <- tensor(X, dtype = torch_double())
print(sigmoid(sigmoid(Xt$mm(tensor(beta, dtype = torch_double())))$mm(tensor(gamma, dtype = torch_double()))))
