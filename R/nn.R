# Torch-style neural network modules (lectures 7 and 8): nn_module(),
# nn_linear(), nn_sequential(), activation modules, losses.
#
# A module instance is two objects: `self`, an environment of class
# "fwdprop_module_self" that holds the fields (and that the methods see as
# `self`), and the object the user holds, a function of class
# c(classname, "nn_module") that runs `forward()` and carries `self` in its
# attribute "module". Assigning a module or an nn_parameter() to a field of
# `self` registers it (in `.modules_` / `.params_`, in order of assignment),
# so `$parameters` lists them as torch names them ("hidden1.weight").

# `self` is bound when a module's methods run (nn_module() gives each
# method an environment holding it), as torch's R6 modules do.
utils::globalVariables("self")

# Generators -----------------------------------------------------------------

#' Neural network modules
#'
#' `nn_module()` defines a kind of module, as torch's `nn_module()` does:
#' it returns a generator; calling the generator (`TwoLayerNet(2, 3, 1)`)
#' makes a module, running `initialize` with `self` bound to the new module;
#' calling the module (`model(X)`) runs `forward`. In `initialize`,
#' `self$name <- nn_linear(...)` (a module) or `self$w <- nn_parameter(x)`
#' (a tensor) registers a submodule or parameter.
#'
#' A module has `$parameters` (a named list of its parameters and those of
#' its submodules, named like `"hidden_layer.weight"`), `$children` (the
#' direct submodules), `$modules` (itself and all submodules), `$train()`,
#' `$eval()` and `$training`, `$zero_grad()`, `$forward()`, and any field
#' or method given to `nn_module()`.
#'
#' @param classname The module's class name (shown when a module containing
#'   it is printed).
#' @param initialize A function that sets up the module through `self`.
#' @param forward A function computing the module's output.
#' @param ... Further methods and fields.
#' @return `nn_module()`: a generator (a function making modules).
#' @seealso [nn_linear()], [nn_sequential()], [optim_sgd()],
#'   [nn_mse_loss()]
#' @export
#' @examples
#' TwoLayerNet <- nn_module(
#'   classname = "TwoLayerNet",
#'   initialize = function(data_in, hidden, data_out) {
#'     self$hidden_layer <- nn_linear(data_in, hidden, bias = FALSE)
#'     self$output_layer <- nn_linear(hidden, data_out, bias = FALSE)
#'     self$sigmoid <- nn_sigmoid()
#'   },
#'   forward = function(X) {
#'     self$sigmoid(self$output_layer(self$sigmoid(self$hidden_layer(X))))
#'   }
#' )
#' net <- TwoLayerNet(2, 3, 1)
#' net
#' net(torch_tensor(matrix(1:6, ncol = 2, byrow = TRUE), dtype = torch_float()))
nn_module <- function(classname = NULL, initialize = NULL, forward = NULL, ...) {
  call <- sys.call()
  if (!is.null(classname) && (!is.character(classname) || length(classname) != 1L || is.na(classname))) {
    fwdprop_error(sprintf("`classname` must be NULL or a single string, not %s.", describe_value(classname)), call = call)
  }
  for (arg in c("initialize", "forward")) {
    f <- get(arg)
    if (!is.null(f) && !is.function(f)) {
      fwdprop_error(sprintf("`%s` must be a function, not %s.", arg, describe_object(f)), call = call)
    }
  }
  methods <- list(...)
  if (length(methods) && (is.null(names(methods)) || any(names(methods) == ""))) {
    fwdprop_error("the methods and fields in `...` must be named (e.g. `prepare = function() ...`).", call = call)
  }
  methods$initialize <- initialize %||% function() NULL
  if (!is.null(forward)) {
    methods$forward <- forward
  }
  classes <- c(if (is.null(classname)) character(0) else classname, "fwdprop_nn_module", "nn_module")
  new_generator(methods, classes, c("fwdprop_nn_module_generator", "nn_module_generator"))
}

# A generator with initialize's arguments: calling it makes an instance.
new_generator <- function(methods, classes, kind) {
  gen <- function() {
    pf <- parent.frame()
    args <- lapply(as.list(match.call(expand.dots = TRUE))[-1L], eval, envir = pf)
    new_module_instance(methods, classes, args)
  }
  formals(gen) <- formals(methods$initialize)
  structure(gen, class = kind, classname = setdiff(classes, "fwdprop_nn_module")[[1L]])
}

#' @export
print.fwdprop_nn_module_generator <- function(x, ...) {
  cat("<", attr(x, "classname"), "> object generator\n", sep = "")
  invisible(x)
}

# Makes `self`, binds the methods to it, runs initialize, wraps it.
new_module_instance <- function(methods, classes, args) {
  self <- new.env(parent = emptyenv())
  assign(".modules_", character(0), envir = self)
  assign(".params_", character(0), envir = self)
  assign(".training_", TRUE, envir = self)
  assign(".classes_", classes, envir = self)
  class(self) <- "fwdprop_module_self"
  bind_methods(self, methods)
  do.call(.subset2(self, "initialize"), args)
  wrap_module(self)
}

