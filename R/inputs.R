# From a user's data to a network's inputs and targets, and from its
# outputs to predictions: the one place that applies what a fitted or
# imported network carries (input names, formula terms, input scaling,
# target scaling, class levels). Used by predict(), backward(), fit() and
# score().
#
# The optional fields of a network (see ?network):
#   rownames(net$weights[[1]])  input names: inputs are picked by name
#   net$terms     list(terms, xlevels, contrasts): data frames go through
#                 model.matrix() as the formula of mlp() did
#   net$scaling   list(center, scale): inputs are (x - center) / scale
#   net$target_scaling  list(center, scale): outputs are y * scale + center
#   net$levels    class levels: one per softmax output, or two for a single
#                 sigmoid output (the second is the class of output 1)

# Whether predict() can hand `newdata` straight to forward().
is_plain_network <- function(net) {
  w <- net[["weights"]]
  is.null(net[["terms"]]) && is.null(net[["scaling"]]) && is.null(net[["target_scaling"]]) &&
    !(is.list(w) && length(w) > 0L && !is.null(rownames(w[[1L]])))
}

# The input names of a network (NULL when it has none).
input_names <- function(net) rownames(net[["weights"]][[1L]])

# `x` as the network's input matrix: through the formula's terms for a data
# frame (networks from mlp() with a formula), columns picked by the
# network's input names where `x` has column names, checked and coerced by
# as_input_matrix(), then scaled.
network_input <- function(net, x, arg = "x", call = sys.call(-1L)) {
  # row names of a data frame kept unless they are the automatic 1, 2, ...
  rn <- if (is.data.frame(x) && .row_names_info(x) > 0L) row.names(x) else NULL
  tt <- net[["terms"]]
  if (!is.null(tt) && is.data.frame(x)) {
    x <- model_matrix(tt, x, arg, call)
  }
  nm <- input_names(net)
  cn <- if (is.data.frame(x)) names(x) else colnames(x)
  if (!is.null(nm) && !is.null(cn) && (is.data.frame(x) || is.matrix(x))) {
    missing <- setdiff(nm, cn)
    if (length(missing) > 0L) {
      fwdprop_error(sprintf(
        "`%s` lacks %s the network takes by name: %s.", arg,
        if (length(missing) == 1L) "an input" else "inputs",
        paste0("`", utils::head(missing, 10L), "`", collapse = ", ")
      ), call = call)
    }
    if (!identical(cn, nm)) {
      x <- x[, nm, drop = FALSE]
    }
  }
  x <- as_input_matrix(x, net$sizes[[1L]], arg = arg, call = call)
  if (!is.null(rn) && is.null(rownames(x))) rownames(x) <- rn
  sc <- net[["scaling"]]
  if (!is.null(sc)) {
    x <- scale_columns(x, sc$center, sc$scale)
  }
  x
}

# (x - center) / scale by column, keeping dimnames.
scale_columns <- function(x, center, scale) {
  n <- nrow(x)
  dn <- dimnames(x)
  x <- (x - rep(center, each = n)) / rep(scale, each = n)
  dimnames(x) <- dn
  x
}

# model.matrix() of a data frame with the terms of a fitted formula (no
# intercept column), as predict.lm() builds it.
model_matrix <- function(tt, data, arg, call) {
  mf <- tryCatch(
    stats::model.frame(tt$terms, data, xlev = tt$xlevels, na.action = stats::na.pass),
    error = function(e) {
      fwdprop_error(sprintf("`%s` does not fit the network's formula: %s", arg, conditionMessage(e)),
                    call = call)
    }
  )
  x <- tryCatch(stats::model.matrix(tt$terms, mf, contrasts.arg = tt$contrasts), error = function(e) {
    # e.g. a column that was a factor in training but is not one here
    fwdprop_error(sprintf("`%s` does not fit the network's formula: %s (are its columns of the types they had in training?)",
                          arg, conditionMessage(e)), call = call)
  })
  x <- x[, colnames(x) != "(Intercept)", drop = FALSE]
  attr(x, "assign") <- NULL
  attr(x, "contrasts") <- NULL
  x
}

# The network's output (`out`, after the output activation) as the user's
# scale: regression targets un-scaled, class probabilities (`"prob"`: one
# column per class, also for a single sigmoid output) or classes.
network_output <- function(net, out, type, threshold = 0.5, call = sys.call(-1L)) {
  if (type == "class") {
    return(output_classes(net, out, threshold, call))
  }
  if (type == "prob") {
    return(output_probabilities(net, out, call))
  }
  ts <- net[["target_scaling"]]
  if (!is.null(ts)) {
    dn <- dimnames(out)
    out <- out * rep(ts$scale, each = nrow(out)) + rep(ts$center, each = nrow(out))
    dimnames(out) <- dn
  }
  out
}

# Refuses an output layer that gives no probabilities or classes.
check_classifier <- function(net, type, call) {
  act <- net$activations[[length(net$activations)]]
  if (!(act %in% c("softmax", "sigmoid"))) {
    fwdprop_error(sprintf(
      "`type = \"%s\"` needs a classifier (a softmax or sigmoid output layer), but the network's output is \"%s\".",
      type, act
    ), call = call)
  }
  act
}

