#' @importFrom generics fit
#' @export
generics::fit

#' Train a network
#'
#' `fit(net, x, y)` learns the weights and biases of a network from data:
#' minibatch gradient descent (`"adam"`, `"sgd"`) whose epochs run
#' entirely in fwdprop's Rust core, or a full-batch quasi-Newton method
#' (`"bfgs"`, as nnet fits) through [stats::optim()] with fwdprop's exact
#' loss and gradient ([backward()]). It returns the network with the
#' learned weights and its training record; the network is an ordinary
#' `fwdprop_network` ([predict()][predict.fwdprop_network()],
#' [forward()], [plot()][plot.fwdprop_network()], [saveRDS()] work).
#'
#' @section Minibatch training:
#' Each epoch shuffles the training rows and takes one optimiser step per
#' `batch_size` rows (the last batch of an epoch may be smaller): the loss
#' and gradient of the batch ([backward()]'s definitions), then
#' * `"sgd"`: `v <- momentum * v + g`, `W <- W - learn_rate * v` (torch's
#'   `optim_sgd()`);
#' * `"adam"`: torch's `optim_adam()` with `betas = c(0.9, 0.999)` and
#'   `eps = 1e-8`.
#'
#' R is visited between epochs only (progress, early stopping); Ctrl-C is
#' noticed between steps and stops the training cleanly, returning the
#' network trained so far with a warning. The reported training `loss` of
#' an epoch is the mean over its rows of the loss at the step that used
#' them (as keras reports it).
#'
#' @section Validation and early stopping:
#' With `validation = p`, a fraction `p` of the rows is held out (drawn at
#' random) and `val_loss` is computed after every epoch (for `"bfgs"`,
#' at every iteration's accepted point); training stops when it has not
#' improved for `patience` epochs (iterations), and the weights of the
#' best epoch (iteration) are returned, with `stopped = "early_stopping"`.
#' Without `validation`, the weights of the last epoch are returned.
#'
#' @section Divergence:
#' A minibatch run stops with a warning, `stopped = "diverged"`, when an
#' epoch's training loss is `NaN` or infinite, or more than 10 times the
#' larger of the loss of the starting weights and the loss of a constant
#' prediction (the targets' column means for `"mse"`, their class
#' frequencies for `"bce"` and `"cross_entropy"`): a `learn_rate` too
#' large for the problem. It then returns the weights of the best epoch
#' (the lowest `val_loss`, or without validation the lowest training
#' loss; the starting weights when the first epoch diverged).
#'
#' @section Weight decay:
#' `weight_decay` has torch's meaning: `weight_decay / 2 * sum(W^2)` over
#' the weights (not the biases) added to the mean loss. `decay` has
#' [nnet::nnet()]'s: `decay * sum(w^2)` over the weights *and biases* added
#' to the summed loss (nnet minimises the sum of squared errors, or of
#' cross-entropies, over the rows), so on fwdprop's mean loss it adds
#' `decay / m * sum(w^2)`, `m` being the count the mean divides by (training
#' rows times outputs for `"mse"` and `"bce"`, training rows for
#' `"cross_entropy"`): the penalised loss times `m` is nnet's objective,
#' and a `"bfgs"` fit with `decay` minimises what nnet minimises. See
#' [backward()].
#'
#' @section Reproducibility:
#' The validation split and the shuffling come from a ChaCha20 stream
#' seeded by `seed` (drawn from R's generator when `NULL`, so [set.seed()]
#' governs `fit()`). The same seed gives the same fitted weights, bit for
#' bit, whatever the number of threads.
#'
#' @param object A network from [network()] (or a fitted one, to train
#'   further).
#' @param x The inputs: a numeric matrix or data frame, one row per sample.
#' @param y The targets; see [backward()].
#' @param loss `NULL` (chosen from the output activation) or one of
#'   `"mse"`, `"bce"`, `"cross_entropy"`; see [backward()].
#' @param optimizer `"adam"` (default), `"sgd"` or `"bfgs"`.
#' @param epochs Passes over the training rows (minibatch optimisers).
#' @param batch_size Rows per step (minibatch optimisers).
#' @param learn_rate Step size (minibatch optimisers). torch's default for
#'   Adam is 0.001; 0.01 trains small networks faster.
#' @param momentum Momentum of `"sgd"`, in `[0, 1)`.
#' @param lr_schedule How `learn_rate` changes from epoch to epoch
#'   (minibatch optimisers): `"constant"` (default), or a schedule such as
#'   [schedule_step()], [schedule_exponential()], [schedule_cosine()],
#'   [schedule_plateau()] (or their names, for their defaults); see
#'   [schedules]. The history records each epoch's rate as `lr`.
#' @param weight_decay `lambda >= 0`: adds `lambda / 2 * sum(W^2)` over
#'   the weights (not the biases) to the mean loss (torch's meaning; all
#'   optimisers).
#' @param decay `d >= 0`: nnet's `decay`, `d * sum(w^2)` over the weights
#'   and biases on the summed loss (all optimisers); see Weight decay. Not
#'   together with `weight_decay`.
#' @param l1 `lambda >= 0`: adds `lambda * sum(abs(W))` over the weights
#'   (not the biases, as `weight_decay`) to the mean loss (all optimisers);
#'   its gradient is `lambda * sign(W)`, 0 at 0.
#' @param clip_norm `NULL` (default) or a number `> 0` (minibatch
#'   optimisers): when the L2 norm of a step's gradient of the loss (over
#'   all weights and biases together, before the `weight_decay` and `l1`
#'   terms are added) exceeds it, the gradient is scaled by `clip_norm /
#'   (norm + 1e-6)`, as torch's `nn_utils_clip_grad_norm_()`.
#' @param dropout Probability `p` in `[0, 1)` of dropping each hidden
#'   unit during training (minibatch optimisers): inverted dropout, as
#'   torch's `nn_dropout()`, each unit of each row kept with probability
#'   `1 - p` and then scaled by `1 / (1 - p)`, on the outputs of every
#'   hidden layer (not the inputs, not the output layer). Only the training
#'   steps drop units: the reported `val_loss`, [forward()] and
#'   [predict()][predict.fwdprop_network()] use the whole network. The masks
#'   come from the stream seeded by `seed` (drawn row by row), so a fit
#'   stays reproducible and independent of the thread count.
#' @param weights `NULL` or case weights: one number `>= 0` per row of `x`
#'   (as nnet's `weights`). The loss becomes the weighted mean
#'   `sum(w * l) / sum(w)` of the rows' losses `l` (for `"mse"` and
#'   `"bce"`, `l` is the row's mean over the outputs), in every step, in
#'   the full-batch loss of `"bfgs"` and in the reported `loss` and
#'   `val_loss` (the held-out rows keep their weights). Whole-number
#'   weights are the same as repeating the rows. With `decay`, nnet's
#'   summed loss is the weighted sum.
#' @param class_weights `NULL`, or for a factor `y`, a weight per class:
#'   a numeric vector named by the levels of `y`, an unnamed one in the
#'   order of the levels, or `"balanced"` (`n / (k * n_c)` for a class of
#'   `n_c` of the `n` rows and `k` classes). Each row's weight is
#'   multiplied by its class's, and the loss is the weighted mean as for
#'   `weights`: the normalisation of torch's `nn_cross_entropy_loss(weight
#'   = )` with class targets.
#' @param validation Fraction of the rows held out for `val_loss`, in
#'   `[0, 1)` (all optimisers).
#' @param patience Epochs (`"bfgs"`: iterations) without improvement of
#'   `val_loss` before stopping (with `validation > 0`); `NULL` never
#'   stops early.
#' @param maxit Iterations of `"bfgs"`.
#' @param seed `NULL` or a whole number; see Reproducibility.
#' @param threads Number of threads; by default [fwdprop_threads()].
#' @param verbose Show a progress bar with the epoch and losses (by
#'   default in interactive sessions, never while knitting).
#' @param ... Not used; any argument here is an error (a misspelt
#'   argument would otherwise be ignored).
#' @return The network with the learned weights (and, when `y` is a factor,
#'   its levels as `$levels`, the classes of
#'   [predict(type = "class")][predict.fwdprop_network()] and the names of a
#'   softmax output's columns), `$history`, the training history (a data
#'   frame of class `fwdprop_history`: `epoch`, `loss`, `val_loss`, `time`
#'   in seconds since the start; one row per iteration for `"bfgs"`), and
#'   `$training`, a list with `loss`, `optimizer`, `settings`, `best_epoch`,
#'   `stopped` (why training ended: `"completed"` (every epoch ran),
#'   `"early_stopping"`,
#'   `"converged"`, `"maxit"`, `"diverged"` or `"interrupted"`), `rows`
#'   (trained on and held out), `seed` and `time`.
#' @seealso [mlp()] to build, scale and fit in one call with a formula;
#'   [backward()]; [plot.fwdprop_history()].
#' @name fit.fwdprop_network
#' @export
#' @examples
#' # XOR: a problem a network without a hidden layer cannot learn
#' x <- matrix(c(0, 0, 1, 1, 0, 1, 0, 1), ncol = 2)
#' y <- c(0, 1, 1, 0)
#' net <- network(c(2, 4, 1), activation = "tanh", output = "sigmoid",
#'                bias = TRUE, init = "xavier", seed = 1)
#' fitted <- fit(net, x, y, epochs = 500, batch_size = 4, learn_rate = 0.05, seed = 1)
#' round(predict(fitted, x), 3)
#' plot(fitted$history)
#'
#' # full-batch BFGS, as nnet fits
#' fitted2 <- fit(net, x, y, optimizer = "bfgs", maxit = 200)
#' fitted2$training$stopped
fit.fwdprop_network <- function(object, x, y, loss = NULL,
                                optimizer = c("adam", "sgd", "bfgs"), epochs = 100,
                                batch_size = 32, learn_rate = 0.01, momentum = 0,
                                lr_schedule = "constant",
                                weight_decay = 0, decay = 0, l1 = 0, clip_norm = NULL, dropout = 0,
                                weights = NULL, class_weights = NULL,
                                validation = 0, patience = 10,
                                maxit = 100, seed = NULL, threads = NULL,
                                verbose = interactive(), ...) {
  call <- sys.call()
  check_no_dots(..., fun = "fit()", call = call,
                choices = setdiff(names(formals(fit.fwdprop_network)), c("object", "...")))
  d <- learning_data(object, x, y, loss, call = call, net_arg = "object")
  optimizer <- check_choice(optimizer, "optimizer", c("adam", "sgd", "bfgs"), call = call)
  validation <- check_fraction(validation, "validation", call = call)
  n <- nrow(d$x)
  d$w <- fit_row_weights(weights, class_weights, y, n, call = call)
  l1 <- check_weight_decay(l1, call = call, arg = "l1")
  clip_norm <- check_clip_norm(clip_norm, optimizer, call = call)
  lr_schedule <- check_lr_schedule(lr_schedule, optimizer, call = call)
  dropout <- check_dropout(dropout, optimizer, d$net, call = call)
  n_val <- round(validation * n)
  if (n - n_val < 1L) {
    fwdprop_error(sprintf("`validation = %s` of %d rows leaves none to train on.",
                          format(validation), n), call = call)
  }
  if (validation > 0 && n_val < 1L) {
    fwdprop_error(sprintf("`validation = %s` of %d rows holds out no row: use a larger fraction, or 0.",
                          format(validation), n), call = call)
  }
  patience <- if (is.null(patience)) NULL else check_count(patience, "patience", call = call)
  threads <- if (is.null(threads)) fwdprop_threads() else check_count(threads, "threads", call = call)
  verbose <- check_flag(verbose, "verbose", call = call)
  seed <- check_seed(seed, call = call)
  # the decay's lambdas on the mean loss of the training rows (with row
  # weights, nnet's summed loss is the weighted sum: the mean divides by
  # the training rows' total weight)
  rows <- n - n_val
  if (!is.null(d$w)) {
    split <- if (n_val > 0L) validation_split_impl(n, n_val, seed) else list(train = seq_len(n))
    check_split_weights(d$w, split, call)
    rows <- sum(d$w[split$train])
  }
  lambdas <- decay_lambdas(weight_decay, decay, d$loss, rows, ncol(d$y), call = call)
  net <- d$net
  settings <- list(loss = d$loss, optimizer = optimizer, weight_decay = as.double(weight_decay),
                   decay = as.double(decay), l1 = l1, clip_norm = clip_norm, dropout = dropout,
                   validation = validation, seed = seed, lambdas = lambdas)
  if (optimizer == "bfgs") {
    maxit <- check_count(maxit, "maxit", call = call)
    settings$maxit <- maxit
    settings$patience <- patience
    run <- fit_bfgs(net, d, n_val, settings, threads, verbose, call)
  } else {
    epochs <- check_count(epochs, "epochs", call = call)
    batch_size <- check_count(batch_size, "batch_size", call = call)
    learn_rate <- check_positive(learn_rate, "learn_rate", call = call)
    if (!is.numeric(momentum) || length(momentum) != 1L || is.na(momentum) ||
        momentum < 0 || momentum >= 1) {
      fwdprop_error(sprintf("`momentum` must be a single number in [0, 1), not %s.",
                            describe_value(momentum)), call = call)
    }
    if (optimizer == "adam" && momentum != 0) {
      fwdprop_error("`momentum` is a setting of `optimizer = \"sgd\"`; Adam keeps its own moments.",
                    call = call)
    }
    settings <- c(settings, list(epochs = epochs, batch_size = batch_size, learn_rate = learn_rate,
                                 momentum = as.double(momentum), patience = patience,
                                 lr_schedule = lr_schedule))
    run <- fit_minibatch(net, d, n_val, settings, threads, verbose, call)
  }
  for (l in seq_along(net$weights)) {
    w <- run$params$weights[[l]]
    dimnames(w) <- dimnames(net$weights[[l]])
    net$weights[[l]] <- w
    b <- run$params$biases[[l]]
    if (!is.null(b)) names(b) <- names(net$biases[[l]])
    net$biases[l] <- list(b)
  }
  warn_stopped(run, call)
  settings$lambdas <- NULL
  if (is.factor(y) && is.null(net[["levels"]])) {
    # the classes the network learned: predict(type = "class") returns
    # them, and a softmax output's columns are named by them
    net$levels <- levels(y)
    L <- length(net$weights)
    if (ncol(net$weights[[L]]) == length(net$levels) && is.null(colnames(net$weights[[L]]))) {
      colnames(net$weights[[L]]) <- net$levels
    }
  }
  net$history <- run$history
  net$training <- list(
    loss = d$loss, optimizer = optimizer,
    settings = settings, best_epoch = run$best_epoch, stopped = run$stopped,
    rows = c(train = n - n_val, validation = n_val), seed = seed,
    time = run$time
  )
  net
}