# Copies each method into `self` with an enclosure that defines `self`
# (missing args keep their defaults); non-functions are copied as fields.
bind_methods <- function(self, methods) {
  for (nm in names(methods)) {
    f <- methods[[nm]]
    if (is.function(f) && !is.primitive(f)) {
      enclos <- new.env(parent = environment(f) %||% globalenv())
      assign("self", self, envir = enclos)
      environment(f) <- enclos
    }
    assign(nm, f, envir = self)
  }
}

# The object the user holds: a function running forward().
wrap_module <- function(self) {
  f <- function(...) {
    fwd <- .subset2(self, "forward")
    if (is.null(fwd)) {
      fwdprop_error("this module has no `forward` method: give one to `nn_module()`.", call = sys.call())
    }
    fwd(...)
  }
  environment(f) <- list2env(list(self = self), parent = asNamespace("fwdprop"))
  structure(f, class = .subset2(self, ".classes_"), module = self)
}

# The class torch shows for a module ("nn_module" when it has no name).
module_label <- function(self) setdiff(.subset2(self, ".classes_"), "fwdprop_nn_module")[[1L]]

module_self <- function(x) attr(x, "module", exact = TRUE)

is_nn_module <- function(x) inherits(x, "fwdprop_nn_module") && is.environment(module_self(x))

# Parameters -------------------------------------------------------------------

#' Module parameters
#'
#' `nn_parameter(x)` marks the tensor `x` as a parameter (a leaf requiring
#' gradients): assigned to a field of a module's `self`, it is listed in
#' `$parameters` and updated by optimisers.
#'
#' @param x A floating point tensor.
#' @param requires_grad Whether the parameter requires gradients.
#' @return The tensor `x`, marked.
#' @seealso [nn_module()]
#' @export
#' @examples
#' w <- nn_parameter(torch_zeros(2, 3))
#' w$requires_grad
nn_parameter <- function(x, requires_grad = TRUE) {
  call <- sys.call()
  if (!is_tensor(x)) {
    fwdprop_error(sprintf("`x` must be a tensor, not %s.", describe_object(x)), call = call)
  }
  check_flag(requires_grad, "requires_grad", call = call)
  if (.subset2(x, "dtype") == "long") {
    fwdprop_error("`x` must be a floating point tensor (float or double) to be a parameter, not a long tensor.", call = call)
  }
  if (!is.null(.subset2(x, "node"))) {
    x <- tensor_detach(x)
  }
  assign("requires_grad", requires_grad, envir = x)
  assign("is_parameter", TRUE, envir = x)
  x
}

is_nn_parameter <- function(x) is_tensor(x) && isTRUE(get0("is_parameter", envir = x, inherits = FALSE))

# Field access -------------------------------------------------------------------

#' @export
`$<-.fwdprop_module_self` <- function(x, name, value) {
  module_set(x, name, value)
  x
}

#' @export
`[[<-.fwdprop_module_self` <- function(x, i, value) {
  module_set(x, i, value)
  x
}

module_set <- function(self, name, value) {
  mods <- .subset2(self, ".modules_")
  pars <- .subset2(self, ".params_")
  mods <- mods[mods != name]
  pars <- pars[pars != name]
  if (is_nn_module(value)) {
    mods <- c(mods, name)
  } else if (is_nn_parameter(value)) {
    pars <- c(pars, name)
  }
  assign(".modules_", mods, envir = self)
  assign(".params_", pars, envir = self)
  if (is.null(value)) {
    if (exists(name, envir = self, inherits = FALSE)) rm(list = name, envir = self)
  } else {
    assign(name, value, envir = self)
  }
  invisible(self)
}

#' @export
`$.fwdprop_module_self` <- function(x, name) {
  # fields (submodules, parameters, methods) first, without a further call
  v <- .subset2(x, name)
  if (is.null(v)) module_get(x, name, sys.call()) else v
}

#' @export
`[[.fwdprop_module_self` <- function(x, i, ...) module_get(x, i, sys.call())

#' @export
`$.fwdprop_nn_module` <- function(x, name) module_get(module_self(x), name, sys.call())

#' @export
`[[.fwdprop_nn_module` <- function(x, i, ...) module_get(module_self(x), i, sys.call())

#' @export
`$<-.fwdprop_nn_module` <- function(x, name, value) {
  module_set(module_self(x), name, value)
  x
}

#' @export
`[[<-.fwdprop_nn_module` <- function(x, i, value) {
  module_set(module_self(x), i, value)
  x
}

#' @export
names.fwdprop_nn_module <- function(x) module_field_names(module_self(x))

module_field_names <- function(self) sort(grep("_$", ls(self, all.names = TRUE), value = TRUE, invert = TRUE))

