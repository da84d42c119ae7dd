# safetensors files (PyTorch's nn.Sequential state_dict) read and written
# through the safetensors crate (src/rust/glue/src/safetensors.rs), with
# fwdprop's own metadata (activations, input names, classes, scaling) so
# that its own round trip is lossless.

#' Read and write networks as safetensors files (PyTorch)
#'
#' `write_safetensors()` saves a network in the safetensors format, the way
#' PyTorch saves an `nn.Sequential`'s `state_dict()`: tensors `0.weight`,
#' `0.bias`, `2.weight`, ... (the positions of the `nn.Linear` modules in an
#' `nn.Sequential` with one activation module after each layer, none after
#' an `"identity"` layer), weights in PyTorch's `out_features x
#' in_features` layout (the transpose of fwdprop's), in float64.
#' `read_safetensors()` reads such a file, written by fwdprop or by PyTorch
#' (`safetensors.torch.save_file(model.state_dict(), path)`), into a
#' network. Both go through Hugging Face's reference implementation of the
#' format (the Rust `safetensors` crate).
#'
#' A state_dict holds the weights but not the activations: they come from
#' `activation` and `output` (as in [network()]), or, in files written by
#' `write_safetensors()`, from the file's metadata. `write_safetensors()`
#' stores in the metadata (`__metadata__`, JSON strings under the keys
#' `fwdprop.sizes`, `fwdprop.activations`, `fwdprop.inputs`,
#' `fwdprop.outputs`, `fwdprop.levels`, `fwdprop.scaling`,
#' `fwdprop.target_scaling`, `fwdprop.init`, `fwdprop.dimnames`) whatever
#' `predict()` needs, so that reading the file back gives the identical
#' network, and PyTorch users can rebuild the `nn.Sequential` from it (see
#' the article "Bring your own weights" on the package website). Not stored:
#' the formula of a network fitted with one (`$terms`: a file holds numbers
#' and names, never R code) and its training record and history; a network read back
#' takes its inputs by name, as the columns of the model matrix.
#'
#' `read_safetensors()` reads F64 tensors, and F32 tensors converted to
#' double exactly. It checks everything a file declares before using it:
#' the header's length against the file's size, the bytes its tensors
#' declare against the bytes the file holds (before reading any data), then
#' the whole file with the crate's validation (offsets, shapes, dtypes);
#' tensor names that are not an `nn.Sequential`'s weights and biases,
#' shapes that do not chain, non-finite values and metadata that does not
#' fit the tensors are errors. A file is read once into memory, so reading
#' needs about twice the file's size (the file, and the network's
#' matrices).
#'
#' @param path File name of the `.safetensors` file.
#' @param activation,output Activations of the hidden layers and of the
#'   output layer, as in [network()]. When both are `NULL`, they come from
#'   the file's metadata (files written by `write_safetensors()`); `output`
#'   alone replaces the output activation of the metadata.
#' @param net A network from [network()], [mlp()], [as_network()], ...
#' @return `read_safetensors()`: a `fwdprop_network`.
#'   `write_safetensors()`: `path`, invisibly.
#' @seealso [as_network()] for nnet, neuralnet and torch for R.
#' @export
#' @examples
#' net <- network(c(4, 5, 3), activation = "relu", output = "softmax",
#'                bias = TRUE, seed = 1)
#' path <- tempfile(fileext = ".safetensors")
#' write_safetensors(net, path)
#' identical(read_safetensors(path), net)
#'
#' # a fitted classifier keeps its input names, scaling and classes
#' m <- mlp(Species ~ ., data = iris, hidden = 4, epochs = 20, seed = 1)
#' write_safetensors(m, path)
#' m2 <- read_safetensors(path)
#' m2
#' all(predict(m2, iris, type = "class") == predict(m, iris, type = "class"))
#'
#' # In Python, PyTorch loads it into the matching nn.Sequential:
#' #   from safetensors.torch import load_file
#' #   model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Sigmoid(),
#' #                               torch.nn.Linear(4, 3), torch.nn.Softmax(dim=1))
#' #   model.double().load_state_dict(load_file(path))
#' unlink(path)
read_safetensors <- function(path, activation = NULL, output = NULL) {
  call <- sys.call()
  path <- check_readable_path(path, call)
  header <- safetensors_header_impl(path)
  if (!is.null(header$error)) file_error(path, header$error, call)
  layout <- sequential_layout(header, path, call)
  L <- length(layout$weights)
  meta <- fwdprop_metadata(header$metadata, layout, path, call)
  acts <- resolve_activations(activation, output, meta$activations, L, path, call)
  wanted <- c(layout$weights, layout$biases[!is.na(layout$biases)])
  tensors <- safetensors_read_impl(path, wanted)
  if (!identical(names(tensors), wanted)) file_error(path, tensors$error, call)
  # by position, never by name: looking a name up in a list is linear
  finite <- vapply(tensors, function(t) all(is.finite(t)), logical(1L), USE.NAMES = FALSE)
  if (!all(finite)) {
    i <- which(!finite)[[1L]]
    bad <- sum(!is.finite(tensors[[i]]))
    file_error(path, sprintf(
      "holds %d NA, NaN or infinite value%s in tensor \"%s\": that is not a usable network",
      bad, if (bad == 1L) "" else "s", wanted[[i]]
    ), call)
  }
  has_bias <- !is.na(layout$biases)
  weights <- unname(tensors[seq_len(L)])
  biases <- vector("list", L)
  biases[has_bias] <- unname(tensors[L + seq_len(sum(has_bias))])
  net <- network(weights = weights, biases = biases,
                 activation = if (L > 1L) acts[-L] else acts[[L]], output = acts[[L]])
  apply_metadata(net, meta, path, call)
}

