# Optimisers for torch-style parameters (lecture 8): optim_sgd() and
# optim_adam(), torch's update formulas with the parameters' float32
# rounding after each operation, as libtorch computes them (hyper-parameters
# such as the learning rate enter as float32 numbers, as torch's kernels
# take them).

#' Optimisers
#'
#' `optim_sgd()` and `optim_adam()` update parameters (leaf tensors that
#' require gradients, such as a module's `$parameters`) from their `$grad`,
#' as torch's optimisers do: `$zero_grad()` clears the gradients and
#' `$step()` takes one step.
#'
#' `optim_sgd()`: with `weight_decay`, `g <- g + weight_decay * p`; with
#' momentum, `buf <- g` the first time, then `buf <- momentum * buf + (1 -
#' dampening) * g`, and `g <- buf` (or `g + momentum * buf` with
#' `nesterov = TRUE`); then `p <- p - lr * g`.
#'
#' `optim_adam()` (torch's Adam, step `k`): `m <- m + (1 - beta1) * (g -
#' m)`, `v <- beta2 * v + (1 - beta2) * g^2`, `p <- p - lr / (1 -
#' beta1^k) * m / (sqrt(v) / sqrt(1 - beta2^k) + eps)`.
#'
#' @param params A list of parameters (e.g. `model$parameters`), or one.
#' @param lr The learning rate.
#' @param momentum,dampening Momentum factor and dampening.
#' @param weight_decay L2 penalty added to the gradient.
#' @param nesterov Whether to use Nesterov momentum.
#' @param betas The decay rates of Adam's first and second moments.
#' @param eps Adam's term added to the denominator.
#' @return An optimiser (class `fwdprop_optimizer`) with methods
#'   `$zero_grad()` and `$step()`, and fields `$param_groups`
#'   (its settings) and `$state`.
#' @seealso [nn_module()], [nn_mse_loss()]
#' @export
#' @examples
#' w <- torch_tensor(c(1, -2), requires_grad = TRUE)
#' opt <- optim_sgd(list(w), lr = 0.1)
#' loss <- sum(w^2)
#' loss$backward()
#' opt$step()
#' w
#' opt$zero_grad()
optim_sgd <- function(params, lr, momentum = 0, dampening = 0, weight_decay = 0, nesterov = FALSE) {
  call <- sys.call()
  params <- check_params(params, "optim_sgd()", call)
  if (missing(lr)) {
    fwdprop_error("`lr` (the learning rate) must be given, e.g. `optim_sgd(model$parameters, lr = 0.01)`.", call = call)
  }
  check_hyper(lr, "lr", call)
  check_hyper(momentum, "momentum", call)
  check_hyper(dampening, "dampening", call)
  check_hyper(weight_decay, "weight_decay", call)
  check_flag(nesterov, "nesterov", call = call)
  if (nesterov && (momentum <= 0 || dampening != 0)) {
    fwdprop_error("Nesterov momentum needs `momentum` > 0 and `dampening` = 0.", call = call)
  }
  settings <- list(lr = lr, momentum = momentum, dampening = dampening, weight_decay = weight_decay, nesterov = nesterov)
  new_optimizer("optim_sgd", params, settings, sgd_update)
}

#' @rdname optim_sgd
#' @export
optim_adam <- function(params, lr = 0.001, betas = c(0.9, 0.999), eps = 1e-8, weight_decay = 0) {
  call <- sys.call()
  params <- check_params(params, "optim_adam()", call)
  check_hyper(lr, "lr", call)
  if (!is.numeric(betas) || length(betas) != 2L || anyNA(betas) || any(betas < 0 | betas >= 1)) {
    fwdprop_error(sprintf("`betas` must be two numbers in [0, 1), not %s.", describe_value(betas)), call = call)
  }
  check_hyper(eps, "eps", call)
  check_hyper(weight_decay, "weight_decay", call)
  settings <- list(lr = lr, betas = betas, eps = eps, weight_decay = weight_decay)
  new_optimizer("optim_adam", params, settings, adam_update)
}

check_hyper <- function(x, arg, call) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) || x < 0) {
    fwdprop_error(sprintf("`%s` must be a single number of at least 0, not %s.", arg, describe_value(x)), call = call)
  }
}

# The parameters as a list of leaf tensors that require gradients.
check_params <- function(params, fun, call) {
  if (is_tensor(params)) {
    params <- list(params)
  }
  if (!is.list(params) || is.object(params) || !length(params)) {
    fwdprop_error(sprintf(
      "`params` of `%s` must be a list of parameters, such as `model$parameters`, not %s.",
      fun, if (is.list(params) && !length(params)) "an empty list" else describe_object(params)
    ), call = call)
  }
  for (i in seq_along(params)) {
    p <- params[[i]]
    label <- if (!is.null(names(params)) && nzchar(names(params)[[i]])) sprintf("`params$%s`", names(params)[[i]]) else sprintf("`params[[%d]]`", i)
    if (!is_tensor(p)) {
      fwdprop_error(sprintf("%s must be a tensor (a parameter), not %s.", label, describe_object(p)), call = call)
    }
    if (!.subset2(p, "requires_grad") || !is.null(.subset2(p, "node"))) {
      fwdprop_error(sprintf(
        "%s must be a leaf tensor that requires gradients (created with `requires_grad = TRUE`), but it %s.",
        label, if (!.subset2(p, "requires_grad")) "does not require gradients" else "is the result of an operation"
      ), call = call)
    }
  }
  unname(params)
}