# The warning of a run that diverged or was interrupted.
warn_stopped <- function(run, call) {
  if (run$stopped == "diverged") {
    at <- nrow(run$history) + is.null(run$diverged_loss)
    returning <- if (run$best_epoch == 0L) "the starting weights" else sprintf("the weights of epoch %d", run$best_epoch)
    msg <- if (!is.null(run$diverged_loss)) {
      sprintf(paste(
        "the training loss diverged in epoch %d (%s, more than 10 times %s, the larger of the starting loss",
        "and a constant prediction's); returning %s. Try a smaller `learn_rate`."
      ), at, format(run$diverged_loss, digits = 4L), format(run$reference_loss, digits = 4L), returning)
    } else if (at == 1L) {
      paste("the training loss diverged: it was NaN or infinite from the first step of epoch 1; returning the",
            "starting weights. Check the scale of `x` and `y` (large values overflow), or try a smaller `learn_rate`.")
    } else {
      sprintf("the training loss diverged: it became NaN or infinite in epoch %d; returning %s. Try a smaller `learn_rate`.",
              at, returning)
    }
    warning(fwdprop_warning(msg, call = call))
  }
  if (run$stopped == "interrupted") {
    warning(fwdprop_warning(sprintf(
      "training interrupted after %d epoch%s; returning the network trained so far.",
      nrow(run$history), if (nrow(run$history) == 1L) "" else "s"
    ), call = call))
  }
}

