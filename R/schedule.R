#' Learning-rate schedules
#'
#' A schedule changes `fit()`'s `learn_rate` from epoch to epoch, as
#' torch's learning-rate schedulers do when their `step()` is called once
#' per epoch. Give one as `fit(lr_schedule = )` (or to [mlp()]); the rate
#' of each epoch is recorded in the history's `lr` column. Epochs are
#' counted from 0 below, `lr0` is `learn_rate`:
#'
#' * `schedule_step()`: `lr0 * gamma^floor(epoch / step_size)` (torch's
#'   `lr_step()`, `StepLR`);
#' * `schedule_exponential()`: `lr0 * gamma^epoch` (`ExponentialLR`);
#' * `schedule_cosine()`: `eta_min + (lr0 - eta_min) * (1 + cos(pi * epoch
#'   / T_max)) / 2` (`CosineAnnealingLR`, its closed form; past `T_max` the
#'   rate rises again, as torch's does);
#' * `schedule_plateau()`: multiplies the rate by `factor` (not below
#'   `min_lr`) when the monitored loss has not improved for more than
#'   `patience` epochs, an improvement being a loss below `best * (1 -
#'   threshold)`; after a reduction, `cooldown` epochs pass before counting
#'   again (`ReduceLROnPlateau` with `mode = "min"` and `threshold_mode =
#'   "rel"`, and its defaults). It monitors `val_loss` when `fit()` holds
#'   rows out (`validation > 0`), else the training loss.
#'
#' `lr_schedule = "constant"` (the default) keeps `learn_rate`; the names
#' `"step"`, `"exponential"`, `"cosine"` and `"plateau"` stand for these
#' constructors with their defaults (`"cosine"` with `T_max = epochs`).
#'
#' @param step_size Epochs between reductions, a whole number `>= 1`.
#' @param gamma Factor of each reduction, `> 0` (usually below 1).
#' @param T_max Epochs of the half-period, a whole number `>= 1`; `NULL`:
#'   `fit()`'s `epochs`.
#' @param eta_min The smallest rate, `>= 0`.
#' @param factor Factor of a reduction, in `(0, 1)`.
#' @param patience Epochs without improvement before a reduction, a whole
#'   number `>= 0`.
#' @param threshold Relative improvement that counts, `>= 0`.
#' @param min_lr The rate is never reduced below this, `>= 0`.
#' @param cooldown Epochs after a reduction before epochs without
#'   improvement are counted again, a whole number `>= 0`.
#' @return A `fwdprop_schedule` object for `fit(lr_schedule = )`.
#' @seealso [fit()]
#' @name schedules
#' @examples
#' x <- scale(as.matrix(iris[, 1:4]))
#' net <- network(c(4, 8, 3), activation = "relu", output = "softmax", bias = TRUE,
#'                init = "he", seed = 1)
#' f <- fit(net, x, iris$Species, epochs = 20, learn_rate = 0.05,
#'          lr_schedule = schedule_step(step_size = 5, gamma = 0.5), seed = 1)
#' f$history$lr
#' schedule_cosine(T_max = 50, eta_min = 1e-4)
NULL

#' @rdname schedules
#' @export
schedule_step <- function(step_size = 10, gamma = 0.1) {
  fun <- sys.call()
  new_schedule("step", step_size = schedule_count(step_size, "step_size", fun),
               gamma = schedule_positive(gamma, "gamma", fun))
}

#' @rdname schedules
#' @export
schedule_exponential <- function(gamma = 0.95) {
  fun <- sys.call()
  new_schedule("exponential", gamma = schedule_positive(gamma, "gamma", fun))
}

#' @rdname schedules
#' @export
schedule_cosine <- function(T_max = NULL, eta_min = 0) {
  fun <- sys.call()
  new_schedule("cosine", T_max = if (is.null(T_max)) NULL else schedule_count(T_max, "T_max", fun),
               eta_min = schedule_nonnegative(eta_min, "eta_min", fun))
}

#' @rdname schedules
#' @export
schedule_plateau <- function(factor = 0.1, patience = 10, threshold = 1e-4, min_lr = 0, cooldown = 0) {
  fun <- sys.call()
  if (!is.numeric(factor) || length(factor) != 1L || is.na(factor) || factor <= 0 || factor >= 1) {
    fwdprop_error(sprintf("`factor` must be a single number in (0, 1), not %s.", describe_value(factor)),
                  call = fun)
  }
  new_schedule("plateau", factor = as.double(factor),
               patience = schedule_count(patience, "patience", fun, min = 0),
               threshold = schedule_nonnegative(threshold, "threshold", fun),
               min_lr = schedule_nonnegative(min_lr, "min_lr", fun),
               cooldown = schedule_count(cooldown, "cooldown", fun, min = 0))
}