# A field of the module, or one of the members every module has.
module_get <- function(self, name, call = NULL) {
  v <- get0(name, envir = self, inherits = FALSE)
  if (!is.null(v)) {
    return(v)
  }
  switch(name,
    parameters = module_parameters(self),
    named_parameters = function(recursive = TRUE) module_parameters(self, recursive),
    children = mget(.subset2(self, ".modules_"), envir = self),
    named_children = function() mget(.subset2(self, ".modules_"), envir = self),
    modules = module_all(self),
    training = .subset2(self, ".training_"),
    train = function(mode = TRUE) module_train(self, mode, sys.call()),
    eval = function() module_train(self, FALSE, sys.call()),
    zero_grad = function() {
      for (p in module_parameters(self)) assign("grad", NULL, envir = p)
      invisible(NULL)
    },
    state_dict = function() lapply(module_parameters(self), tensor_detach),
    cpu = function() invisible(wrap_module(self)),
    cuda = function(...) check_device("cuda", sys.call()),
    to = function(device = NULL, ...) {
      check_device(device, sys.call())
      invisible(wrap_module(self))
    },
    add_module = function(name, module) {
      module_set(self, as.character(name), module)
      invisible(NULL)
    },
    register_parameter = function(name, param) {
      module_set(self, name, nn_parameter(param))
      invisible(NULL)
    },
    print = function(...) module_print(self),
    # as in torch, a field never set (e.g. `bias` of nn_linear(bias = FALSE)) is NULL
    NULL
  )
}

# Named list of the parameters: own ones first in order of assignment,
# then each submodule's, prefixed with its name (torch's order).
module_parameters <- function(self, recursive = TRUE) {
  own <- mget(.subset2(self, ".params_"), envir = self)
  if (!recursive) {
    return(own)
  }
  out <- own
  for (m in .subset2(self, ".modules_")) {
    sub <- module_parameters(module_self(get(m, envir = self)))
    if (length(sub)) {
      names(sub) <- paste0(m, ".", names(sub))
      out <- c(out, sub)
    }
  }
  out
}

module_all <- function(self) {
  out <- list(wrap_module(self))
  for (m in .subset2(self, ".modules_")) {
    out <- c(out, module_all(module_self(get(m, envir = self))))
  }
  out
}

module_train <- function(self, mode, call) {
  check_flag(mode, "mode", call = call)
  assign(".training_", mode, envir = self)
  for (m in .subset2(self, ".modules_")) {
    module_train(module_self(get(m, envir = self)), mode, call)
  }
  invisible(wrap_module(self))
}

module_parameter_count <- function(self) {
  sum(vapply(module_parameters(self), function(p) length(.subset2(p, "data")), numeric(1L)))
}

# Printing ------------------------------------------------------------------------

#' @export
print.fwdprop_nn_module <- function(x, ...) {
  module_print(module_self(x))
  invisible(x)
}

# torch's layout: the count, then a rule and a bullet per submodule, then
# the module's own parameters (rules 80 characters wide, ASCII as in a
# console without UTF-8).
module_print <- function(self) {
  cat("An `nn_module` containing ", big(module_parameter_count(self)), " parameters.\n", sep = "")
  mods <- .subset2(self, ".modules_")
  if (length(mods)) {
    cat("\n", module_rule("Modules"), "\n", sep = "")
    for (m in mods) {
      sub <- module_self(get(m, envir = self))
      cat("* ", m, ": <", module_label(sub), "> #", big(module_parameter_count(sub)), " parameters\n", sep = "")
    }
  }
  pars <- .subset2(self, ".params_")
  if (length(pars)) {
    cat("\n", module_rule("Parameters"), "\n", sep = "")
    for (p in pars) {
      t <- get(p, envir = self)
      cat("* ", p, ": ", dtype_label(.subset2(t, "dtype")), " [", paste0("1:", .subset2(t, "shape"), collapse = ", "), "]\n", sep = "")
    }
  }
  invisible(NULL)
}

module_rule <- function(title, width = 80L) {
  head <- paste0("-- ", title, " ")
  paste0(head, strrep("-", max(0L, width - nchar(head))))
}

# Layers ---------------------------------------------------------------------------

#' Linear layers
#'
#' `nn_linear(in_features, out_features, bias = TRUE)` computes
#' `x$mm(weight$t()) + bias`, as torch's: `weight` is stored
#' `out_features x in_features` (the transpose of fwdprop's network
#' weights). The starting values are drawn as torch draws them
#' (`kaiming_uniform_` for the weight, uniform on
#' `[-1/sqrt(in_features), 1/sqrt(in_features))` for the bias) from the
#' generator that [torch_manual_seed()] seeds, number for number as torch
#' for R did when the lecture series was made.
#'
#' @param in_features,out_features Sizes of each input and output row.
#' @param bias Whether the layer adds a bias.
#' @return A module of class `nn_linear` with parameters `weight` and
#'   (with `bias = TRUE`) `bias`.
#' @seealso [nn_module()], [nn_sequential()]
#' @export
#' @examples
#' layer <- nn_linear(2, 3)
#' layer
#' layer$weight
#' layer(torch_tensor(matrix(1:6, ncol = 2, byrow = TRUE), dtype = torch_float()))
nn_linear <- function(in_features, out_features, bias = TRUE) {
  call <- sys.call()
  in_features <- check_count(in_features, "in_features", call = call)
  out_features <- check_count(out_features, "out_features", call = call)
  bias <- check_flag(bias, "bias", call = call)
  nn_linear_generator(in_features, out_features, bias)
}