# The loss of a constant prediction of `y` (n x k, double): the column
# means for "mse", the class frequencies for "bce" and "cross_entropy" (0
# log 0 = 0), as fwdprop's mean losses.
constant_loss <- function(y, loss) {
  p <- colMeans(y)
  xlogy <- function(a, b) ifelse(a == 0, 0, a * log(b))
  switch(loss,
    mse = mean(sweep(y, 2L, p)^2),
    bce = mean(-(xlogy(y, rep(p, each = nrow(y))) + xlogy(1 - y, rep(1 - p, each = nrow(y))))),
    cross_entropy = -sum(xlogy(colSums(y), p)) / nrow(y)
  )
}

# The minibatch optimisers: one call into Rust per epoch.
fit_minibatch <- function(net, d, n_val, s, threads, verbose, call) {
  cfg <- list(loss = s$loss, optimizer = s$optimizer, learn_rate = s$learn_rate,
              momentum = s$momentum, beta1 = 0.9, beta2 = 0.999, eps = 1e-8,
              weight_decay = s$lambdas[[1L]], bias_decay = s$lambdas[[2L]],
              batch_size = s$batch_size, threads = threads,
              row_weights = d$w, l1 = s$l1, clip_norm = if (is.null(s$clip_norm)) 0 else s$clip_norm,
              dropout = s$dropout)
  # the trainer holds a copy of the data, the parameters three or four
  # times (current, best, the optimiser's state) and a gradient buffer
  params <- sum(lengths(net$weights)) + sum(lengths(net$biases))
  check_memory(8 * (length(d$x) + length(d$y) + 5 * params), "training this network on this data",
               call = call)
  trainer <- in_rust(trainer_new_impl(d$x, d$y, net$weights, net$biases, net$activations, cfg,
                                      n_val, s$seed), call = call)
  epochs <- s$epochs
  # an epoch whose training loss is more than 10 times this has diverged
  reference <- max(constant_loss(d$y, s$loss),
                   in_rust(backward_impl(d$x, d$y, net$weights, net$biases, net$activations, s$loss, 0,
                                         FALSE, threads), call = call)$loss)
  if (is.na(reference)) reference <- Inf
  diverged_loss <- NULL
  # the history grows as epochs are done (a run may stop long before
  # `epochs`): vectors of doubling length, filled in place
  hist <- history_buffer()
  start <- proc.time()[["elapsed"]]
  best <- Inf
  best_epoch <- 0L
  since_best <- 0L
  stopped <- "completed"
  done <- 0L
  bar <- progress_start(verbose, epochs)
  on.exit(progress_done(bar), add = TRUE)
  sched <- schedule_start(s$lr_schedule, s$learn_rate, epochs)
  tryCatch({
    for (e in seq_len(epochs)) {
      if (!is.null(sched$schedule)) in_rust(trainer_set_learn_rate_impl(trainer, sched$lr), call = call)
      r <- in_rust(trainer_epoch_impl(trainer), call = call)
      if (r[[4L]] == 1) {
        stopped <- "diverged"
        break
      }
      if (r[[1L]] > 10 * reference) {
        stopped <- "diverged"
        diverged_loss <- r[[1L]]
      }
      val <- if (n_val > 0L) in_rust(trainer_validation_loss_impl(trainer), call = call) else NA_real_
      history_add(hist, e, r[[1L]], val, proc.time()[["elapsed"]] - start, lr = sched$lr)
      # an epoch counts once its row of the history is complete (an
      # interrupt may arrive between any two lines)
      done <- e
      progress_update(bar, e, r[[1L]], val)
      if (!is.null(diverged_loss)) break
      # the best epoch: the lowest val_loss, or without validation the
      # lowest training loss (returned when the run diverges or is
      # interrupted; a completed run without validation returns its last)
      monitored <- if (n_val > 0L) val else r[[1L]]
      schedule_advance(sched, e, monitored)
      if (monitored < best) {
        best <- monitored
        best_epoch <- e
        since_best <- 0L
        trainer_save_best_impl(trainer)
      } else {
        since_best <- since_best + 1L
      }
      if (r[[3L]] == 1) {
        stopped <- "interrupted"
        break
      }
      if (n_val > 0L && !is.null(s$patience) && since_best >= s$patience) {
        stopped <- "early_stopping"
        break
      }
    }
  }, interrupt = function(cnd) {
    stopped <<- "interrupted"
  })
  last <- n_val == 0L && stopped == "completed"
  list(params = trainer_params_impl(trainer, !last), history = history_frame(hist, done),
       best_epoch = if (last) done else best_epoch, stopped = stopped,
       diverged_loss = diverged_loss, reference_loss = reference,
       time = proc.time()[["elapsed"]] - start)
}

