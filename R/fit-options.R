# The training options of fit() beyond the optimiser: row weights (case
# and class weights), and their checks. fit() calls these and hands the
# results to Rust.

# The weight of each row: `weights` (one per row, >= 0) times the weight
# of the row's class in `class_weights`; NULL when both are NULL (every
# row weighs 1, and the loss is the plain mean).
fit_row_weights <- function(weights, class_weights, y, n, call) {
  w <- NULL
  if (!is.null(weights)) {
    if (!is.numeric(weights) || !is.null(dim(weights)) || length(weights) != n) {
      fwdprop_error(sprintf("`weights` must be a numeric vector with one weight per row of `x` (%d), not %s.",
                            n, describe_value(weights)), call = call)
    }
    if (anyNA(weights) || any(!is.finite(weights)) || any(weights < 0)) {
      fwdprop_error("`weights` must be finite and >= 0 (no NA).", call = call)
    }
    w <- as.double(weights)
  }
  if (!is.null(class_weights)) {
    cw <- check_class_weights(class_weights, y, call)
    w <- (if (is.null(w)) 1 else w) * unname(cw[as.integer(y)])
  }
  if (!is.null(w) && !(sum(w) > 0)) {
    fwdprop_error("the rows' weights (`weights` times `class_weights`) add up to 0: nothing to learn from.",
                  call = call)
  }
  w
}

# The weight of each level of the factor `y`: from a named vector (by
# level), an unnamed one (in the order of the levels) or "balanced"
# (n / (k * n_c): each class as heavy in total as the others).
check_class_weights <- function(cw, y, call) {
  if (!is.factor(y)) {
    fwdprop_error(paste("`class_weights` needs a factor `y` (the classes); `y` is",
                        paste0(describe_object(y), ".")), call = call)
  }
  lev <- levels(y)
  k <- length(lev)
  if (identical(cw, "balanced")) {
    counts <- tabulate(as.integer(y), nbins = k)
    return(stats::setNames(ifelse(counts > 0, length(y) / (k * pmax(counts, 1)), 0), lev))
  }
  if (!is.numeric(cw) || anyNA(cw) || any(!is.finite(cw)) || any(cw < 0)) {
    fwdprop_error(sprintf("`class_weights` must be \"balanced\" or numbers >= 0, one per class, not %s.",
                          describe_value(cw)), call = call)
  }
  if (is.null(names(cw))) {
    if (length(cw) != k) {
      fwdprop_error(sprintf("`class_weights` without names must give one weight per level of `y` (%d: %s), not %d.",
                            k, paste(lev, collapse = ", "), length(cw)), call = call)
    }
    return(stats::setNames(as.double(cw), lev))
  }
  unknown <- setdiff(names(cw), lev)
  missing_lev <- setdiff(lev, names(cw))
  if (length(unknown) > 0L || length(missing_lev) > 0L || anyDuplicated(names(cw))) {
    fwdprop_error(sprintf(
      "`class_weights` must name each level of `y` once (%s); %s.", paste(lev, collapse = ", "),
      if (length(unknown) > 0L) paste("unknown:", paste(unknown, collapse = ", "))
      else if (length(missing_lev) > 0L) paste("missing:", paste(missing_lev, collapse = ", "))
      else "a name is repeated"
    ), call = call)
  }
  stats::setNames(as.double(cw[lev]), lev)
}

# `clip_norm`: NULL (no clipping) or a number > 0, for the minibatch
# optimisers.
check_clip_norm <- function(clip_norm, optimizer, call) {
  if (is.null(clip_norm)) return(NULL)
  clip_norm <- check_positive(clip_norm, "clip_norm", call = call)
  if (optimizer == "bfgs") {
    fwdprop_error("`clip_norm` clips the steps of `optimizer = \"adam\"` or `\"sgd\"`; BFGS takes no such steps.",
                  call = call)
  }
  clip_norm
}

# `dropout`: a probability in [0, 1), for the minibatch optimisers.
check_dropout <- function(dropout, optimizer, net, call) {
  dropout <- check_fraction(dropout, "dropout", call = call)
  if (dropout > 0 && optimizer == "bfgs") {
    fwdprop_error(paste("`dropout` drops units in the steps of `optimizer = \"adam\"` or `\"sgd\"`;",
                        "BFGS needs one fixed loss to minimise."), call = call)
  }
  if (dropout > 0 && length(net$weights) < 2L) {
    fwdprop_error(paste("`dropout` drops hidden units, but the network has no hidden layer",
                        sprintf("(its sizes are %s): add one, or leave `dropout = 0`.",
                                paste(net$sizes, collapse = "-"))), call = call)
  }
  dropout
}

# Row weights with a validation split: both parts need a positive total
# weight, or their mean loss is 0/0.
check_split_weights <- function(w, split, call) {
  for (part in c("train", "validation")) {
    if (length(split[[part]]) && !(sum(w[split[[part]]]) > 0)) {
      what <- if (part == "train") "training rows" else "held-out rows"
      fwdprop_error(sprintf(paste("The %s (%d of them) all have weight 0, so their mean loss is",
                                  "undefined: change `seed` or `validation`, or the weights."),
                            what, length(split[[part]])), call = call)
    }
  }
  invisible(w)
}