nn_linear_generator <- function(in_features, out_features, bias) {
  gen <- nn_module(
    "nn_linear",
    initialize = function(in_features, out_features, bias) {
      init <- torch_linear_init(in_features, out_features, bias)
      self$in_features <- in_features
      self$out_features <- out_features
      self$weight <- nn_parameter(new_tensor_obj(as.double(t(init$weight)), c(out_features, in_features), "float"))
      if (bias) {
        self$bias <- nn_parameter(new_tensor_obj(as.double(init$bias), out_features, "float"))
      }
    },
    forward = function(input) {
      w <- .subset2(self, "weight")
      out <- linear_forward(input, w, .subset2(self, "bias"))
      out
    }
  )
  gen(in_features, out_features, bias)
}

# input$mm(weight$t()) (+ bias); a 1-dimensional input gives a vector.
linear_forward <- function(input, weight, bias, call = sys.call(-1L)) {
  # the hot path of tensor_linear() for a matrix input, before the checks
  res <- .Call(fwdprop_tensor_linear, input, weight, bias, autograd_state)
  if (!is.null(res)) {
    return(res)
  }
  if (!is_tensor(input)) {
    fwdprop_error(sprintf("the input of `nn_linear()` must be a tensor, not %s.", describe_object(input)), call = call)
  }
  shape <- .subset2(input, "shape")
  k <- .subset2(weight, "shape")[[2L]]
  if (!length(shape) || shape[[length(shape)]] != k || length(shape) > 2L) {
    fwdprop_error(sprintf(
      "the input of this `nn_linear(%d, %d)` must have %d columns (a matrix n x %d or a vector of %d), not shape %s.",
      k, .subset2(weight, "shape")[[1L]], k, k, k, shape_label(shape)
    ), call = call)
  }
  x <- if (length(shape) == 1L) tensor_view(input, c(1L, k)) else input
  out <- tensor_linear(x, weight, bias, call)
  if (length(shape) == 1L) tensor_view(out, -1L) else out
}

#' Sequential containers
#'
#' `nn_sequential(...)` applies the given modules one after the other; its
#' submodules are named `"0"`, `"1"`, ... as in torch.
#'
#' @param ... Modules.
#' @return A module of class `nn_sequential`.
#' @seealso [nn_module()], [as_network()]
#' @export
#' @examples
#' net <- nn_sequential(nn_linear(2, 3), nn_sigmoid(), nn_linear(3, 1))
#' net
#' names(net$parameters)
nn_sequential <- function(...) {
  call <- sys.call()
  mods <- list(...)
  for (i in seq_along(mods)) {
    if (!is_nn_module(mods[[i]])) {
      fwdprop_error(sprintf("every argument of `nn_sequential()` must be a module (e.g. `nn_linear(2, 3)`), but argument %d is %s.", i, describe_object(mods[[i]])), call = call)
    }
  }
  gen <- nn_module(
    "nn_sequential",
    initialize = function(modules) {
      for (i in seq_along(modules)) {
        self[[as.character(i - 1L)]] <- modules[[i]]
      }
    },
    forward = function(input) {
      for (m in .subset2(self, ".modules_")) {
        input <- get(m, envir = self)(input)
      }
      input
    }
  )
  gen(mods)
}

# A parameterless module applying `f` to its input.
activation_module <- function(classname, f) {
  gen <- nn_module(classname, forward = function(input) f(input))
  gen()
}

check_input_tensor <- function(x, fun, arg = "input", call = sys.call(-1L)) {
  if (!is_tensor(x)) {
    fwdprop_error(sprintf("`%s` of `%s` must be a tensor, not %s.", arg, fun, describe_object(x)), call = call)
  }
  x
}

#' Activation modules and functions
#'
#' `nn_sigmoid()`, `nn_tanh()` and `nn_relu()` are modules without
#' parameters applying the activation elementwise; `nnf_sigmoid()`,
#' `nnf_tanh()` and `nnf_relu()` apply it directly; `nnf_log_softmax()`
#' and `nnf_softmax()` work along a dimension (computed stably, from the
#' maximum). All record gradients.
#'
#' @param input A tensor.
#' @param dim The dimension (1-based; -1 for the last).
#' @return A module, or a tensor.
#' @seealso [nn_module()]
#' @export
#' @examples
#' nn_sigmoid()(torch_tensor(c(-1, 0, 1)))
#' nnf_softmax(torch_tensor(matrix(1:6, 2)), dim = 2)
nn_sigmoid <- function() activation_module("nn_sigmoid", nnf_sigmoid)

#' @rdname nn_sigmoid
#' @export
nn_tanh <- function() activation_module("nn_tanh", nnf_tanh)

#' @rdname nn_sigmoid
#' @export
nn_relu <- function() activation_module("nn_relu", nnf_relu)