# A training history under construction: columns of doubling length in an
# environment, written in place, so that recording an epoch costs the same
# after 10 epochs as after 1e6 (a data frame row assignment copies every
# column each time).
history_buffer <- function(size = 64L) {
  h <- new.env(parent = emptyenv())
  h$epoch <- integer(size)
  h$loss <- h$val_loss <- h$time <- h$lr <- rep(NA_real_, size)
  h
}

history_add <- function(h, i, loss, val, time, lr = NA_real_) {
  values <- list(epoch = i, loss = loss, val_loss = val, time = time, lr = lr)
  for (name in names(values)) {
    # taken out of the environment while it is changed, so that it is
    # changed in place (a vector still bound there would be copied whole)
    v <- h[[name]]
    h[[name]] <- NULL
    if (i > length(v)) v <- c(v, v[NA_integer_][seq_along(v)])
    v[i] <- values[[name]]
    h[[name]] <- v
  }
  invisible(h)
}

# The first `n` rows of a history buffer as the history's data frame.
history_frame <- function(h, n) {
  keep <- seq_len(n)
  df <- data.frame(epoch = h$epoch[keep], loss = h$loss[keep], val_loss = h$val_loss[keep],
                   time = h$time[keep])
  # the learning rate of each epoch (minibatch optimisers)
  if (any(!is.na(h$lr[keep]))) df$lr <- h$lr[keep]
  as_history(df)
}

