#' Forward propagation through a network
#'
#' `forward(net, x)` runs the rows of `x` through every layer of `net` and
#' returns the output layer, in one call into fwdprop's Rust core: blocks of
#' rows go through all layers while they are in cache, split over
#' [fwdprop_threads()] threads for large inputs. The result equals the base
#' R chain `plogis(plogis(x %*% W1) %*% W2)` (for the sigmoid network;
#' likewise with biases and the other activations) up to rounding, with the
#' same `NA`/`NaN` positions.
#'
#' With `trace = TRUE` every layer's `z` (before the activation) and `a`
#' (after it) is kept: this is the lecture's step-by-step computation.
#'
#' @param net A network from [network()].
#' @param x A numeric matrix or a data frame of numeric columns, one row per
#'   sample and one column per input (`ncol(x) == net$sizes[1]`). Integer
#'   and logical values are converted to double.
#' @param trace If `TRUE`, return every layer's values (a `fwdprop_trace`).
#' @param threads Number of threads; by default [fwdprop_threads()].
#' @return Without `trace`, the output matrix: `nrow(x)` rows and one
#'   column per output node, with the row names of `x` and the column names
#'   of the last weight matrix. With `trace = TRUE`, an object of class
#'   `fwdprop_trace`: a list with `z` and `a` (each a list with one matrix
#'   per layer; `a[[L]]` is the output) and the input `x`.
#' @seealso [network()], [predict.fwdprop_network()]
#' @export
#' @examples
#' set.seed(1234)
#' net <- network(c(2, 3, 1))
#' X <- matrix(1:6, ncol = 2, byrow = TRUE)
#' forward(net, X)
#' tr <- forward(net, X, trace = TRUE)
#' tr
#' tr$z[[1]]  # X %*% beta
forward <- function(net, x, trace = FALSE, threads = NULL) {
  # Small plain double matrices through an unmodified network: computed in
  # one raw call (see src/rust/glue/src/fast.rs), which returns NULL for
  # anything else, so that validation and its messages stay in R below.
  # (No `return()` on this path: it costs as much as the arithmetic.)
  res <- .Call(fwdprop_forward_fast, net, x, trace, threads)
  if (is.null(res)) {
    res <- forward_checked(net, x, trace, threads)
  }
  res
}

# The ordinary path of forward(): R validation, then forward_impl(). Errors
# name forward()'s call (`call`).
forward_checked <- function(net, x, trace, threads, call = sys.call(-1L),
                            net_arg = "net", x_arg = "x") {
  net <- check_network(net, net_arg, call = call)
  if (is.matrix(x) && typeof(x) == "double" && ncol(x) == net$sizes[[1L]]) {
    check_dim_length(x, x_arg, call = call)
  } else {
    x <- as_input_matrix(x, net$sizes[[1L]], arg = x_arg, call = call)
  }
  if (!identical(trace, FALSE)) trace <- check_flag(trace, "trace", call = call)
  threads <- if (!is.null(threads)) {
    check_count(threads, "threads", call = call)
  } else if (nrow(x) < core_limit("fast_max_rows")) {
    1L # small inputs run on the calling thread anyway
  } else {
    fwdprop_threads()
  }
  res <- forward_impl(x, net$weights, net$biases, net$activations, trace, threads)
  rn <- rownames(x)
  if (!trace) {
    cn <- colnames(net$weights[[length(net$weights)]])
    if (!is.null(rn) || !is.null(cn)) dimnames(res) <- list(rn, cn)
    return(res)
  }
  for (l in seq_along(res$z)) {
    cn <- colnames(net$weights[[l]])
    if (!is.null(rn) || !is.null(cn)) {
      dimnames(res$z[[l]]) <- list(rn, cn)
      dimnames(res$a[[l]]) <- list(rn, cn)
    }
  }
  structure(list(z = res$z, a = res$a, x = x, activations = net$activations),
            class = "fwdprop_trace")
}

