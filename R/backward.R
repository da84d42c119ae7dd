#' Backward propagation: the gradient of a loss
#'
#' `backward(net, x, y)` computes the loss of the network's predictions for
#' `x` against the targets `y`, and its gradient with respect to every
#' weight and bias, by the chain rule from the output layer back to the
#' first (backward propagation), in one call into fwdprop's Rust core.
#'
#' For layer `l` with `z_l = a_{l-1} %*% W_l + b_l` and `a_l = act(z_l)`
#' (`a_0 = x`), the backward pass starts from `delta_L = dL/dz_L` and goes
#' back layer by layer:
#' `dL/dW_l = t(a_{l-1}) %*% delta_l`, `dL/db_l = colSums(delta_l)` and
#' `delta_{l-1} = (delta_l %*% t(W_l)) * act'(z_{l-1})`. With
#' `trace = TRUE` every `delta`, `z` and `a` is returned, so each step can
#' be checked by hand.
#'
#' @section Losses:
#' Defined as torch defines them by default (mean reduction), so that torch
#' is a reference:
#' * `"mse"`: the mean over all elements of `(a_L - y)^2`
#'   (`nn_mse_loss()`); any output activation.
#' * `"bce"`: binary cross-entropy, the mean over all elements of
#'   `-(y log(a_L) + (1 - y) log(1 - a_L))`, for a sigmoid output. It is
#'   computed from `z_L` (as `nn_bce_with_logits_loss()`), so a prediction
#'   of exactly 0 or 1 still gives a finite loss and gradient. `y` in
#'   `[0, 1]`.
#' * `"cross_entropy"`: for a softmax output, the mean over rows of
#'   `-sum(y * log(a_L))`, computed from `z_L` (as
#'   `nn_cross_entropy_loss()` with class probabilities as the target). `y`
#'   a factor (one level per output) or a matrix of class probabilities
#'   (one-hot or soft).
#'
#' @section Weight decay:
#' Two penalties, of which one may be given:
#' * `weight_decay = lambda` (torch's meaning) adds `lambda / 2 * sum(W^2)`
#'   over the weights (not the biases) to the mean loss, and `lambda * W`
#'   to their gradients.
#' * `decay = d` (nnet's meaning, as [nnet::nnet()]'s `decay`): nnet
#'   minimises the summed loss (the sum of squared errors, or of
#'   cross-entropies, over the rows) plus `d * sum(w^2)` over all weights
#'   *and biases*. fwdprop's loss is a mean, that is the same objective
#'   divided by `m`, the count the mean divides by (rows times outputs for
#'   `"mse"` and `"bce"`, rows for `"cross_entropy"`): `decay = d` adds
#'   `d / m * sum(w^2)` over the weights and biases, and the returned
#'   `loss` times `m` is nnet's objective.
#'
#' @section Blocks and threads:
#' The gradient of the whole batch is a sum over its rows: rows go forward
#' and back in blocks while in cache (no full activation matrix of the
#' batch is kept unless `trace = TRUE`), split over [fwdprop_threads()]
#' threads, and summed in a fixed order, so the result is the same, bit for
#' bit, whatever the number of threads.
#'
#' @param net A network from [network()], [mlp()] or [fit()].
#' @param x The inputs: a numeric matrix or data frame, one row per sample
#'   (picked by name for networks with input names, and scaled for networks
#'   fitted with scaling, as [predict()][predict.fwdprop_network()] does).
#'   `NA`, `NaN` and infinite values are errors.
#' @param y The targets: a numeric vector (one output) or matrix (one
#'   column per output), a one-hot matrix, a factor (softmax outputs: one
#'   level per output; a single sigmoid output: two levels, the second
#'   coded 1) or a logical vector (a single output).
#' @param loss `NULL` (the default: `"cross_entropy"` for a softmax output,
#'   `"bce"` for a sigmoid output and `"mse"` otherwise), or one of `"mse"`,
#'   `"bce"`, `"cross_entropy"`; see the Losses section.
#' @param weight_decay `lambda >= 0`: adds `lambda / 2 * sum(W^2)` over the
#'   weights (not the biases) to the mean loss (torch's meaning); see
#'   Weight decay.
#' @param decay `d >= 0`: nnet's weight decay, `d * sum(w^2)` over the
#'   weights and biases on the summed loss, that is `d / m * sum(w^2)` on
#'   the mean loss (`m`: rows times outputs for `"mse"` and `"bce"`, rows
#'   for `"cross_entropy"`); see Weight decay. Not together with
#'   `weight_decay`.
#' @param trace If `TRUE`, also return every layer's `delta`, `z` and `a`.
#' @param threads Number of threads; by default [fwdprop_threads()].
#' @return An object of class `fwdprop_gradient`: a list with `loss` (the
#'   mean loss, plus the decay), `weights` and `biases` (the gradients,
#'   in the shapes of `net$weights` and `net$biases`, `NULL` for a layer
#'   without biases). With `trace = TRUE` also `delta`, `z` and `a` (lists
#'   with one matrix per layer, `delta[[l]]` being `dL/dz_l`), `x` and `y`.
#' @seealso [fit()] to train a network; [forward()].
#' @export
#' @examples
#' # the lecture's network, one sample and one target
#' beta <- matrix(c(0.1137, 0.6223, 0.6093, 0.6234, 0.8609, 0.6403), 2)
#' gamma <- matrix(c(0.0095, 0.2326, 0.6661), 3)
#' net <- network(weights = list(beta, gamma))
#' g <- backward(net, matrix(c(1, 2), 1), y = 1, loss = "mse", trace = TRUE)
#' g
#' g$delta[[2]]   # dL/dz of the output: 2 * (a - y) * a * (1 - a)
#' g$weights[[2]] # equals t(g$a[[1]]) %*% g$delta[[2]]
backward <- function(net, x, y, loss = NULL, weight_decay = 0, trace = FALSE, threads = NULL,
                     decay = 0) {
  call <- sys.call()
  d <- learning_data(net, x, y, loss, call = call)
  weight_decay <- decay_lambdas(weight_decay, decay, d$loss, nrow(d$y), ncol(d$y), call = call)
  trace <- check_flag(trace, "trace", call = call)
  threads <- if (is.null(threads)) fwdprop_threads() else check_count(threads, "threads", call = call)
  net <- d$net
  res <- backward_impl(d$x, d$y, net$weights, net$biases, net$activations, d$loss,
                       weight_decay, trace, threads)
  for (l in seq_along(res$weights)) {
    dimnames(res$weights[[l]]) <- dimnames(net$weights[[l]])
    if (!is.null(res$biases[[l]])) names(res$biases[[l]]) <- names(net$biases[[l]])
  }
  out <- list(loss = res$loss, weights = res$weights, biases = res$biases)
  if (trace) {
    rn <- rownames(d$x)
    for (l in seq_along(res$z)) {
      cn <- colnames(net$weights[[l]])
      if (!is.null(rn) || !is.null(cn)) {
        dimnames(res$z[[l]]) <- dimnames(res$a[[l]]) <- dimnames(res$delta[[l]]) <- list(rn, cn)
      }
    }
    out <- c(out, list(delta = res$delta, z = res$z, a = res$a, x = d$x, y = d$y))
  }
  structure(out, class = "fwdprop_gradient", loss_name = d$loss,
            activations = net$activations)
}

