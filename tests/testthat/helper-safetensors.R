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