#' @rdname nn_sigmoid
#' @export
nnf_sigmoid <- function(input) tensor_unary("sigmoid", check_input_tensor(input, "nnf_sigmoid()"))

#' @rdname nn_sigmoid
#' @export
nnf_tanh <- function(input) tensor_unary("tanh", check_input_tensor(input, "nnf_tanh()"))

#' @rdname nn_sigmoid
#' @export
nnf_relu <- function(input) tensor_unary("relu", check_input_tensor(input, "nnf_relu()"))

#' @rdname nn_sigmoid
#' @export
nnf_log_softmax <- function(input, dim = -1L) {
  call <- sys.call()
  check_input_tensor(input, "nnf_log_softmax()", call = call)
  softmax_op(input, dim, log = TRUE, call = call)
}

#' @rdname nn_sigmoid
#' @export
nnf_softmax <- function(input, dim = -1L) {
  call <- sys.call()
  check_input_tensor(input, "nnf_softmax()", call = call)
  softmax_op(input, dim, log = FALSE, call = call)
}

# Losses ---------------------------------------------------------------------------

loss_reductions <- c("mean", "sum", "none")

# Module wrapping a loss function of (input, target).
loss_module <- function(classname, f) {
  gen <- nn_module(classname, forward = function(input, target) f(input, target))
  gen()
}

# `target` as a tensor paired with `input`: the same shape, broadcastable,
# or (as torch for R's losses of 2021 did) the same number of values
# (an n x 1 output against n targets), paired in order.
loss_target <- function(input, target, fun, call) {
  check_input_tensor(input, fun, call = call)
  target <- as_operand(target, input, fun, call, "target")
  si <- .subset2(input, "shape")
  st <- .subset2(target, "shape")
  if (identical(si, st)) {
    return(target)
  }
  # (as recorded operations, so a target that requires gradients gets them)
  if (length(.subset2(input, "data")) == length(.subset2(target, "data"))) {
    return(tensor_view(target, si, call = call))
  }
  if (!identical(broadcast_shape(si, st), si)) {
    fwdprop_error(sprintf(
      "`target` (shape %s) must have the shape of `input` (%s) in `%s`.",
      shape_label(st), shape_label(si), fun
    ), call = call)
  }
  tensor_expand(target, si, call)
}

# Elementwise loss of `input` against `target` (a tensor of input's
# shape), recorded with the derivatives `d(x, t)` with respect to the input
# and `dt(x, t)` with respect to the target, then reduced.
elementwise_loss <- function(input, target, f, d, dt, name, reduction) {
  x <- .subset2(input, "data")
  t <- .subset2(target, "data")
  dtype <- .subset2(input, "dtype")
  out <- round_dtype(f(x, t), dtype)
  shape <- .subset2(input, "shape")
  res <- if (grad_needed(input, target)) {
    ri <- .subset2(input, "requires_grad")
    rt <- .subset2(target, "requires_grad")
    op_result(out, shape, dtype, name, list(input, target), function(g) {
      list(if (ri) round_dtype(g * d(x, t), dtype), if (rt) round_dtype(g * dt(x, t), .subset2(target, "dtype")))
    })
  } else {
    new_tensor_obj(out, shape, dtype)
  }
  reduce_loss(res, reduction)
}

reduce_loss <- function(x, reduction) {
  switch(reduction,
    mean = tensor_reduce(x, "mean"),
    sum = tensor_reduce(x, "sum"),
    none = x
  )
}

