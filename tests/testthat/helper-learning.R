# Base-R references for the learning tests: losses as torch defines them,
# from forward_ref() (helper-network.R), and finite differences.

loss_ref <- function(net, x, y, loss, weight_decay = 0) {
  a <- forward_ref(net, x * 1)
  v <- switch(loss,
    mse = mean((a - y)^2),
    bce = mean(-(y * log(a) + (1 - y) * log(1 - a))),
    cross_entropy = mean(rowSums(ifelse(y == 0, 0, -y * log(a))))
  )
  v + weight_decay / 2 * sum(unlist(net$weights)^2)
}

# The five-point central difference of loss_ref() in every weight and
# bias, in the shapes of the network.
finite_differences <- function(net, x, y, loss, weight_decay = 0) {
  fd <- function(get, set) {
    v <- get(net)
    out <- v
    for (i in seq_along(v)) {
      h <- 2e-4 * max(abs(v[[i]]), 1)
      at <- function(d) {
        w <- v
        w[[i]] <- w[[i]] + d
        loss_ref(set(net, w), x, y, loss, weight_decay)
      }
      out[[i]] <- (at(-2 * h) - 8 * at(-h) + 8 * at(h) - at(2 * h)) / (12 * h)
    }
    out
  }
  L <- length(net$weights)
  list(
    weights = lapply(seq_len(L), function(l) {
      fd(function(n) n$weights[[l]], function(n, w) { n$weights[[l]] <- w; n })
    }),
    biases = lapply(seq_len(L), function(l) {
      if (is.null(net$biases[[l]])) return(NULL)
      fd(function(n) n$biases[[l]], function(n, b) { n$biases[[l]] <- b; n })
    })
  )
}

# Largest relative error of a gradient against finite differences, each
# element relative to itself, floored at 1e-3 of the largest element (so
# that gradients that are 0 up to rounding do not count; an absolute floor
# of 1e-6 for networks whose gradient is 0, such as a dead relu output).
gradient_error <- function(got, want) {
  g <- unlist(c(got$weights, got$biases))
  w <- unlist(c(want$weights, want$biases))
  floor <- max(1e-3 * max(abs(w)), 1e-6)
  max(abs(g - w) / pmax(abs(w), floor))
}

# Targets that fit a loss: any numbers for mse, probabilities for bce, rows
# of class probabilities (one-hot or soft) for cross-entropy.
random_target <- function(n, k, loss) {
  switch(loss,
    mse = matrix(rnorm(n * k), n, k),
    bce = matrix(runif(n * k), n, k),
    cross_entropy = {
      y <- matrix(runif(n * k), n, k)
      y <- y / rowSums(y)
      hot <- seq_len(n) %% 2 == 0
      y[hot, ] <- 0
      y[cbind(which(hot), sample.int(k, sum(hot), replace = TRUE))] <- 1
      y
    }
  )
}

# The python named by FWDPROP_PYTHON (default python3) when it can import
# `modules` (PyTorch is a reference in some tests, never a dependency);
# skips the test otherwise.
python_with <- function(modules) {
  py <- Sys.getenv("FWDPROP_PYTHON", "python3")
  ok <- tryCatch(
    system2(py, c("-c", shQuote(paste("import", paste(modules, collapse = ", ")))),
            stdout = FALSE, stderr = FALSE) == 0,
    error = function(e) FALSE, warning = function(w) FALSE
  )
  skip_if_not(ok, sprintf("PyTorch is not available (set FWDPROP_PYTHON to a python with %s)",
                          paste(modules, collapse = " and ")))
  py
}
