# Datasets and data loaders (lecture 9): dataset(), dataloader(),
# enumerate(), dataloader_make_iter() / dataloader_next().
#
# A dataset instance is an environment holding its fields and its methods
# (bound so that they see it as `self`), classed c(name, "fwdprop_dataset", "dataset") and
# printed as torch for R prints its R6 datasets. A data loader is an
# environment of class "dataloader" with the dataset, the batch size and
# the order; batches stack the items' tensors along a new first
# dimension. Shuffling draws a permutation from R's random number
# generator (set.seed() makes it reproducible); torch draws it from its own
# generator, so shuffled orders differ from torch's.

#' Datasets
#'
#' `dataset()` defines a kind of dataset, as torch's `dataset()` does: it
#' returns a generator; calling it runs `initialize` with `self` bound to
#' the new dataset. A dataset has `.getitem(index)` (one item, usually a
#' list of tensors) and `.length()` (the number of items), and may have
#' `.getbatch(index)` (many items at once) and any other methods and
#' fields.
#'
#' @param name The dataset's class name.
#' @param ... `initialize`, `.getitem`, `.length` and further methods and
#'   fields, named.
#' @return A generator of datasets; a dataset is an environment of class
#'   `c(name, "fwdprop_dataset", "dataset")`.
#' @seealso [dataloader()], [enumerate()]
#' @export
#' @examples
#' squares <- dataset(
#'   name = "squares",
#'   initialize = function(n) self$x <- torch_tensor(seq_len(n), dtype = torch_float()),
#'   .getitem = function(index) list(self$x[index], self$x[index]^2),
#'   .length = function() length(self$x)
#' )
#' ds <- squares(5)
#' ds$.getitem(2)
#' length(ds)
dataset <- function(name = NULL, ...) {
  call <- sys.call()
  if (!is.null(name) && (!is.character(name) || length(name) != 1L || is.na(name))) {
    fwdprop_error(sprintf("`name` must be NULL or a single string, not %s.", describe_value(name)), call = call)
  }
  methods <- list(...)
  if (length(methods) && (is.null(names(methods)) || any(names(methods) == ""))) {
    fwdprop_error("the methods and fields in `...` of `dataset()` must be named (e.g. `.getitem = function(index) ...`).", call = call)
  }
  if (is.null(methods$.getitem) && is.null(methods$.getbatch)) {
    fwdprop_error("a dataset needs a `.getitem` method (or `.getbatch`): `.getitem = function(index) list(x, y)`.", call = call)
  }
  methods$initialize <- methods$initialize %||% function() NULL
  methods$clone <- function(deep = FALSE) dataset_clone(self)
  classes <- c(if (is.null(name)) character(0) else name, "fwdprop_dataset", "dataset")
  gen <- function() {
    pf <- parent.frame()
    args <- lapply(as.list(match.call(expand.dots = TRUE))[-1L], eval, envir = pf)
    self <- new.env(parent = emptyenv())
    class(self) <- classes
    bind_methods(self, methods)
    do.call(.subset2(self, "initialize"), args)
    self
  }
  formals(gen) <- formals(methods$initialize)
  structure(gen, class = c("fwdprop_dataset_generator", "dataset_generator"), classname = setdiff(classes, "fwdprop_dataset")[[1L]])
}

#' @export
print.fwdprop_dataset_generator <- function(x, ...) {
  cat("<", attr(x, "classname"), "> dataset generator\n", sep = "")
  invisible(x)
}

dataset_clone <- function(self) {
  out <- new.env(parent = emptyenv())
  for (nm in ls(self, all.names = TRUE)) {
    v <- get(nm, envir = self)
    if (is.function(v) && !is.null(environment(v)) && identical(get0("self", environment(v), inherits = FALSE), self)) {
      enclos <- new.env(parent = parent.env(environment(v)))
      assign("self", out, envir = enclos)
      environment(v) <- enclos
    }
    assign(nm, v, envir = out)
  }
  class(out) <- class(self)
  out
}

#' @export
length.fwdprop_dataset <- function(x) {
  f <- get0(".length", envir = x, inherits = FALSE)
  if (!is.function(f)) {
    fwdprop_error("this dataset has no `.length` method.", call = sys.call())
  }
  f()
}