#' @rdname read_safetensors
#' @export
write_safetensors <- function(net, path) {
  call <- sys.call()
  net <- check_network(net, "net", call = call)
  path <- check_path(path, "path", call = call)
  if (dir.exists(path)) {
    fwdprop_error(sprintf("`path` (\"%s\") is a directory; give a file name.", path), call = call)
  }
  if (!dir.exists(dirname(path))) {
    fwdprop_error(sprintf("`path` (\"%s\") is in a directory that does not exist.", path), call = call)
  }
  check_finite_parameters(net, "net", "a safetensors file holds finite weights only", call = call)
  L <- length(net$weights)
  # positions in the nn.Sequential: each nn.Linear is followed by its
  # activation module, except for "identity" layers, which have none
  pos <- cumsum(c(0L, 1L + (net$activations[-L] != "identity")))[seq_len(L)]
  # the weights, then the biases (the file orders its tensors itself),
  # built whole: growing the lists layer by layer would be quadratic
  # (the Rust side reads the matrices' values in place: no copies)
  has_bias <- lengths(net$biases) > 0L
  names <- c(sprintf("%d.weight", pos), sprintf("%d.bias", pos[has_bias]))
  tensors <- c(net$weights, net$biases[has_bias])
  dims <- matrix(unlist(lapply(net$weights, dim), use.names = FALSE), 2L)
  shapes <- c(.mapply(c, list(dims[2L, ], dims[1L, ]), NULL), # [out, in]
              as.list(lengths(net$biases[has_bias])))
  res <- safetensors_write_impl(path, names, tensors, shapes, network_metadata(net, call))
  if (!is.null(res$error)) file_error(path, res$error, call)
  invisible(path)
}

# A path to an existing regular file, for reading.
check_readable_path <- function(path, call) {
  path <- check_path(path, "path", call = call)
  if (!file.exists(path)) {
    fwdprop_error(sprintf("`path` (\"%s\") does not exist.", path), call = call)
  }
  if (dir.exists(path)) {
    fwdprop_error(sprintf("`path` (\"%s\") is a directory, not a safetensors file.", path), call = call)
  }
  path
}

file_error <- function(path, what, call) {
  fwdprop_error(sprintf("`path` (\"%s\") %s.", path, what), call = call)
}

