# Safetensors files made byte by byte, independently of fwdprop's writer:
# the 8-byte little-endian length of the JSON header, the header, the data.
# Tests use them to check the reader against the format and to make
# damaged and hostile files.

# An unsigned 64-bit little-endian length (exact for whole numbers < 2^53
# and for powers of two).
le_u64 <- function(n) {
  as.raw(vapply(0:7, function(k) (n %/% 256^k) %% 256, numeric(1L)))
}

# Little-endian bytes of a dtype's values.
st_data <- function(values, dtype = "F64") {
  switch(dtype,
    F64 = writeBin(as.double(values), raw(), size = 8L, endian = "little"),
    F32 = writeBin(as.double(values), raw(), size = 4L, endian = "little"),
    I64 = unlist(lapply(values, le_u64)),
    I32 = writeBin(as.integer(values), raw(), size = 4L, endian = "little"),
    F16 = as.raw(rep(0L, 2L * length(values))),
    stop("unknown dtype")
  )
}

# The float32 value nearest to each double, as a double.
as_float32 <- function(x) {
  readBin(writeBin(as.double(x), raw(), size = 4L, endian = "little"), "double",
          n = length(x), size = 4L, endian = "little")
}

# The bytes of a valid file holding `tensors`: a named list of
# list(shape, values, dtype) (values in C order), with the string map
# `metadata` (NULL for none). `header` rewrites the header text (for
# damaged files).
st_bytes <- function(tensors, metadata = NULL, header = identity) {
  entries <- character(0)
  data <- raw(0)
  for (nm in names(tensors)) {
    t <- tensors[[nm]]
    dtype <- if (is.null(t$dtype)) "F64" else t$dtype
    bytes <- st_data(t$values, dtype)
    entries <- c(entries, sprintf(
      '"%s":{"dtype":"%s","shape":[%s],"data_offsets":[%.0f,%.0f]}',
      nm, dtype, paste(format(t$shape, scientific = FALSE), collapse = ","),
      length(data), length(data) + length(bytes)
    ))
    data <- c(data, bytes)
  }
  if (!is.null(metadata)) {
    json_str <- function(s) paste0('"', gsub('"', '\\\\"', s), '"')
    entries <- c(sprintf('"__metadata__":{%s}', paste(
      json_str(names(metadata)), json_str(unname(metadata)), sep = ":", collapse = ","
    )), entries)
  }
  text <- header(paste0("{", paste(entries, collapse = ","), "}"))
  head <- charToRaw(enc2utf8(text))
  c(le_u64(length(head)), head, data)
}

# Writes `bytes` to a new file in the session's temporary directory.
st_file <- function(bytes, name = "model") {
  path <- tempfile(name, fileext = ".safetensors")
  writeBin(bytes, path)
  path
}

# A PyTorch-style layer: its weight given as fwdprop's in x out matrix `w`,
# stored as PyTorch's [out, in] in C order (that is, t(w) row by row).
torch_layer <- function(position, w, b = NULL, dtype = "F64") {
  w_torch <- t(w) # PyTorch's out x in
  c_order <- as.vector(t(w_torch)) # its rows one after the other
  out <- list()
  out[[sprintf("%d.weight", position)]] <- list(shape = dim(w_torch), values = c_order, dtype = dtype)
  if (!is.null(b)) out[[sprintf("%d.bias", position)]] <- list(shape = length(b), values = b, dtype = dtype)
  out
}

# The bytes of a valid file holding a chain of `n_layers` 1 x 1 layers,
# each with a bias: 2 * n_layers tensors "0.weight", "0.bias", "2.weight",
# ... (positions 0, 2, 4, ...), weights 0.5 and biases 0.1, made whole
# (st_bytes() grows its header tensor by tensor, which is quadratic).
st_chain_bytes <- function(n_layers) {
  pos <- 2 * (seq_len(n_layers) - 1)
  off <- 16 * (seq_len(n_layers) - 1)
  entries <- sprintf(paste0(
    '"%.0f.weight":{"dtype":"F64","shape":[1,1],"data_offsets":[%.0f,%.0f]},',
    '"%.0f.bias":{"dtype":"F64","shape":[1],"data_offsets":[%.0f,%.0f]}'
  ), pos, off, off + 8, pos, off + 8, off + 16)
  head <- charToRaw(paste0("{", paste(entries, collapse = ","), "}"))
  c(le_u64(length(head)), head, st_data(rep(c(0.5, 0.1), n_layers)))
}

# The bytes of a file with the header text `header` (written as it is, so
# it may repeat keys) and the data `values` (F64).
st_raw_bytes <- function(header, values = numeric(0)) {
  head <- charToRaw(enc2utf8(header))
  c(le_u64(length(head)), head, st_data(values))
}