# R6's layout: the class, what it inherits from, the public members in
# order of ls() with a one-line summary each (tensors shown as torch for R
# labels its tensors).
#' @export
format.fwdprop_dataset <- function(x, ...) {
  cls <- setdiff(class(x), "fwdprop_dataset")
  nms <- ls(x, all.names = TRUE)
  vals <- vapply(nms, function(nm) {
    v <- get(nm, envir = x)
    if (is.function(v)) {
      deparse(args(v))[[1L]]
    } else if (is_tensor(v)) {
      "torch_tensor, R7"
    } else if (is.environment(v) && identical(class(v), "environment")) {
      "environment"
    } else if (is.null(v)) {
      "NULL"
    } else if (is.atomic(v)) {
      trimws(paste(as.character(utils::head(v, 60)), collapse = " "))
    } else {
      paste(class(v), collapse = ", ")
    }
  }, character(1L))
  c(
    paste0("<", cls[[1L]], ">"),
    if (length(cls) > 1L) paste0("  Inherits from: <", cls[-1L], ">"),
    "  Public:",
    paste0("    ", nms, ": ", vals)
  )
}

#' @export
print.fwdprop_dataset <- function(x, ...) {
  cat(format(x), sep = "\n")
  invisible(x)
}

#' Data loaders
#'
#' `dataloader(dataset, batch_size, shuffle)` serves a dataset in batches:
#' each batch stacks `batch_size` items (the last batch may be smaller,
#' unless `drop_last = TRUE`), each tensor of the items along a new first
#' dimension, so items `list(x, y)` with `x` of shape 2 and `y` a single
#' number give a batch `list(x, y)` of shapes `batch_size x 2` and
#' `batch_size`. `length(dl)` (or `dl$.length()`) is the number of
#' batches.
#'
#' `enumerate(dl)` lists the batches of one pass (for `for (batch in
#' enumerate(dl))`): each element loads its batch when first indexed
#' (`batch[[1]]`). `dataloader_make_iter()` and `dataloader_next()` step
#' through a pass one batch at a time.
#'
#' With `shuffle = TRUE` each pass visits the items in a new random order,
#' drawn with R's random number generator (so [set.seed()] fixes it; the
#' order differs from torch's, which draws it from torch's generator).
#'
#' @param dataset A dataset made with [dataset()].
#' @param batch_size The number of items in a batch.
#' @param shuffle Whether each pass takes the items in a random order.
#' @param drop_last Whether to leave out a last, smaller batch.
#' @return `dataloader()`: a data loader (class `c("fwdprop_dataloader", "dataloader")`).
#' @seealso [dataset()]
#' @export
#' @examples
#' squares <- dataset(
#'   name = "squares",
#'   initialize = function(n) self$x <- torch_tensor(seq_len(n), dtype = torch_float()),
#'   .getitem = function(index) list(self$x[index], self$x[index]^2),
#'   .length = function() length(self$x)
#' )
#' dl <- dataloader(squares(10), batch_size = 4)
#' length(dl)
#' for (batch in enumerate(dl)) print(batch[[2]])
dataloader <- function(dataset, batch_size = 1, shuffle = FALSE, drop_last = FALSE) {
  call <- sys.call()
  if (!inherits(dataset, "fwdprop_dataset")) {
    fwdprop_error(sprintf("`dataset` must be a dataset made with `dataset()`, not %s.", describe_object(dataset)), call = call)
  }
  batch_size <- check_count(batch_size, "batch_size", call = call)
  check_flag(shuffle, "shuffle", call = call)
  check_flag(drop_last, "drop_last", call = call)
  n <- dataset_length(dataset, call)
  self <- new.env(parent = emptyenv())
  self$dataset <- dataset
  self$batch_size <- batch_size
  self$shuffle <- shuffle
  self$drop_last <- drop_last
  self$n_items <- n
  self$.length <- function() dataloader_length(self)
  class(self) <- c("fwdprop_dataloader", "dataloader")
  self
}

dataset_length <- function(ds, call) {
  f <- get0(".length", envir = ds, inherits = FALSE)
  n <- if (is.function(f)) f() else NULL
  if (!is.numeric(n) || length(n) != 1L || is.na(n) || n < 0 || n != round(n)) {
    fwdprop_error(sprintf("the dataset's `.length()` must return a whole number, not %s.", describe_value(n)), call = call)
  }
  as.integer(n)
}

dataloader_length <- function(dl) {
  n <- .subset2(dl, "n_items")
  bs <- .subset2(dl, "batch_size")
  as.integer(if (.subset2(dl, "drop_last")) n %/% bs else ceiling(n / bs))
}

#' @export
length.fwdprop_dataloader <- function(x) dataloader_length(x)

#' @export
print.fwdprop_dataloader <- function(x, ...) {
  cat("<dataloader> ", .subset2(x, "n_items"), " items in ", dataloader_length(x), " batches of ",
      .subset2(x, "batch_size"), if (.subset2(x, "shuffle")) ", shuffled" else "", "\n", sep = "")
  invisible(x)
}