#' @export
print.fwdprop_gradient <- function(x, digits = 4L, ...) {
  L <- length(x$weights)
  cat(sprintf("<fwdprop gradient> %s loss %s\n", attr(x, "loss_name"),
              format(x$loss, digits = 7L)))
  for (l in seq_len(L)) {
    cat(sprintf("dL/dW[[%d]] (%s):\n", l, shape_string(x$weights[[l]])))
    print(signif(x$weights[[l]], digits))
    if (!is.null(x$biases[[l]])) {
      cat(sprintf("dL/db[[%d]]:\n", l))
      print(signif(x$biases[[l]], digits))
    }
  }
  if (!is.null(x$delta)) {
    cat("(trace: $delta, $z and $a hold every layer's values)\n")
  }
  invisible(x)
}

losses <- c("mse", "bce", "cross_entropy")

# What backward() and fit() share: the network checked for learning, the
# inputs and the targets as double matrices, the loss.
learning_data <- function(net, x, y, loss, call, net_arg = "net") {
  net <- check_network(net, net_arg, call = call)
  check_trainable(net, net_arg, call = call)
  loss <- check_loss(loss, net, net_arg, call = call)
  if (missing(y) || is.null(y)) {
    fwdprop_error("`y` is missing: give the targets, one per row of `x`.", call = call)
  }
  x <- network_input(net, x, "x", call = call)
  check_finite(x, "x", call = call)
  y <- network_target(net, y, loss, nrow(x), call = call)
  list(net = net, x = x, y = y, loss = loss)
}