# The layers of an nn.Sequential's state_dict from the header: tensors
# named "<position>.weight" ([out, in]) and "<position>.bias" ([out]),
# F64 or F32, in the order of the positions, whose shapes chain. Returns
# the weight and bias names (NA for a layer without bias) and the sizes.
# Every check is vectorised over the tensors (a file may hold 100,000 of
# them); the first problem, in the order of the positions, is reported.
sequential_layout <- function(header, path, call) {
  nm <- header$names
  if (length(nm) == 0L) {
    file_error(path, "holds no tensors", call)
  }
  odd <- nm[!grepl("^(0|[1-9][0-9]*)\\.(weight|bias)$", nm)]
  if (length(odd) > 0L) {
    file_error(path, sprintf(paste(
      "holds %s not the weights and biases of an nn.Sequential of nn.Linear layers",
      "(named like `0.weight`, `0.bias`, `2.weight`): %s"
    ), if (length(odd) == 1L) "a tensor that is" else sprintf("%d tensors that are", length(odd)),
    paste0("\"", utils::head(odd, 5L), "\"", collapse = ", ")), call)
  }
  bad_dtype <- !(header$dtypes %in% c("F64", "F32"))
  if (any(bad_dtype)) {
    i <- which(bad_dtype)[[1L]]
    file_error(path, sprintf("holds tensor \"%s\" of dtype %s; fwdprop reads F64 and F32 tensors",
                             nm[[i]], header$dtypes[[i]]), call)
  }
  # positions as the digits of the names: numerals without leading zeros
  # are in numeric order by length, then digit by digit (exact at any
  # size, where doubles are not beyond 2^53)
  dot <- regexpr(".", nm, fixed = TRUE)
  position <- substr(nm, 1L, dot - 1L)
  is_weight <- substr(nm, dot + 1L, nchar(nm)) == "weight"
  in_order <- function(i) i[order(nchar(position[i]), position[i], method = "radix")]
  w <- in_order(which(is_weight)) # the layers, one weight each (the names are distinct)
  b <- which(!is_weight)
  layer_of_b <- match(position[b], position[w])
  orphan <- in_order(b[is.na(layer_of_b)])
  L <- length(w)
  bias <- rep(NA_integer_, L)
  bias[layer_of_b[!is.na(layer_of_b)]] <- b[!is.na(layer_of_b)]
  has_bias <- !is.na(bias)
  # shapes [out, in] of the weights (NA for those that are not matrices)
  ws <- header$shapes[w]
  matrix_shape <- lengths(ws) == 2L
  n_out <- n_in <- rep(NA_real_, L)
  if (any(matrix_shape)) {
    dims <- matrix(unlist(ws[matrix_shape], use.names = FALSE), 2L)
    n_out[matrix_shape] <- dims[1L, ]
    n_in[matrix_shape] <- dims[2L, ]
  }
  bad_shape <- !matrix_shape | n_out < 1 | n_in < 1
  too_large <- n_in * n_out > .Machine$integer.max
  no_chain <- c(FALSE, n_in[-1L] != n_out[-L])
  bs <- header$shapes[bias[has_bias]]
  bad_bias <- rep(FALSE, L)
  bad_bias[has_bias] <- lengths(bs) != 1L |
    vapply(bs, function(s) s[1L], numeric(1L)) != n_out[has_bias]
  bad <- bad_shape | too_large | no_chain | bad_bias
  first <- match(TRUE, bad | is.na(bad)) # NA only after a weight that is not a matrix
  if (length(orphan) > 0L) {
    o <- orphan[[1L]]
    if (is.na(first) || in_order(c(o, w[[first]]))[[1L]] == o) {
      file_error(path, sprintf("has a bias \"%s\" without the weight \"%s.weight\" of its layer",
                               nm[[o]], position[[o]]), call)
    }
  }
  if (!is.na(first)) {
    layer_error(first, nm[w], ws, nm[bias], bs = header$shapes[bias], path, call)
  }
  list(weights = nm[w], biases = nm[bias], sizes = as.integer(c(n_in[[1L]], n_out)))
}

# The error for the first layer that sequential_layout() finds wrong:
# layer `l` of the weights `wn` of shapes `ws` and biases `bn` (NA for
# none) of shapes `bs`.
layer_error <- function(l, wn, ws, bn, bs, path, call) {
  shape_text <- function(s) sprintf("[%s]", paste(format(s, scientific = FALSE, trim = TRUE), collapse = ", "))
  s <- ws[[l]]
  if (length(s) != 2L || any(s < 1)) {
    file_error(path, sprintf(
      "has a weight \"%s\" of shape %s; a layer's weight is a matrix [out_features, in_features] of at least one of each",
      wn[[l]], shape_text(s)
    ), call)
  }
  check_matrix_size(s[[2L]], s[[1L]], sprintf("`path`'s tensor \"%s\"", wn[[l]]), call = call)
  if (l > 1L && s[[2L]] != ws[[l - 1L]][[1L]]) {
    n_in <- s[[2L]]
    n_prev <- ws[[l - 1L]][[1L]]
    file_error(path, sprintf(
      "has layers that do not chain: \"%s\" takes %s input%s but \"%s\" gives %s output%s",
      wn[[l]], format(n_in, scientific = FALSE), if (n_in == 1) "" else "s", wn[[l - 1L]],
      format(n_prev, scientific = FALSE), if (n_prev == 1) "" else "s"
    ), call)
  }
  if (!is.na(bn[[l]]) && !identical(bs[[l]], s[[1L]])) {
    file_error(path, sprintf("has a bias \"%s\" of shape %s for a layer of %s output%s (\"%s\" is %s)",
                             bn[[l]], shape_text(bs[[l]]), format(s[[1L]], scientific = FALSE),
                             if (s[[1L]] == 1) "" else "s", wn[[l]], shape_text(s)), call)
  }
  file_error(path, sprintf("has a layer \"%s\" that fwdprop cannot read", wn[[l]]), call) # nocov
}