# `threshold` of predict(): a probability, for a classifier with a single
# sigmoid output (two classes) and `type = "class"`.
check_threshold <- function(net, threshold, type, call) {
  if (!is.numeric(threshold) || length(threshold) != 1L || is.na(threshold) ||
      threshold <= 0 || threshold >= 1) {
    fwdprop_error(sprintf("`threshold` must be a single number in (0, 1), not %s.",
                          describe_value(threshold)), call = call)
  }
  k <- net$sizes[[length(net$sizes)]]
  act <- net$activations[[length(net$activations)]]
  if (k != 1L || act != "sigmoid") {
    fwdprop_error(sprintf(paste(
      "`threshold` applies to a classifier of two classes (one sigmoid output), but the network has",
      "%d %s output%s; the class is the most probable one."), k, act, if (k == 1L) "" else "s"), call = call)
  }
  if (type != "class") {
    fwdprop_error(sprintf("`threshold` applies to `type = \"class\"` only, not to `type = \"%s\"`.", type),
                  call = call)
  }
  invisible(threshold)
}

# Class probabilities, one column per class: a softmax output as it is, a
# single sigmoid output p as the two columns 1 - p and p.
output_probabilities <- function(net, out, call) {
  check_classifier(net, "prob", call)
  if (ncol(out) > 1L) {
    return(out)
  }
  lev <- net[["levels"]]
  if (is.null(lev)) lev <- c("0", "1")
  p <- cbind(1 - out[, 1L], out[, 1L])
  dimnames(p) <- list(rownames(out), lev)
  p
}

# Classes from a classifier's output: the most probable of several softmax
# (or sigmoid) outputs, or output >= threshold for a single sigmoid output; a
# factor with the network's levels, or integer class numbers without.
output_classes <- function(net, out, threshold = 0.5, call) {
  check_classifier(net, "class", call)
  k <- ncol(out)
  idx <- if (k == 1L) {
    ifelse(out[, 1L] >= threshold, 2L, 1L)
  } else {
    # NA rows give NA, as which.max() of NA would not
    cls <- max.col(out, ties.method = "first")
    cls[rowSums(is.na(out)) > 0L] <- NA_integer_
    cls
  }
  lev <- net[["levels"]]
  if (is.null(lev)) {
    lev <- if (k == 1L) c("0", "1") else colnames(out)
  }
  if (is.null(lev)) {
    res <- if (k == 1L) idx - 1L else idx
    names(res) <- rownames(out)
    return(res)
  }
  res <- factor(lev[idx], levels = lev)
  names(res) <- rownames(out)
  res
}

# The optional fields of a fitted or imported network, checked where the
# network enters (check_network()): errors name `arg`. read_safetensors()
# checks the fields it reads from a file's metadata here too, with its own
# `prefix` and names of the fields (`field`).
check_network_extras <- function(net, arg, call,
                                 prefix = sprintf("`%s` is not a valid network", arg),
                                 field = function(f) sprintf("`%s$%s`", arg, f)) {
  bad <- function(fmt, ...) {
    fwdprop_error(sprintf("%s: %s.", prefix, sprintf(fmt, ...)), call = call)
  }
  k <- net$sizes[[length(net$sizes)]]
  n_in <- net$sizes[[1L]]
  lev <- net[["levels"]]
  if (!is.null(lev)) {
    ok_len <- if (k == 1L) 2L else k
    if (!is.character(lev) || anyNA(lev) || length(lev) != ok_len || anyDuplicated(lev)) {
      bad("%s must be %d distinct class names (%s), not %s", field("levels"), ok_len,
          if (k == 1L) "two for a single output" else "one per output", describe_value(lev))
    }
  }
  for (f in c("scaling", "target_scaling")) {
    sc <- net[[f]]
    if (is.null(sc)) next
    len <- if (f == "scaling") n_in else k
    ok <- is.list(sc) && all(c("center", "scale") %in% names(sc)) &&
      is.numeric(sc$center) && is.numeric(sc$scale) &&
      length(sc$center) == len && length(sc$scale) == len &&
      all(is.finite(sc$center)) && all(is.finite(sc$scale)) && all(sc$scale != 0)
    if (!ok) {
      bad("%s must be a list of finite `center` and non-zero `scale`, %d value%s each (one per %s)",
          field(f), len, if (len == 1L) "" else "s", if (f == "scaling") "input" else "output")
    }
  }
  tt <- net[["terms"]]
  if (!is.null(tt) && !(is.list(tt) && inherits(tt$terms, "terms"))) {
    bad("%s must be a list with the `terms` of a formula", field("terms"))
  }
  invisible(net)
}

# The input of a forward pass as a double matrix with n_in columns.
as_input_matrix <- function(x, n_in, arg = "x", call = sys.call(-1L)) {
  if (is.data.frame(x)) {
    ok <- vapply(x, function(col) is_numeric_storage(col) && is.null(dim(col)), logical(1L))
    if (!all(ok)) {
      bad <- names(x)[!ok]
      fwdprop_error(sprintf(
        "`%s` must have only numeric columns, but column%s %s %s not (%s).", arg,
        if (length(bad) > 1L) "s" else "",
        paste0("`", bad, "`", collapse = ", "),
        if (length(bad) > 1L) "are" else "is",
        paste(vapply(x[!ok], describe_object, character(1L)), collapse = ", ")
      ), call = call)
    }
    rn <- attr(x, "row.names")
    x <- matrix(as.double(unlist(x, use.names = FALSE)), nrow = nrow(x), ncol = ncol(x),
                dimnames = list(if (is.character(rn)) rn else NULL, names(x)))
  } else {
    x <- as_double_matrix(x, arg, call = call)
  }
  if (ncol(x) != n_in) {
    fwdprop_error(sprintf(
      "`%s` has %d column%s but the network expects %d input%s (`%s` is %s).",
      arg, ncol(x), if (ncol(x) == 1L) "" else "s", n_in, if (n_in == 1L) "" else "s",
      arg, shape_string(x)
    ), call = call)
  }
  x
}