new_optimizer <- function(kind, params, settings, update) {
  self <- new.env(parent = emptyenv())
  self$params <- params
  self$settings <- settings
  self$state <- vector("list", length(params))
  self$kind <- kind
  self$update <- update
  structure(self, class = c(kind, "fwdprop_optimizer"))
}

#' @export
`$.fwdprop_optimizer` <- function(x, name) {
  switch(name,
    zero_grad = function(set_to_none = FALSE) {
      none <- isTRUE(set_to_none)
      # (in Rust, one call; NULL, having changed nothing, for the loop below)
      if (autograd_state$native && !is.null(.Call(fwdprop_zero_grads, .subset2(x, "params"), none))) {
        return(invisible(NULL))
      }
      for (p in .subset2(x, "params")) {
        g <- .subset2(p, "grad")
        if (!is.null(g)) {
          if (none) assign("grad", NULL, envir = p) else assign("data", numeric(length(.subset2(g, "data"))), envir = g)
        }
      }
      invisible(NULL)
    },
    step = function(closure = NULL) optimizer_step(x, closure),
    param_groups = list(c(list(params = .subset2(x, "params")), .subset2(x, "settings"))),
    state = .subset2(x, "state"),
    fwdprop_error(sprintf("an optimiser has `$zero_grad()`, `$step()`, `$param_groups` and `$state`, not `$%s`.", name), call = sys.call())
  )
}

#' @export
print.fwdprop_optimizer <- function(x, ...) {
  s <- .subset2(x, "settings")
  cat("<", .subset2(x, "kind"), "> ", length(.subset2(x, "params")), " parameter tensor",
    if (length(.subset2(x, "params")) == 1L) "" else "s", "; ",
    paste(names(s), vapply(s, function(v) paste(format(v), collapse = ", "), ""), sep = " = ", collapse = ", "),
    "\n", sep = "")
  invisible(x)
}

optimizer_step <- function(opt, closure) {
  loss <- NULL
  if (!is.null(closure)) {
    loss <- closure()
  }
  params <- .subset2(opt, "params")
  state <- .subset2(opt, "state")
  update <- .subset2(opt, "update")
  settings <- .subset2(opt, "settings")
  if (identical(update, sgd_update) && settings$weight_decay == 0 && settings$momentum == 0) {
    plain_sgd_step(params, settings$lr)
    return(invisible(loss))
  }
  for (i in seq_along(params)) {
    p <- params[[i]]
    g <- .subset2(p, "grad")
    if (is.null(g)) {
      next
    }
    dtype <- .subset2(p, "dtype")
    r <- if (dtype == "float") round_f32 else identity
    res <- update(.subset2(p, "data"), .subset2(g, "data"), state[[i]], settings, r)
    assign("data", res$data, envir = p)
    state[i] <- list(res$state)
  }
  assign("state", state, envir = opt)
  invisible(loss)
}

# SGD without momentum and weight decay (sgd_update()'s result, its state
# stays NULL), without a call per parameter.
plain_sgd_step <- function(params, lr) {
  # in Rust, one call (the same values); NULL, having changed nothing, for
  # the loop below
  if (autograd_state$native && is.double(lr) && !is.null(.Call(fwdprop_sgd_step, params, lr))) {
    return(invisible(NULL))
  }
  lr32 <- .Call(fwdprop_round_f32, as.double(lr))
  for (p in params) {
    g <- .subset2(p, "grad")
    if (is.null(g)) {
      next
    }
    if (.subset2(p, "dtype") == "float") {
      assign("data", .Call(fwdprop_round_f32, .subset2(p, "data") - lr32 * .subset2(g, "data")), envir = p)
    } else {
      assign("data", .subset2(p, "data") - lr * .subset2(g, "data"), envir = p)
    }
  }
}

# One SGD step of one parameter: data `p`, gradient `g`, rounding `r`.
sgd_update <- function(p, g, state, s, r) {
  if (s$weight_decay != 0) {
    g <- r(g + r(s$weight_decay) * p)
  }
  if (s$momentum != 0) {
    mom <- r(s$momentum)
    buf <- if (is.null(state$momentum_buffer)) g else r(r(mom * state$momentum_buffer) + r(1 - s$dampening) * g)
    state <- list(momentum_buffer = buf)
    g <- if (s$nesterov) r(g + mom * buf) else buf
  }
  list(data = r(p - r(s$lr) * g), state = state)
}

# One Adam step (torch.optim.Adam, single-tensor): the bias corrections
# in double precision, the tensor operations rounded one by one.
adam_update <- function(p, g, state, s, r) {
  if (is.null(state)) {
    state <- list(step = 0, exp_avg = numeric(length(p)), exp_avg_sq = numeric(length(p)))
  }
  if (s$weight_decay != 0) {
    g <- r(g + r(s$weight_decay) * p)
  }
  k <- state$step + 1
  b1 <- s$betas[[1L]]
  b2 <- s$betas[[2L]]
  m <- state$exp_avg
  w <- r(1 - b1)
  m <- r(m + w * r(g - m))
  v <- r(r(r(b2) * state$exp_avg_sq) + r(r(r(1 - b2) * g) * g))
  bc1 <- 1 - b1^k
  bc2_sqrt <- sqrt(1 - b2^k)
  step_size <- s$lr / bc1
  denom <- r(r(r(sqrt(v)) / r(bc2_sqrt)) + r(s$eps))
  p <- r(p + r(r(-r(step_size) * m) / denom))
  list(data = p, state = list(step = k, exp_avg = m, exp_avg_sq = v))
}