# The "fwdprop.*" entries of a file's metadata, decoded from JSON and
# checked against the tensors (`layout`). Other entries are ignored.
fwdprop_metadata <- function(raw, layout, path, call) {
  keys <- names(raw)
  out <- list()
  sizes <- layout$sizes
  L <- length(sizes) - 1L
  bad <- function(key, what) {
    file_error(path, sprintf("has metadata \"fwdprop.%s\" that %s", key, what), call)
  }
  for (key in c("sizes", "activations", "inputs", "outputs", "levels", "scaling",
                "target_scaling", "init", "dimnames")) {
    full <- paste0("fwdprop.", key)
    if (!(full %in% keys)) next
    res <- json_decode_impl(raw[[full]])
    if (!is.null(res$error)) bad(key, sprintf("cannot be read as JSON (%s)", res$error))
    out[key] <- list(res$value)
  }
  if (!is.null(s <- out$sizes)) {
    if (!is.numeric(s) || anyNA(s) || length(s) != length(sizes) || any(s != sizes)) {
      bad("sizes", sprintf(
        "says the network is %s, but its tensors make a network %s: a layer is missing or the file is not the network the metadata describes",
        if (is.numeric(s)) paste(s, collapse = "-") else describe_value(s), paste(sizes, collapse = "-")
      ))
    }
  }
  if (!is.null(a <- out$activations)) {
    if (!is_activation_names(a) || length(a) != L) {
      bad("activations", sprintf(
        "must name one activation per layer (%d) out of %s, not %s", L,
        activation_choices(),
        if (is.character(a) && length(a) > 1L) sprintf("c(%s)", paste0("\"", a, "\"", collapse = ", ")) else describe_value(a)
      ))
    }
  }
  for (key in c("inputs", "outputs")) {
    v <- out[[key]]
    n <- if (key == "inputs") sizes[[1L]] else sizes[[L + 1L]]
    if (!is.null(v) && (!is.character(v) || length(v) != n)) {
      bad(key, sprintf("must be %d name%s, one per %s, not %s", n, if (n == 1L) "" else "s",
                       substr(key, 1L, nchar(key) - 1L), describe_value(v)))
    }
  }
  for (key in c("scaling", "target_scaling")) {
    sc <- out[[key]]
    if (is.null(sc)) next
    if (!is.list(sc) || !is.numeric(sc$center) || !is.numeric(sc$scale)) {
      bad(key, "must be an object with numeric arrays \"center\" and \"scale\"")
    }
    res <- list(center = as.double(sc$center), scale = as.double(sc$scale))
    for (part in c("center", "scale")) {
      nms <- sc[[paste0(part, "_names")]]
      if (!is.null(nms)) {
        if (!is.character(nms) || length(nms) != length(res[[part]])) {
          bad(key, sprintf("has \"%s_names\" that are not one name per value", part))
        }
        names(res[[part]]) <- nms
      }
    }
    out[[key]] <- res
  }
  if (!is.null(init <- out$init)) {
    if (!is.list(init) || !is.character(init$method) || length(init$method) != 1L ||
        !(init$method %in% init_methods) || !is.numeric(init$seed) || length(init$seed) != 1L) {
      bad("init", "must be an object with the \"method\" and \"seed\" of `init_weights()`")
    }
    out$init <- list(method = init$method, seed = as.double(init$seed))
  }
  if (!is.null(dn <- out$dimnames)) {
    ok <- is.list(dn) && length(dn) == L && all(vapply(seq_len(L), function(l) {
      d <- dn[[l]]
      is.list(d) && all(names(d) %in% c("rows", "cols")) &&
        (is.null(d$rows) || (is.character(d$rows) && length(d$rows) == sizes[[l]])) &&
        (is.null(d$cols) || (is.character(d$cols) && length(d$cols) == sizes[[l + 1L]]))
    }, logical(1L)))
    if (!ok) bad("dimnames", "must hold each layer's row and column names, matching its shape")
  }
  out
}