#' Loss functions
#'
#' The losses of torch, computed with gradients recorded:
#' * `nnf_mse_loss()`, `nn_mse_loss()`: mean squared error
#'   `mean((input - target)^2)`.
#' * `nnf_binary_cross_entropy()`, `nn_bce_loss()`: `input` holds
#'   probabilities; `-mean(target * log(input) + (1 - target) * log(1 -
#'   input))`, each log clamped at -100 as torch does.
#' * `nnf_binary_cross_entropy_with_logits()`, `nn_bce_with_logits_loss()`:
#'   the same from logits `z` (`input = sigmoid(z)`), computed stably as
#'   `max(z, 0) - z * target + log1p(exp(-|z|))`.
#' * `nnf_cross_entropy()`, `nn_cross_entropy_loss()`: `input` an `n x C`
#'   matrix of scores, `target` the classes as whole numbers 1 to `C` (as in
#'   torch for R); `mean(logsumexp(input[i, ]) - input[i, target[i]])`.
#' * `nnf_nll_loss()`, `nn_nll_loss()`: the negative log-likelihood from an
#'   `n x C` matrix of log-probabilities, `-mean(input[i, target[i]])`
#'   (weighted: divided by the sum of the targets' weights), so that
#'   `nnf_nll_loss(nnf_log_softmax(x, 2), y)` is `nnf_cross_entropy(x, y)`.
#' * `nnf_l1_loss()`, `nn_l1_loss()`: mean absolute error
#'   `mean(abs(input - target))`.
#'
#' A target that requires gradients gets them, as in torch (all losses but
#' the cross-entropy and negative log-likelihood, whose targets are
#' classes).
#'
#' `reduction = "sum"` sums instead of averaging, `"none"` keeps one loss
#' per value. A target with as many values as `input` but another shape
#' (n targets for an n x 1 output) is paired in order, as torch for R did
#' when the lecture series was made.
#'
#' @param input A tensor: predictions (or logits / scores).
#' @param target A tensor or numbers: the observed values.
#' @param weight `NULL` or a tensor of weights for each value (binary
#'   losses) or each class (cross-entropy).
#' @param reduction `"mean"` (default), `"sum"` or `"none"`.
#' @return `nnf_*()`: a tensor (0-dimensional unless `reduction =
#'   "none"`); `nn_*()`: a module computing it from `(input, target)`.
#' @seealso [nn_module()], [optim_sgd()]
#' @export
#' @examples
#' y_hat <- torch_tensor(c(0.5, 2, 3.5), requires_grad = TRUE)
#' loss <- nnf_mse_loss(y_hat, torch_tensor(c(1, 2, 3)))
#' loss
#' loss$backward()
#' y_hat$grad
#' nn_bce_loss()(torch_tensor(c(0.9, 0.2)), torch_tensor(c(1, 0)))
#' nn_cross_entropy_loss()(torch_tensor(matrix(c(2, 0, 0, 1, 3, 0), 2)), c(1, 2))
#' scores <- torch_tensor(matrix(c(2, 0, 0, 1, 3, 0), 2))
#' nnf_nll_loss(nnf_log_softmax(scores, 2), c(1, 2))
#' nn_l1_loss()(torch_tensor(c(0.5, 2)), torch_tensor(c(1, 2)))
nnf_mse_loss <- function(input, target, reduction = "mean") {
  call <- sys.call()
  reduction <- check_choice(reduction, "reduction", loss_reductions, call = call)
  check_input_tensor(input, "nnf_mse_loss()", call = call)
  target <- as_operand(target, input, "nnf_mse_loss()", call, "target")
  # (the hot path of tensor_arith() first: the same values and graph)
  diff <- .Call(fwdprop_tensor_arith, "-", input, target, autograd_state) %||%
    tensor_arith("-", input, target, 1L, call)
  sq <- .Call(fwdprop_tensor_arith, "^", diff, 2, autograd_state) %||%
    tensor_arith("^", diff, new_tensor_obj(2, integer(0), .subset2(diff, "dtype")), 2L, call)
  reduce_loss(sq, reduction)
}

#' @rdname nnf_mse_loss
#' @export
nn_mse_loss <- function(reduction = "mean") {
  reduction <- check_choice(reduction, "reduction", loss_reductions, call = sys.call())
  loss_module("nn_mse_loss", function(input, target) nnf_mse_loss(input, target, reduction))
}

#' @rdname nnf_mse_loss
#' @export
nnf_binary_cross_entropy <- function(input, target, weight = NULL, reduction = "mean") {
  call <- sys.call()
  reduction <- check_choice(reduction, "reduction", loss_reductions, call = call)
  target <- loss_target(input, target, "nnf_binary_cross_entropy()", call)
  x <- .subset2(input, "data")
  if (anyNA(x) || any(x < 0 | x > 1)) {
    fwdprop_error("all values of `input` must be probabilities between 0 and 1 in `nnf_binary_cross_entropy()`: apply `nnf_sigmoid()` first, or use `nnf_binary_cross_entropy_with_logits()`.", call = call)
  }
  w <- loss_weight(weight, input, call)
  elementwise_loss(input, target,
    function(x, t) -w * (t * pmax(log(x), -100) + (1 - t) * pmax(log1p(-x), -100)),
    function(x, t) w * (x - t) / pmax((1 - x) * x, 1e-12),
    function(x, t) w * (pmax(log1p(-x), -100) - pmax(log(x), -100)),
    "BinaryCrossEntropyBackward0", reduction
  )
}

#' @rdname nnf_mse_loss
#' @export
nn_bce_loss <- function(weight = NULL, reduction = "mean") {
  reduction <- check_choice(reduction, "reduction", loss_reductions, call = sys.call())
  loss_module("nn_bce_loss", function(input, target) nnf_binary_cross_entropy(input, target, weight, reduction))
}

#' @rdname nnf_mse_loss
#' @export
nnf_binary_cross_entropy_with_logits <- function(input, target, weight = NULL, reduction = "mean") {
  call <- sys.call()
  reduction <- check_choice(reduction, "reduction", loss_reductions, call = call)
  target <- loss_target(input, target, "nnf_binary_cross_entropy_with_logits()", call)
  w <- loss_weight(weight, input, call)
  elementwise_loss(input, target,
    function(z, t) w * (pmax(z, 0) - z * t + log1p(exp(-abs(z)))),
    function(z, t) w * (1 / (1 + exp(-z)) - t),
    function(z, t) -w * z,
    "BinaryCrossEntropyWithLogitsBackward0", reduction
  )
}