#' Predictions from a network
#'
#' For a network made by hand or by [network()], the same as [forward()].
#' For networks fitted by [mlp()] or imported from other tools, `predict()`
#' also does what their own `predict()` does: it picks the inputs by name
#' (a data frame or a matrix with column names; for formula fits, a data
#' frame with the formula's variables), applies the input scaling the
#' network was fitted with, returns a numeric response on its original
#' scale, and returns classes as a factor with the network's class levels.
#'
#' `type` says what is returned, one row per row of `newdata` (with its
#' row names), columns named by class or by response:
#' * `"response"` (the default): the network's output on the response's
#'   scale: for a regression, values in the units of the response (one
#'   column per response); for a classifier with one sigmoid output (two
#'   classes), the probability of the second class, one column named by
#'   it; for a softmax output, one probability column per class.
#' * `"prob"`: class probabilities, one column per class, also for two
#'   classes (`1 - p` and `p`); rows sum to 1.
#' * `"class"`: the predicted classes, a factor with the classes of the
#'   training data: the most probable class, or for two classes the
#'   second one where its probability is at least `threshold`. Without
#'   class levels, classes are column numbers (or 0 and 1 for a single
#'   output).
#' * `"raw"` or `"link"` (the same): the output layer's `z`, before its
#'   activation (logits of a classifier; for a regression fitted with a
#'   scaled response, on the scale the network was trained on).
#'
#' @param object A network from [network()], [mlp()], [fit()] or
#'   `as_network()`.
#' @param newdata A numeric matrix or data frame, one row per sample. For a
#'   model from [mlp()] it may be left out: then the predictions are those
#'   of the training rows (the fitted values).
#' @param type `"response"`, `"prob"`, `"class"`, `"raw"` or `"link"`; see
#'   Details.
#' @param threshold For a classifier with two classes and `type = "class"`:
#'   the probability of the second class from which it is predicted, a
#'   number in (0, 1).
#' @inheritParams forward
#' @param ... Not used; any argument here is an error (a misspelt `trace`
#'   or `threads` would otherwise be silently ignored).
#' @return With `type = "class"`, a factor (or integer vector) with one
#'   class per sample. Otherwise a matrix with one row per sample. With
#'   `trace = TRUE`, the trace of the network's own (scaled) values.
#' @export
#' @examples
#' net <- network(c(4, 5, 3), output = "softmax", seed = 1)
#' predict(net, scale(iris[1:5, 1:4]))
#' predict(net, scale(iris[1:5, 1:4]), type = "class")
#'
#' m <- mlp(Species ~ ., data = iris, hidden = 3, epochs = 30, seed = 1)
#' predict(m, iris[c(1, 51, 101), ], type = "class")
#' predict(m, iris[c(1, 51, 101), ], type = "raw")
#'
#' two <- droplevels(iris[51:150, ])
#' b <- mlp(Species ~ ., data = two, hidden = 2, epochs = 30, seed = 1)
#' predict(b, two[c(1, 100), ])                  # P(virginica)
#' predict(b, two[c(1, 100), ], type = "prob")   # both classes
#' predict(b, two[c(1, 100), ], type = "class", threshold = 0.8)
predict.fwdprop_network <- function(object, newdata, type = c("response", "prob", "class", "raw", "link"),
                                    trace = FALSE, threads = NULL, ..., threshold = 0.5) {
  call <- sys.call()
  if (missing(newdata)) {
    fwdprop_error("`newdata` is missing: give the inputs, a numeric matrix with one row per sample.",
                  call = call)
  }
  check_no_dots(..., fun = "predict()", call = call,
                choices = c("newdata", "type", "threshold", "trace", "threads"))
  response <- identical(type, predict_types) || identical(type, "response")
  if (response && is.list(object) && is_plain_network(object)) {
    res <- .Call(fwdprop_forward_fast, object, newdata, trace, threads)
    if (is.null(res)) {
      res <- forward_checked(object, newdata, trace, threads, call = call,
                             net_arg = "object", x_arg = "newdata")
    }
    return(res)
  }
  predict_network(object, newdata, type, threshold, trace, threads, call)
}

predict_types <- c("response", "prob", "class", "raw", "link")

# predict() of a network or a model from mlp(): checks, inputs, the forward
# pass (through an identity output layer for "raw"), outputs. Errors name
# `call`.
predict_network <- function(object, newdata, type, threshold, trace, threads, call) {
  type <- check_choice(type, "type", predict_types, call = call)
  object <- check_network(object, "object", call = call)
  if (!identical(threshold, 0.5)) {
    check_threshold(object, threshold, type, call)
  }
  x <- network_input(object, newdata, "newdata", call = call)
  net <- object
  if (type %in% c("raw", "link")) {
    net$activations[[length(net$activations)]] <- "identity"
  }
  res <- forward_checked(net, x, trace, threads, call = call,
                         net_arg = "object", x_arg = "newdata")
  if (!identical(trace, FALSE) || type %in% c("raw", "link")) {
    return(res)
  }
  network_output(object, res, type, threshold = threshold, call = call)
}

#' @export
print.fwdprop_trace <- function(x, digits = 4L, ...) {
  L <- length(x$a)
  sizes <- c(ncol(x$x), vapply(x$a, ncol, integer(1L)))
  cat(sprintf("<fwdprop trace> %d sample%s through %s\n", nrow(x$x),
              if (nrow(x$x) == 1L) "" else "s", paste(sizes, collapse = arrow())))
  for (l in seq_len(L)) {
    cat(sprintf("\nlayer %d (%s)\n", l, x$activations[l]))
    cat(sprintf("z[[%d]] = %s %%*%% weights[[%d]]:\n", l,
                if (l == 1L) "x" else sprintf("a[[%d]]", l - 1L), l))
    print(round(x$z[[l]], digits))
    cat(sprintf("a[[%d]] = %s(z[[%d]]):\n", l, x$activations[l], l))
    print(round(x$a[[l]], digits))
  }
  invisible(x)
}