# The activations of a file's network: from the arguments (as network()
# takes them), or from its metadata.
resolve_activations <- function(activation, output, meta, L, path, call) {
  hidden <- activation
  if (is.null(hidden) && !is.null(meta)) hidden <- if (L > 1L) meta[-L] else meta[[L]]
  if (is.null(output) && is.null(activation) && !is.null(meta)) output <- meta[[L]]
  if (is.null(hidden) && L == 1L) hidden <- output
  if (is.null(hidden)) {
    fwdprop_error(sprintf(paste(
      "`activation` is needed: `path` (\"%s\") holds the weights of %d layers but no fwdprop",
      "metadata saying which activations follow them (a PyTorch state_dict holds only",
      "parameters). Give them as in `network()`, e.g. `activation = \"relu\", output = \"identity\"`."
    ), path, L), call = call)
  }
  check_activations(hidden, output, L, call = call)
}

# The metadata's names, classes, scaling and initialisation added to the
# network built from a file's tensors, and checked as check_network() does.
apply_metadata <- function(net, meta, path, call) {
  L <- length(net$weights)
  if (!is.null(meta$inputs)) rownames(net$weights[[1L]]) <- meta$inputs
  if (!is.null(meta$outputs)) colnames(net$weights[[L]]) <- meta$outputs
  if (!is.null(dn <- meta$dimnames)) {
    for (l in seq_len(L)) {
      d <- list(dn[[l]]$rows, dn[[l]]$cols)
      dimnames(net$weights[[l]]) <- if (is.null(d[[1L]]) && is.null(d[[2L]])) NULL else d
    }
  }
  if (!is.null(meta$init)) net$init <- meta$init
  for (field in c("levels", "scaling", "target_scaling")) {
    if (!is.null(meta[[field]])) net[[field]] <- meta[[field]]
  }
  check_network_extras(net, "path", call,
                       prefix = sprintf("`path` (\"%s\") has metadata that does not fit its network", path),
                       field = function(f) sprintf("\"fwdprop.%s\"", f))
  net
}

# The metadata write_safetensors() stores: JSON strings that
# read_safetensors() turns back into the identical network.
network_metadata <- function(net, call) {
  L <- length(net$weights)
  json <- function(x) json_encode_impl(as_utf8(x, "`net`", call = call))
  meta <- c(
    format = "pt",
    fwdprop.version = as.character(utils::packageVersion("fwdprop")),
    fwdprop.sizes = json(as.integer(net$sizes)),
    fwdprop.activations = json(net$activations)
  )
  inputs <- rownames(net$weights[[1L]])
  outputs <- colnames(net$weights[[L]])
  if (!is.null(inputs)) meta[["fwdprop.inputs"]] <- json(inputs)
  if (!is.null(outputs)) meta[["fwdprop.outputs"]] <- json(outputs)
  # names anywhere else (hidden units): every layer's row and column names
  dn <- lapply(net$weights, dimnames)
  has_rows <- lengths(lapply(dn, `[[`, 1L)) > 0L
  has_cols <- lengths(lapply(dn, `[[`, 2L)) > 0L
  if (any(has_rows[-1L]) || any(has_cols[-L])) {
    meta[["fwdprop.dimnames"]] <- json(lapply(net$weights, function(w) {
      d <- list(rows = rownames(w), cols = colnames(w))
      d[!vapply(d, is.null, logical(1L))]
    }))
  }
  if (!is.null(net[["levels"]])) meta[["fwdprop.levels"]] <- json(as.character(net$levels))
  for (field in c("scaling", "target_scaling")) {
    sc <- net[[field]]
    if (is.null(sc)) next
    value <- list(center = unname(as.double(sc$center)), scale = unname(as.double(sc$scale)))
    if (!is.null(names(sc$center))) value$center_names <- names(sc$center)
    if (!is.null(names(sc$scale))) value$scale_names <- names(sc$scale)
    meta[[paste0("fwdprop.", field)]] <- json(value)
  }
  init <- net[["init"]]
  if (is.list(init) && !is.null(init$method) && !is.null(init$seed)) {
    meta[["fwdprop.init"]] <- json(list(method = init$method, seed = init$seed))
  }
  meta
}