#' @rdname nnf_mse_loss
#' @export
nn_bce_with_logits_loss <- function(weight = NULL, reduction = "mean") {
  reduction <- check_choice(reduction, "reduction", loss_reductions, call = sys.call())
  loss_module("nn_bce_with_logits_loss", function(input, target) {
    nnf_binary_cross_entropy_with_logits(input, target, weight, reduction)
  })
}

# Weights of a binary loss: 1, or a tensor/numbers recycled to the input.
loss_weight <- function(weight, input, call) {
  if (is.null(weight)) {
    return(1)
  }
  w <- as_operand(weight, input, "weight", call, "weight")
  sw <- .subset2(w, "shape")
  si <- .subset2(input, "shape")
  if (!identical(broadcast_shape(si, sw), si)) {
    fwdprop_error(sprintf("`weight` (shape %s) must broadcast to `input`'s shape %s.", shape_label(sw), shape_label(si)), call = call)
  }
  expand_data(.subset2(w, "data"), sw, si)
}

#' @rdname nnf_mse_loss
#' @export
nnf_cross_entropy <- function(input, target, weight = NULL, reduction = "mean") {
  call <- sys.call()
  reduction <- check_choice(reduction, "reduction", loss_reductions, call = call)
  check_input_tensor(input, "nnf_cross_entropy()", call = call)
  shape <- .subset2(input, "shape")
  if (length(shape) != 2L) {
    fwdprop_error(sprintf("`input` of `nnf_cross_entropy()` must be an n x C matrix of class scores, not shape %s.", shape_label(shape)), call = call)
  }
  n <- shape[[1L]]
  C <- shape[[2L]]
  cls <- if (is_tensor(target)) .subset2(target, "data") else target
  if (!is.numeric(cls) || length(cls) != n || anyNA(cls) || any(cls != round(cls)) || any(cls < 1 | cls > C)) {
    fwdprop_error(sprintf(
      "`target` must be %d class numbers, whole numbers from 1 to %d (torch for R counts classes from 1), not %s.",
      n, C, describe_value(cls)
    ), call = call)
  }
  w <- if (is.null(weight)) rep(1, C) else {
    wt <- if (is_tensor(weight)) .subset2(weight, "data") else weight
    if (!is.numeric(wt) || length(wt) != C || anyNA(wt)) {
      fwdprop_error(sprintf("`weight` must be %d class weights, not %s.", C, describe_value(wt)), call = call)
    }
    wt
  }
  logp <- nnf_log_softmax(input, dim = 2L)
  mask <- matrix(0, n, C)
  mask[cbind(seq_len(n), cls)] <- -w[cls]
  dtype <- .subset2(logp, "dtype")
  per_row <- tensor_reduce(tensor_arith("*", logp, new_tensor_obj(as.double(t(mask)), c(n, C), dtype), 1L, call), "sum", 2L, FALSE, call)
  switch(reduction,
    mean = tensor_arith("/", tensor_reduce(per_row, "sum"), new_tensor_obj(sum(w[cls]), integer(0), dtype), 2L, call),
    sum = tensor_reduce(per_row, "sum"),
    none = per_row
  )
}

#' @rdname nnf_mse_loss
#' @export
nn_cross_entropy_loss <- function(weight = NULL, reduction = "mean") {
  reduction <- check_choice(reduction, "reduction", loss_reductions, call = sys.call())
  loss_module("nn_cross_entropy_loss", function(input, target) nnf_cross_entropy(input, target, weight, reduction))
}

#' Linear transformation
#'
#' `nnf_linear(input, weight, bias)` is `input$matmul(weight$t()) + bias`,
#' as torch's `nnf_linear()`: `weight` is `out x in` (torch's layout, as
#' `nn_linear()$weight`), `input` has `in` values in its last dimension (a
#' vector, an `n x in` matrix, or more dimensions) and `bias` (optional)
#' `out` values. Gradients are recorded for all three.
#'
#' @param input A tensor whose last dimension has `in` values.
#' @param weight A tensor `out x in`.
#' @param bias `NULL` or a tensor of `out` values.
#' @return A tensor of `input`'s shape with the last size `out`.
#' @seealso [nn_linear()]
#' @export
#' @examples
#' x <- torch_tensor(matrix(1:6, 3), dtype = torch_double())
#' w <- torch_tensor(matrix(c(0.5, -1, 2, 0.25), 2), dtype = torch_double(), requires_grad = TRUE)
#' y <- nnf_linear(x, w, torch_tensor(c(1, 0), dtype = torch_double()))
#' y
#' sum(y)$backward()
#' w$grad
nnf_linear <- function(input, weight, bias = NULL) {
  call <- sys.call()
  check_input_tensor(input, "nnf_linear()", call = call)
  check_input_tensor(weight, "nnf_linear()", arg = "weight", call = call)
  if (!is.null(bias)) {
    check_input_tensor(bias, "nnf_linear()", arg = "bias", call = call)
  }
  shape <- .subset2(input, "shape")
  sw <- .subset2(weight, "shape")
  if (length(sw) != 2L || !length(shape) || shape[[length(shape)]] != sw[[2L]]) {
    fwdprop_error(sprintf(
      "`weight` (%s) of `nnf_linear()` must be out x in with in = the last size of `input` (%s).",
      shape_label(sw), shape_label(shape)
    ), call = call)
  }
  if (!is.null(bias) && !identical(.subset2(bias, "shape"), sw[[1L]])) {
    fwdprop_error(sprintf(
      "`bias` (%s) of `nnf_linear()` must have %d values, one per row of `weight` (%s).",
      shape_label(.subset2(bias, "shape")), sw[[1L]], shape_label(sw)
    ), call = call)
  }
  if (length(shape) == 2L) {
    return(tensor_linear(input, weight, bias, call))
  }
  x <- tensor_view(input, c(-1L, sw[[2L]]), call = call)
  out <- tensor_linear(x, weight, bias, call)
  tensor_view(out, c(shape[-length(shape)], sw[[1L]]), call = call)
}