# The full-batch optimiser: stats::optim()'s BFGS with fwdprop's loss and
# gradient (one call into Rust for both; optim asks for the gradient at
# the point whose loss it has just asked for, so it is kept).
fit_bfgs <- function(net, d, n_val, s, threads, verbose, call) {
  sizes <- net$sizes
  has_bias <- !vapply(net$biases, is.null, logical(1L))
  acts <- net$activations
  x <- d$x
  y <- d$y
  w <- d$w
  xv <- yv <- wv <- NULL
  if (n_val > 0L) {
    split <- validation_split_impl(nrow(x), n_val, s$seed)
    xv <- x[split$validation, , drop = FALSE]
    yv <- y[split$validation, , drop = FALSE]
    x <- x[split$train, , drop = FALSE]
    y <- y[split$train, , drop = FALSE]
    if (!is.null(w)) {
      wv <- w[split$validation]
      w <- w[split$train]
    }
  }
  # the flat parameters in the core's layout (defined once, in Rust), and
  # which of them are weights (the history reports the data loss, without
  # the decay, as for the minibatch optimisers)
  flat <- flat_params_impl(net$weights, net$biases, net$activations)
  par <- flat$par
  is_weight <- flat$is_weight
  lambdas <- s$lambdas
  cache <- new.env(parent = emptyenv())
  evaluate <- function(p) {
    if (!identical(p, cache$par)) {
      r <- flat_gradient_impl(p, x, y, w, sizes, has_bias, acts, s$loss, lambdas, s$l1, threads)
      cache$par <- p
      cache$loss <- r$loss
      cache$gradient <- r$gradient
    }
    cache
  }
  start <- proc.time()[["elapsed"]]
  hist <- history_buffer()
  iterations <- 0L
  # the best point BFGS has accepted (it asks for the gradient once per
  # iteration, at the accepted point; the loss alone is asked at line-search
  # probes too, which may be far worse): by the validation loss with
  # validation rows, else by the training objective; what an interrupted or
  # early-stopped run, and any run with validation, returns
  accepted <- new.env(parent = emptyenv())
  accepted$par <- par
  accepted$score <- Inf
  accepted$iteration <- 0L
  accepted$since <- 0L
  bar <- progress_start(verbose, s$maxit)
  on.exit(progress_done(bar), add = TRUE)
  fn <- function(p) {
    v <- evaluate(p)$loss
    if (is.finite(v)) v else .Machine$double.xmax
  }
  gr <- function(p) {
    e <- evaluate(p)
    i <- iterations + 1L
    val <- if (n_val > 0L) {
      flat_gradient_impl(p, xv, yv, wv, sizes, has_bias, acts, s$loss, 0, 0, threads)$loss
    } else {
      NA_real_
    }
    score <- if (n_val > 0L) val else e$loss
    if (is.finite(score) && (score < accepted$score || (n_val == 0L && score <= accepted$score))) {
      accepted$par <- p
      accepted$score <- score
      accepted$iteration <- i
      accepted$since <- 0L
    } else {
      accepted$since <- accepted$since + 1L
    }
    data_loss <- e$loss - 0.5 * (lambdas[[1L]] * sum(p[is_weight]^2) + lambdas[[2L]] * sum(p[!is_weight]^2)) -
      s$l1 * sum(abs(p[is_weight]))
    history_add(hist, i, data_loss, val, proc.time()[["elapsed"]] - start)
    iterations <<- i
    progress_update(bar, i, data_loss, val)
    if (n_val > 0L && !is.null(s$patience) && accepted$since >= s$patience) {
      # no better validation loss for `patience` iterations: out of optim
      # (a condition that is not an error: in_rust() lets it through)
      stop(structure(class = c("fwdprop_early_stop", "condition"),
                     list(message = "early stopping", call = NULL)))
    }
    e$gradient
  }
  stopped <- NULL
  res <- tryCatch(
    # fnscale: optim works on the summed loss, as nnet (with row weights the
    # weighted sum, as for repeated rows)
    in_rust(stats::optim(par, fn, gr, method = "BFGS",
                         control = list(maxit = s$maxit, fnscale = 1 / (if (is.null(w)) nrow(x) else sum(w)))),
            call = call),
    interrupt = function(cnd) {
      stopped <<- "interrupted"
      NULL
    },
    fwdprop_early_stop = function(cnd) {
      stopped <<- "early_stopping"
      NULL
    }
  )
  best <- iterations
  if (is.null(res) || n_val > 0L) {
    # with validation rows, the best iteration by validation loss
    p <- accepted$par
    best <- accepted$iteration
  } else {
    p <- res$par
  }
  if (!is.null(res)) {
    stopped <- if (res$convergence == 0L) "converged" else "maxit"
  }
  list(params = unflatten_params_impl(p, sizes, has_bias), history = history_frame(hist, iterations),
       best_epoch = best, stopped = stopped,
       time = proc.time()[["elapsed"]] - start)
}