# The item indices of each batch of one pass.
dataloader_batches <- function(dl) {
  n <- .subset2(dl, "n_items")
  order <- if (.subset2(dl, "shuffle")) sample.int(n) else seq_len(n)
  nb <- dataloader_length(dl)
  bs <- .subset2(dl, "batch_size")
  lapply(seq_len(nb), function(b) order[seq.int((b - 1L) * bs + 1L, min(b * bs, n))])
}

# One batch: the dataset's .getbatch(index), or its items stacked.
dataloader_load <- function(dl, index) {
  ds <- .subset2(dl, "dataset")
  gb <- get0(".getbatch", envir = ds, inherits = FALSE)
  if (is.function(gb)) {
    return(gb(index))
  }
  gi <- get(".getitem", envir = ds, inherits = FALSE)
  collate(lapply(index, gi))
}

# torch's default collation: tensors (or numbers) stacked along a new
# first dimension, lists collated element by element.
collate <- function(items) {
  first <- items[[1L]]
  if (is.list(first) && !is_tensor(first)) {
    out <- lapply(seq_along(first), function(k) collate(lapply(items, `[[`, k)))
    names(out) <- names(first)
    return(out)
  }
  if (!is_tensor(first)) {
    items <- lapply(items, function(v) torch_tensor(v))
  }
  stack_tensors(items)
}

stack_tensors <- function(ts) {
  shape <- .subset2(ts[[1L]], "shape")
  for (k in seq_along(ts)) {
    if (!is_tensor(ts[[k]]) || !identical(.subset2(ts[[k]], "shape"), shape)) {
      fwdprop_error(sprintf(
        "cannot stack the items of a batch: item %d is %s, item 1 a tensor of shape %s; every item must give tensors of one shape.",
        k, if (is_tensor(ts[[k]])) sprintf("a tensor of shape %s", shape_label(.subset2(ts[[k]], "shape"))) else describe_object(ts[[k]]),
        shape_label(shape)
      ), call = NULL)
    }
  }
  dtype <- Reduce(promote_dtype, lapply(ts, .subset2, "dtype"))
  data <- unlist(lapply(ts, .subset2, "data"), use.names = FALSE)
  new_tensor_obj(round_dtype(data, dtype), c(length(ts), shape), dtype)
}

#' @rdname dataloader
#' @param x A data loader.
#' @param max_len The most batches to list.
#' @param ... Unused.
#' @return `enumerate()`: a list of the batches of one pass (environments
#'   of class `enum_env`; index them: `batch[[1]]`).
#' @export
enumerate <- function(x, ...) UseMethod("enumerate")

#' @rdname dataloader
#' @export
enumerate.fwdprop_dataloader <- function(x, max_len = 1e6, ...) {
  batches <- dataloader_batches(x)
  batches <- batches[seq_len(min(length(batches), max_len))]
  lapply(batches, function(index) {
    e <- new.env(parent = emptyenv())
    e$dl <- x
    e$index <- index
    e$batch <- NULL
    structure(e, class = "enum_env")
  })
}

#' @export
`[[.enum_env` <- function(x, i, ...) enum_batch(x)[[i]]

#' @export
`$.enum_env` <- function(x, name) enum_batch(x)[[name]]

# The batch of an element of enumerate(), loaded when first used.
enum_batch <- function(x) {
  b <- .subset2(x, "batch")
  if (is.null(b)) {
    b <- dataloader_load(.subset2(x, "dl"), .subset2(x, "index"))
    assign("batch", b, envir = x)
  }
  b
}

#' @export
length.enum_env <- function(x) length(enum_batch(x))

#' @rdname dataloader
#' @param iter An iterator from `dataloader_make_iter()`.
#' @param completed What `dataloader_next()` returns after the last batch.
#' @return `dataloader_make_iter()`: an iterator; `dataloader_next()`: the
#'   next batch (a list), or `completed`.
#' @export
dataloader_make_iter <- function(x) {
  if (!inherits(x, "fwdprop_dataloader")) {
    fwdprop_error(sprintf("`x` must be a data loader made with `dataloader()`, not %s.", describe_object(x)), call = sys.call())
  }
  it <- new.env(parent = emptyenv())
  it$dl <- x
  it$batches <- dataloader_batches(x)
  it$pos <- 0L
  structure(it, class = "dataloader_iterator")
}

#' @rdname dataloader
#' @export
dataloader_next <- function(iter, completed = NULL) {
  if (!inherits(iter, "dataloader_iterator")) {
    fwdprop_error(sprintf("`iter` must be an iterator made with `dataloader_make_iter()`, not %s.", describe_object(iter)), call = sys.call())
  }
  pos <- iter$pos + 1L
  if (pos > length(iter$batches)) {
    return(completed)
  }
  iter$pos <- pos
  dataloader_load(iter$dl, iter$batches[[pos]])
}