new_schedule <- function(type, ...) structure(list(type = type, ...), class = "fwdprop_schedule")

#' @export
format.fwdprop_schedule <- function(x, ...) {
  args <- unclass(x)[-1L]
  args <- args[!vapply(args, is.null, logical(1L))]
  sprintf("<fwdprop schedule> %s(%s)", x$type,
          paste(names(args), vapply(args, format, character(1L)), sep = " = ", collapse = ", "))
}

#' @export
print.fwdprop_schedule <- function(x, ...) {
  cat(format(x), "\n", sep = "")
  invisible(x)
}

schedule_count <- function(x, arg, fun, min = 1) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) || x < min || x != floor(x)) {
    fwdprop_error(sprintf("`%s` must be a whole number >= %d, not %s.", arg, min, describe_value(x)), call = fun)
  }
  as.double(x)
}

schedule_positive <- function(x, arg, fun) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) || x <= 0) {
    fwdprop_error(sprintf("`%s` must be a single number > 0, not %s.", arg, describe_value(x)), call = fun)
  }
  as.double(x)
}

schedule_nonnegative <- function(x, arg, fun) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) || x < 0) {
    fwdprop_error(sprintf("`%s` must be a single number >= 0, not %s.", arg, describe_value(x)), call = fun)
  }
  as.double(x)
}

# fit()'s `lr_schedule`: NULL for "constant", else a schedule (names
# stand for the constructors' defaults; cosine's T_max defaults to the
# epochs).
check_lr_schedule <- function(x, optimizer, call) {
  if (is.character(x) && length(x) == 1L && !is.na(x)) {
    x <- switch(x, constant = NULL, step = schedule_step(), exponential = schedule_exponential(),
                cosine = schedule_cosine(), plateau = schedule_plateau(),
                fwdprop_error(sprintf(paste("`lr_schedule` must be \"constant\", \"step\", \"exponential\",",
                                            "\"cosine\", \"plateau\" or a schedule such as",
                                            "`schedule_step()`, not %s."), describe_value(x)), call = call))
  } else if (!is.null(x) && !inherits(x, "fwdprop_schedule")) {
    fwdprop_error(sprintf(paste("`lr_schedule` must be \"constant\" or a schedule from `schedule_step()`,",
                                "`schedule_exponential()`, `schedule_cosine()` or `schedule_plateau()`, not %s."),
                          describe_value(x)), call = call)
  }
  if (!is.null(x) && optimizer == "bfgs") {
    fwdprop_error("`lr_schedule` changes the `learn_rate` of `optimizer = \"adam\"` or `\"sgd\"`; BFGS has none.",
                  call = call)
  }
  x
}

# A schedule's running state: the rate of the next epoch, and what the
# plateau rule counts. A cosine schedule's T_max is by default the run's
# epochs.
schedule_start <- function(schedule, lr0, epochs) {
  if (!is.null(schedule) && schedule$type == "cosine" && is.null(schedule$T_max)) {
    schedule$T_max <- as.double(epochs)
  }
  st <- new.env(parent = emptyenv())
  st$schedule <- schedule
  st$lr0 <- lr0
  st$lr <- lr0
  st$best <- Inf
  st$bad <- 0
  st$cooldown <- 0
  st
}

# After epoch `epoch` (counted from 1) with monitored loss `loss`: the
# rate of the next epoch, as torch's scheduler.step() after that epoch.
schedule_advance <- function(st, epoch, loss) {
  s <- st$schedule
  if (is.null(s)) return(invisible(st))
  st$lr <- switch(s$type,
    step = st$lr0 * s$gamma^floor(epoch / s$step_size),
    exponential = st$lr0 * s$gamma^epoch,
    cosine = s$eta_min + (st$lr0 - s$eta_min) * (1 + cos(pi * epoch / s$T_max)) / 2,
    plateau = plateau_step(st, s, loss)
  )
  invisible(st)
}

# ReduceLROnPlateau.step(loss), mode "min", threshold_mode "rel".
plateau_step <- function(st, s, loss) {
  if (is.finite(loss) && loss < st$best * (1 - s$threshold)) {
    st$best <- loss
    st$bad <- 0
  } else {
    st$bad <- st$bad + 1
  }
  if (st$cooldown > 0) {
    st$cooldown <- st$cooldown - 1
    st$bad <- 0
  }
  lr <- st$lr
  if (st$bad > s$patience) {
    new <- max(lr * s$factor, s$min_lr)
    if (lr - new > 1e-8) lr <- new
    st$cooldown <- s$cooldown
    st$bad <- 0
  }
  lr
}
