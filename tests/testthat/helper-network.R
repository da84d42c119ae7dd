# Base-R references for the network tests.

act_ref <- function(z, name) {
  switch(name,
    sigmoid = plogis(z),
    relu = {
      r <- z
      r[] <- ifelse(is.na(z) | z > 0, z, 0) # NA and NaN pass through
      r
    },
    tanh = tanh(z),
    identity = z,
    # torch's formulas (nn_leaky_relu, nn_elu, nn_gelu, nn_softplus
    # defaults), with erf(u) = 2 * pnorm(u * sqrt(2)) - 1; NA and NaN pass
    leaky_relu = ifelse(is.na(z) | z > 0, z, 0.01 * z),
    elu = ifelse(is.na(z) | z > 0, z, expm1(z)),
    gelu = z * 0.5 * (1 + (2 * pnorm(z / sqrt(2) * sqrt(2)) - 1)),
    softplus = ifelse(is.na(z) | z > 20, z, log1p(exp(z))),
    softmax = {
      m <- apply(z, 1, max)
      e <- exp(z - m)
      e / rowSums(e)
    }
  )
}

# The chain act_L(... act_1(x %*% W1 + b1) ... %*% WL + bL) in base R.
forward_ref <- function(net, x, trace = FALSE) {
  a <- x
  zs <- as <- list()
  for (l in seq_along(net$weights)) {
    z <- a %*% net$weights[[l]]
    if (!is.null(net$biases[[l]])) z <- sweep(z, 2, net$biases[[l]], "+")
    a <- act_ref(z, net$activations[[l]])
    dim(a) <- dim(z)
    zs[[l]] <- z
    as[[l]] <- a
  }
  if (trace) list(z = zs, a = as) else a
}

random_net <- function(sizes, activations = "sigmoid", bias = FALSE, sd = 1) {
  L <- length(sizes) - 1L
  w <- lapply(seq_len(L), function(l) matrix(rnorm(sizes[l] * sizes[l + 1L], sd = sd), sizes[l]))
  b <- if (bias) lapply(seq_len(L), function(l) rnorm(sizes[l + 1L])) else NULL
  acts <- rep_len(activations, L)
  hidden <- if (L > 1L) acts[-L] else "sigmoid" # no hidden layer: ignored
  network_quietly(weights = w, biases = b, activation = hidden, output = acts[L])
}

# network() without its warning about a softmax output of width 1 (legal,
# and always 1), which the forward-pass tests on random networks make.
network_quietly <- function(...) {
  withCallingHandlers(
    network(...),
    fwdprop_warning = function(w) if (grepl("width 1", conditionMessage(w))) invokeRestart("muffleWarning")
  )
}