# The bad cases of the new functions: each an error of class fwdprop_error
# naming the argument (`x`, `rep`, `path`, `net`, `activation`, `output`),
# never a crash or Rust panic text; the messages are pinned below.
import_bad_files <- function() {
  set.seed(18)
  w1 <- matrix(rnorm(6), 3, 2)
  w2 <- matrix(rnorm(4), 2, 2)
  good <- c(torch_layer(0, w1, rnorm(2)), torch_layer(2, w2))
  files <- list(
    empty_file = raw(0),
    shorter_than_8 = as.raw(1:5),
    truncated = head(st_bytes(good), -8),
    extra_bytes = c(st_bytes(good), as.raw(0)),
    header_length_past_end = c(le_u64(1000), charToRaw("{}")),
    header_not_json = {
      h <- charToRaw("{\"0.weight\": [")
      c(le_u64(length(h)), h)
    },
    header_not_utf8 = c(le_u64(2), as.raw(c(0xff, 0xfe))),
    offsets_lie = st_bytes(good, header = function(h) sub('"data_offsets":[0,', '"data_offsets":[8,', h, fixed = TRUE)),
    shape_lies_larger = st_bytes(good, header = function(h) sub("[2,3]", "[3,3]", h, fixed = TRUE)),
    shape_lies_smaller = st_bytes(good, header = function(h) sub("[2,2]", "[1,2]", h, fixed = TRUE)),
    no_tensors = {
      h <- charToRaw("{}")
      c(le_u64(length(h)), h)
    },
    nan_filled = st_bytes(c(torch_layer(0, matrix(NaN, 3, 2)), torch_layer(2, w2))),
    inf_bias = st_bytes(c(torch_layer(0, w1, c(1, Inf)), torch_layer(2, w2))),
    dtype_i64 = st_bytes(list(`0.weight` = list(shape = c(2, 3), values = 1:6, dtype = "I64"))),
    dtype_f16 = st_bytes(list(`0.weight` = list(shape = c(2, 3), values = 1:6, dtype = "F16"))),
    non_numeric_key = st_bytes(c(good, list(`fc.weight` = list(shape = c(1, 2), values = 1:2)))),
    batch_norm_key = st_bytes(c(good, list(`1.running_mean` = list(shape = 2, values = 1:2)))),
    bias_without_weight = st_bytes(c(good, list(`4.bias` = list(shape = 2, values = 1:2)))),
    weight_rank_3 = st_bytes(list(`0.weight` = list(shape = c(1, 2, 3), values = 1:6))),
    weight_rank_1 = st_bytes(list(`0.weight` = list(shape = 6, values = 1:6))),
    zero_width = st_bytes(list(`0.weight` = list(shape = c(0, 3), values = numeric(0)))),
    do_not_chain = st_bytes(c(torch_layer(0, w1), torch_layer(2, matrix(1, 3, 2)))),
    bias_wrong_length = st_bytes(c(torch_layer(0, w1, c(1, 2, 3)))),
    meta_missing_layer = st_bytes(good, metadata = c(fwdprop.sizes = "[3,2,2,1]")),
    meta_bad_json = st_bytes(good, metadata = c(fwdprop.activations = "[\"relu\",")),
    meta_unknown_activation = st_bytes(good, metadata = c(fwdprop.activations = "[\"swish\",\"identity\"]")),
    meta_activation_count = st_bytes(good, metadata = c(fwdprop.activations = "[\"relu\"]")),
    meta_levels = st_bytes(good, metadata = c(fwdprop.activations = "[\"relu\",\"softmax\"]",
                                             fwdprop.levels = "[\"a\",\"a\"]")),
    meta_scaling = st_bytes(good, metadata = c(fwdprop.activations = "[\"relu\",\"identity\"]",
                                              fwdprop.scaling = "{\"center\":[1,2,3],\"scale\":[1,0,1]}")),
    meta_inputs = st_bytes(good, metadata = c(fwdprop.activations = "[\"relu\",\"identity\"]",
                                             fwdprop.inputs = "[\"a\",\"b\"]")),
    meta_nul = st_bytes(good, metadata = c(fwdprop.inputs = "[\"a\\u0000\",\"b\",\"c\"]")),
    duplicate_name = st_bytes(good, header = function(h) {
      sub("}$", ',"2.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[64,96]}}', h)
    }),
    duplicate_metadata = st_bytes(good, metadata = c(format = "pt"), header = function(h) {
      sub('"format":"pt"', '"format":"pt","format":"np"', h, fixed = TRUE)
    })
  )
  dir <- tempfile("bad")
  dir.create(dir)
  paths <- vapply(names(files), function(nm) {
    p <- file.path(dir, paste0(nm, ".safetensors"))
    writeBin(files[[nm]], p)
    p
  }, character(1))
  good_path <- file.path(dir, "good.safetensors.ok")
  writeBin(st_bytes(good), good_path)
  list(dir = dir, paths = paths, good = good_path)
}

# Raw little-endian float64 matrices in row-major order (the Python side).
read_rowmajor <- function(path, rows, cols) {
  matrix(readBin(path, "double", n = rows * cols, size = 8, endian = "little"), rows, cols, byrow = TRUE)
}
write_rowmajor <- function(x, path) writeBin(as.vector(t(x)), path, size = 8, endian = "little")