as_history <- function(h) {
  rownames(h) <- NULL
  h$epoch <- as.integer(h$epoch)
  class(h) <- c("fwdprop_history", "data.frame")
  h
}

# A progress bar on the console (cli) in interactive use; nothing while
# knitting or when `verbose` is FALSE.
progress_start <- function(verbose, total) {
  if (!verbose || isTRUE(getOption("knitr.in.progress"))) {
    return(NULL)
  }
  env <- new.env()
  env$id <- cli::cli_progress_bar(
    total = total, clear = FALSE, .envir = env,
    format = "epoch {cli::pb_current}/{cli::pb_total} {cli::pb_bar} loss {loss} {val} {cli::pb_eta_str}"
  )
  env$loss <- ""
  env$val <- ""
  env
}

progress_update <- function(bar, i, loss, val) {
  if (is.null(bar)) return(invisible())
  bar$loss <- format(loss, digits = 4L)
  bar$val <- if (is.na(val)) "" else paste("val_loss", format(val, digits = 4L))
  cli::cli_progress_update(id = bar$id, set = i, .envir = bar)
}

progress_done <- function(bar) {
  if (!is.null(bar)) cli::cli_progress_done(id = bar$id, .envir = bar)
}

#' Plot a training history
#'
#' Draws the training loss (and the validation loss, when there is one)
#' against the epoch, with base graphics on the current device (so it
#' renders in R Markdown). The best epoch by validation loss is marked.
#'
#' @param x A `fwdprop_history` (`fitted$history`).
#' @param log `"y"` (default) for a log-scaled loss axis when all losses
#'   are positive, or `""`.
#' @param ... Passed to [plot()] (e.g. `main`).
#' @return `x`, invisibly.
#' @export
#' @examples
#' net <- network(c(4, 5, 3), output = "softmax", bias = TRUE, init = "xavier", seed = 1)
#' fitted <- fit(net, scale(iris[, 1:4]), iris$Species, epochs = 30, validation = 0.2, seed = 1)
#' plot(fitted$history)
plot.fwdprop_history <- function(x, log = "y", ...) {
  h <- x
  ok <- is.finite(h$loss)
  ys <- c(h$loss[ok], h$val_loss[is.finite(h$val_loss)])
  if (length(ys) == 0L) {
    fwdprop_error("`x` has no finite loss to plot.")
  }
  if (!identical(log, "y") || any(ys <= 0)) log <- ""
  args <- list(...)
  if (is.null(args$main)) args$main <- "Training history"
  do.call(graphics::plot, c(list(x = h$epoch[ok], y = h$loss[ok], type = "l", col = "#1f77b4",
                                 lwd = 2, xlab = "epoch", ylab = "loss", log = log,
                                 ylim = range(ys), xlim = range(h$epoch)), args))
  has_val <- any(is.finite(h$val_loss))
  if (has_val) {
    graphics::lines(h$epoch, h$val_loss, col = "#d62728", lwd = 2, lty = 2)
    b <- which.min(h$val_loss)
    graphics::points(h$epoch[b], h$val_loss[b], pch = 19, col = "#d62728")
  }
  graphics::legend("topright", legend = c("loss", if (has_val) "val_loss"),
                   col = c("#1f77b4", if (has_val) "#d62728"), lty = c(1, if (has_val) 2),
                   lwd = 2, bty = "n")
  invisible(x)
}

#' @export
print.fwdprop_history <- function(x, ...) {
  n <- nrow(x)
  cat(sprintf("<fwdprop history> %d epoch%s\n", n, if (n == 1L) "" else "s"))
  df <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  if (all(is.na(df$val_loss))) df$val_loss <- NULL
  print(if (n > 12L) rbind(utils::head(df, 6L), utils::tail(df, 6L)) else df, row.names = FALSE)
  invisible(x)
}