# Refuses networks that cannot be trained: non-finite weights, or a
# softmax output of width 1 (always 1, so every gradient is 0).
check_trainable <- function(net, arg, call) {
  L <- length(net$weights)
  check_finite_parameters(net, arg, "a network with them cannot be trained", call = call)
  if (net$activations[[L]] == "softmax" && net$sizes[[L + 1L]] == 1L) {
    fwdprop_error(sprintf(paste(
      "`%s` ends in a softmax of width 1, which is always 1: nothing can be learned.",
      "For two classes use one sigmoid output with `loss = \"bce\"`",
      "(e.g. `network(c(%s), output = \"sigmoid\")`), or a softmax of width 2."
    ), arg, paste(net$sizes, collapse = ", ")), call = call)
  }
  invisible(net)
}

# Refuses NA, NaN and infinite weights and biases (of a network checked by
# check_network()), naming the first such layer; `why` ends the message.
check_finite_parameters <- function(net, arg, why, call) {
  for (l in seq_along(net$weights)) {
    for (part in c("weights", "biases")) {
      v <- net[[part]][[l]]
      if (!is.null(v) && !all(is.finite(v))) {
        fwdprop_error(sprintf("`%s$%s[[%d]]` holds NA, NaN or infinite values: %s.", arg, part, l, why),
                      call = call)
      }
    }
  }
  invisible(net)
}

# The loss, by default from the output activation; refuses a loss that
# does not fit it.
check_loss <- function(loss, net, arg, call) {
  out <- net$activations[[length(net$activations)]]
  if (is.null(loss)) {
    return(switch(out, softmax = "cross_entropy", sigmoid = "bce", "mse"))
  }
  loss <- check_choice(loss, "loss", losses, call = call)
  if (loss == "bce" && out != "sigmoid") {
    fwdprop_error(sprintf(paste(
      "`loss = \"bce\"` needs a sigmoid output layer, but `%s` ends in \"%s\".%s"
    ), arg, out, if (out == "softmax") " For a softmax output use `loss = \"cross_entropy\"`." else
      " Use `output = \"sigmoid\"` in `network()`, or `loss = \"mse\"`."), call = call)
  }
  if (loss == "cross_entropy" && out != "softmax") {
    fwdprop_error(sprintf(paste(
      "`loss = \"cross_entropy\"` needs a softmax output layer, but `%s` ends in \"%s\".%s"
    ), arg, out, if (out == "sigmoid") " For a sigmoid output use `loss = \"bce\"`." else
      " Use `output = \"softmax\"` in `network()`, or `loss = \"mse\"`."), call = call)
  }
  loss
}

check_weight_decay <- function(x, call, arg = "weight_decay") {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) || x < 0) {
    fwdprop_error(sprintf("`%s` must be a single number >= 0, not %s.", arg, describe_value(x)),
                  call = call)
  }
  as.double(x)
}

# The count a loss's mean divides by: every element for "mse" and "bce",
# every row for "cross_entropy" (the core's Loss::mean_over).
loss_mean_over <- function(loss, rows, outputs) {
  if (loss == "cross_entropy") rows else rows * outputs
}

# The decay's lambdas on fwdprop's mean loss, c(weights, biases), from
# `weight_decay` (torch's: lambda / 2 * sum(W^2) on the mean loss, weights
# only) or nnet's `decay` (decay * sum(w^2) over the weights and biases on
# nnet's summed loss: divided by what the mean divides by, it is
# lambda / 2 * sum(w^2) with lambda = 2 * decay / count, on the weights
# and the biases). Giving both is an error.
decay_lambdas <- function(weight_decay, decay, loss, rows, outputs, call) {
  weight_decay <- check_weight_decay(weight_decay, call = call)
  decay <- check_weight_decay(decay, call = call, arg = "decay")
  if (weight_decay > 0 && decay > 0) {
    fwdprop_error(paste(
      "give `decay` (nnet's meaning: decay * sum(w^2) on the summed loss, biases included)",
      "or `weight_decay` (torch's: weight_decay / 2 * sum(W^2) on the mean loss, weights only), not both."
    ), call = call)
  }
  if (decay > 0) {
    lambda <- 2 * decay / loss_mean_over(loss, rows, outputs)
    return(c(lambda, lambda))
  }
  c(weight_decay, 0)
}