#' @rdname nnf_mse_loss
#' @export
nnf_l1_loss <- function(input, target, reduction = "mean") {
  call <- sys.call()
  reduction <- check_choice(reduction, "reduction", loss_reductions, call = call)
  check_input_tensor(input, "nnf_l1_loss()", call = call)
  target <- as_operand(target, input, "nnf_l1_loss()", call, "target")
  if (is.null(broadcast_shape(.subset2(input, "shape"), .subset2(target, "shape")))) {
    fwdprop_error(sprintf(
      "`target` (shape %s) and `input` (%s) of `nnf_l1_loss()` must have one shape, or broadcast to one.",
      shape_label(.subset2(target, "shape")), shape_label(.subset2(input, "shape"))
    ), call = call)
  }
  reduce_loss(tensor_unary("abs", tensor_arith("-", input, target, 1L, call)), reduction)
}

#' @rdname nnf_mse_loss
#' @export
nn_l1_loss <- function(reduction = "mean") {
  reduction <- check_choice(reduction, "reduction", loss_reductions, call = sys.call())
  loss_module("nn_l1_loss", function(input, target) nnf_l1_loss(input, target, reduction))
}

# Class numbers 1..C of `target` for an n x C `input`, and class weights.
class_target <- function(input, target, weight, fun, call) {
  shape <- .subset2(input, "shape")
  if (length(shape) != 2L) {
    fwdprop_error(sprintf("`input` of `%s` must be an n x C matrix, not shape %s.", fun, shape_label(shape)), call = call)
  }
  n <- shape[[1L]]
  C <- shape[[2L]]
  cls <- if (is_tensor(target)) .subset2(target, "data") else target
  if (!is.numeric(cls) || length(cls) != n || anyNA(cls) || any(cls != round(cls)) || any(cls < 1 | cls > C)) {
    fwdprop_error(sprintf(
      "`target` of `%s` must be %d class numbers, whole numbers from 1 to %d (torch for R counts classes from 1), not %s.",
      fun, n, C, describe_value(cls)
    ), call = call)
  }
  w <- if (is.null(weight)) rep(1, C) else {
    wt <- if (is_tensor(weight)) .subset2(weight, "data") else weight
    if (!is.numeric(wt) || length(wt) != C || anyNA(wt)) {
      fwdprop_error(sprintf("`weight` of `%s` must be %d class weights, not %s.", fun, C, describe_value(wt)), call = call)
    }
    wt
  }
  list(n = n, C = C, cls = as.integer(cls), w = as.double(w))
}

#' @rdname nnf_mse_loss
#' @export
nnf_nll_loss <- function(input, target, weight = NULL, reduction = "mean") {
  call <- sys.call()
  reduction <- check_choice(reduction, "reduction", loss_reductions, call = call)
  check_input_tensor(input, "nnf_nll_loss()", call = call)
  ct <- class_target(input, target, weight, "nnf_nll_loss()", call)
  n <- ct$n
  C <- ct$C
  # row-major position of input[i, target[i]]
  pos <- (seq_len(n) - 1L) * C + ct$cls
  wi <- ct$w[ct$cls]
  per_row <- -wi * .subset2(input, "data")[pos]
  dtype <- .subset2(input, "dtype")
  total <- sum(wi)
  out <- switch(reduction, mean = sum(per_row) / total, sum = sum(per_row), none = per_row)
  out <- round_dtype(as.double(out), dtype)
  out_shape <- if (reduction == "none") n else integer(0)
  if (!grad_needed(input)) {
    return(new_tensor_obj(out, out_shape, dtype))
  }
  op_result(out, out_shape, dtype, "NllLossBackward0", list(input), function(g) {
    v <- numeric(n * C)
    v[pos] <- -wi * if (reduction == "mean") g / total else g
    list(round_dtype(v, dtype))
  })
}

#' @rdname nnf_mse_loss
#' @export
nn_nll_loss <- function(weight = NULL, reduction = "mean") {
  reduction <- check_choice(reduction, "reduction", loss_reductions, call = sys.call())
  loss_module("nn_nll_loss", function(input, target) nnf_nll_loss(input, target, weight, reduction))
}