# Refuses NA, NaN and infinite values in a matrix, naming the first.
check_finite <- function(x, arg, call) {
  if (!any_non_finite_impl(x)) {
    return(invisible(x))
  }
  bad <- which(!is.finite(x))
  if (length(bad) > 0L) {
    i <- bad[[1L]]
    r <- (i - 1L) %% nrow(x) + 1L
    c <- (i - 1L) %/% nrow(x) + 1L
    v <- x[[i]]
    fwdprop_error(sprintf(
      "`%s` holds %s (first at row %d, column %d; %d value%s in all): remove or impute %s before training.",
      arg, if (is.na(v) && !is.nan(v)) "NA" else format(v), r, c, length(bad),
      if (length(bad) == 1L) "" else "s", if (length(bad) == 1L) "it" else "them"
    ), call = call)
  }
  invisible(x)
}

# The targets as an n x outputs double matrix, checked against the loss.
network_target <- function(net, y, loss, n, call) {
  k <- net$sizes[[length(net$sizes)]]
  out <- net$activations[[length(net$activations)]]
  lev <- net[["levels"]]
  if (is.factor(y)) {
    if (!is.null(dim(y)) || length(y) != n) {
      fwdprop_error(sprintf("`y` has %d value%s but `x` has %d row%s.", length(y),
                            if (length(y) == 1L) "" else "s", n, if (n == 1L) "" else "s"), call = call)
    }
    yl <- levels(y)
    if (!is.null(lev)) {
      extra <- setdiff(yl[yl %in% as.character(y)], lev)
      if (length(extra) > 0L) {
        fwdprop_error(sprintf("`y` has level%s %s that the network's classes (%s) do not.",
                              if (length(extra) > 1L) "s" else "",
                              paste0("\"", extra, "\"", collapse = ", "),
                              paste0("\"", lev, "\"", collapse = ", ")), call = call)
      }
      yl <- lev
      y <- factor(as.character(y), levels = lev)
    }
    if (anyNA(y)) {
      fwdprop_error(sprintf("`y` holds NA (first at position %d): remove those rows before training.",
                            which(is.na(y))[[1L]]), call = call)
    }
    if (k == 1L && out == "sigmoid" && length(yl) == 2L) {
      y <- matrix(as.double(as.integer(y) == 2L), ncol = 1L)
    } else if (k == length(yl) && k > 1L) {
      cls <- as.integer(y)
      y <- matrix(0, n, k)
      y[cbind(seq_len(n), cls)] <- 1
    } else {
      fwdprop_error(sprintf(paste(
        "`y` is a factor with %d levels but the network has %d output%s (%s):",
        "a factor needs one softmax output per level, or one sigmoid output for two levels."
      ), length(yl), k, if (k == 1L) "" else "s", out), call = call)
    }
  } else {
    if (is.data.frame(y)) {
      fwdprop_error("`y` must be a numeric vector, matrix or factor, not a data frame. Use `as.matrix()` or pick the column.",
                    call = call)
    }
    check_numeric(y, "y", call = call)
    if (is.null(dim(y))) {
      if (k != 1L) {
        fwdprop_error(sprintf(paste(
          "`y` is a vector but the network has %d outputs: give a matrix with %d columns",
          "(one-hot for classes), or a factor."
        ), k, k), call = call)
      }
      y <- matrix(as.double(y), ncol = 1L)
    } else {
      y <- as_double_matrix(y, "y", call = call)
    }
    if (!identical(dim(y), c(as.integer(n), as.integer(k)))) {
      fwdprop_error(sprintf("`y` must be %dx%d (one row per row of `x`, one column per output), not %s.",
                            n, k, shape_string(y)), call = call)
    }
    ts <- net[["target_scaling"]]
    if (!is.null(ts)) {
      y <- scale_columns(y, ts$center, ts$scale)
    }
  }
  check_finite(y, "y", call = call)
  if (loss %in% c("bce", "cross_entropy") && (any(y < 0) || any(y > 1))) {
    bad <- which(y < 0 | y > 1)[[1L]]
    fwdprop_error(sprintf(
      "`loss = \"%s\"` needs targets in [0, 1] (probabilities or 0/1 classes), but `y` holds %s (first at position %d).",
      loss, format(y[[bad]]), bad
    ), call = call)
  }
  dimnames(y) <- NULL
  y
}
