# read_safetensors() and write_safetensors() (R/safetensors.R): PyTorch's
# layout, fwdprop's own round trip, hostile files, and PyTorch itself.

test_that("read_safetensors() reads PyTorch's layout (out x in, C order; F64 and F32)", {
  set.seed(16)
  w1 <- matrix(rnorm(6), 3, 2) # fwdprop's in x out
  w2 <- matrix(rnorm(2), 2, 1)
  b1 <- rnorm(2)
  path <- st_file(st_bytes(c(torch_layer(0, w1, b1), torch_layer(2, w2))))
  net <- read_safetensors(path, activation = "tanh", output = "identity")
  expect_identical(net$weights, list(w1, w2))
  expect_identical(net$biases, list(b1, NULL))
  expect_identical(net$activations, c("tanh", "identity"))
  x <- matrix(rnorm(9), 3)
  expect_equal(predict(net, x), tanh(x %*% w1 + rep(b1, each = 3)) %*% w2, tolerance = 1e-14)
  # F32 tensors: their float32 values, exactly
  p32 <- st_file(st_bytes(c(torch_layer(0, w1, b1, dtype = "F32"), torch_layer(1, w2, dtype = "F32"))))
  net32 <- read_safetensors(p32, activation = "identity", output = "sigmoid")
  expect_identical(net32$weights, list(matrix(as_float32(w1), 3, 2), matrix(as_float32(w2), 2, 1)))
  expect_identical(net32$biases[[1]], as_float32(b1))
  # a single layer needs only one activation
  one <- read_safetensors(st_file(st_bytes(torch_layer(0, w1, b1))), output = "softmax")
  expect_identical(one$activations, "softmax")
  unlink(c(path, p32))
})

test_that("write_safetensors() writes PyTorch's layout, byte for byte", {
  w1 <- matrix(c(1, 2, 3, 4, 5, 6), 3, 2)
  w2 <- matrix(c(0.5, -0.25), 2, 1)
  net <- network(weights = list(w1, w2), biases = list(c(7, 8), NULL), activation = "identity",
                 output = "sigmoid")
  path <- tempfile(fileext = ".safetensors")
  write_safetensors(net, path)
  bytes <- readBin(path, "raw", file.size(path))
  n <- sum(as.numeric(bytes[1:8]) * 256^(0:7))
  header <- rawToChar(bytes[8 + seq_len(n)])
  data <- bytes[-seq_len(8 + n)]
  expect_identical(n %% 8, 0) # the crate pads the header to 8 bytes
  # an identity layer has no activation module: the next Linear is at 1
  expect_match(header, '"0.weight":{"dtype":"F64","shape":[2,3],', fixed = TRUE)
  expect_match(header, '"0.bias":{"dtype":"F64","shape":[2],', fixed = TRUE)
  expect_match(header, '"1.weight":{"dtype":"F64","shape":[1,2],', fixed = TRUE)
  expect_false(grepl("1.bias", header, fixed = TRUE))
  expect_match(header, '"fwdprop.activations":"[\\"identity\\",\\"sigmoid\\"]"', fixed = TRUE)
  expect_match(header, '"format":"pt"', fixed = TRUE)
  # the data: the tensors in the order of their names, each in C order of
  # PyTorch's [out, in] matrix t(w), that is its rows one after the other
  expect_match(header, '"0.bias":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}', fixed = TRUE)
  expect_match(header, '"0.weight":{"dtype":"F64","shape":[2,3],"data_offsets":[16,64]}', fixed = TRUE)
  expect_match(header, '"1.weight":{"dtype":"F64","shape":[1,2],"data_offsets":[64,80]}', fixed = TRUE)
  values <- readBin(data, "double", n = length(data) / 8, size = 8, endian = "little")
  rows <- function(m) as.vector(t(m))
  expect_identical(values, c(7, 8, rows(t(w1)), rows(t(w2))))
  unlink(path)
})

test_that("fwdprop's own round trip gives the identical network", {
  set.seed(17)
  dir <- tempfile("roundtrip")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE))
  rt <- function(net) {
    path <- file.path(dir, "net.safetensors")
    write_safetensors(net, path)
    read_safetensors(path)
  }
  for (acts in list("sigmoid", c("relu", "tanh", "softmax"), c("identity", "relu", "identity"),
                    c("tanh", "identity", "sigmoid"))) {
    L <- length(acts)
    sizes <- sample(1:7, L + 1, replace = TRUE) + 1L
    for (bias in c(TRUE, FALSE)) {
      net <- network(sizes, activation = if (L > 1) acts[-L] else acts, output = acts[L],
                     bias = bias, init = "normal", seed = 17)
      if (bias) net$biases <- lapply(net$biases, function(b) rnorm(length(b)))
      expect_identical(rt(net), net)
    }
  }
  # user weights with names on every side, a layer without bias, tiny and huge values
  w <- list(matrix(c(1e-300, -1e300, pi, exp(1)), 2, dimnames = list(c("a", "b"), c("h1", "h2"))),
            matrix(c(0.1, 0.2), 2, dimnames = list(c("h1", "h2"), "out")))
  net <- network(weights = w, biases = list(NULL, 0.3), activation = "tanh", output = "identity")
  expect_identical(rt(net), net)
  # names in any encoding come back as the same text, in UTF-8
  latin1 <- c("caf\xe9", "na\xefve")
  Encoding(latin1) <- "latin1"
  rownames(net$weights[[1]]) <- latin1
  back <- rt(net)
  expect_identical(rownames(back$weights[[1]]), c("caf\u00e9", "na\u00efve"))
  expect_identical(Encoding(rownames(back$weights[[1]])), c("UTF-8", "UTF-8"))
  # bytes that are no text in the session's encoding: as enc2utf8() gives them
  odd <- c("a\xff", "b")
  rownames(net$weights[[1]]) <- odd
  expect_identical(rownames(rt(net)$weights[[1]]), enc2utf8(odd))
  # a fitted classifier: input names, scaling, classes (not its training record or formula)
  m <- mlp(Species ~ ., data = iris, hidden = 3, epochs = 5, seed = 1, verbose = FALSE)
  back <- rt(m)
  expect_identical(back, structure(unclass(m)[setdiff(names(m), c("terms", "training", "history", "call", "model"))],
                                   class = "fwdprop_network"))
  expect_identical(predict(back, iris[, 1:4], type = "class"), unname(predict(m, iris[, 1:4], type = "class")))
  # a regression with target scaling, and an imported nnet classifier
  r <- mlp(mpg ~ wt + hp, data = mtcars, hidden = 2, epochs = 5, seed = 1, verbose = FALSE)
  expect_identical(predict(rt(r), mtcars[, c("wt", "hp")]), predict(r, mtcars))
  set.seed(2)
  f <- nnet::nnet(Species ~ ., data = iris, size = 2, trace = FALSE)
  nf <- as_network(f)
  nf$terms <- NULL
  expect_identical(rt(nf), nf)
})

test_that("activations come from the arguments, or from the metadata, and `output` alone replaces the output", {
  net <- network(c(3, 4, 2), activation = "relu", output = "softmax", bias = TRUE, seed = 3)
  path <- tempfile(fileext = ".safetensors")
  on.exit(unlink(path))
  write_safetensors(net, path)
  expect_identical(read_safetensors(path)$activations, c("relu", "softmax"))
  expect_identical(read_safetensors(path, output = "identity")$activations, c("relu", "identity"))
  expect_identical(read_safetensors(path, activation = "tanh")$activations, c("tanh", "tanh"))
  expect_identical(read_safetensors(path, activation = "tanh", output = "sigmoid")$activations,
                   c("tanh", "sigmoid"))
  # a state_dict without fwdprop's metadata needs them
  w <- list(matrix(1, 3, 4), matrix(1, 4, 2))
  plain <- st_file(st_bytes(c(torch_layer(0, w[[1]]), torch_layer(2, w[[2]])), metadata = c(format = "pt")))
  expect_error(read_safetensors(plain), "`activation` is needed", class = "fwdprop_error")
  expect_identical(read_safetensors(plain, activation = "relu", output = "identity")$activations,
                   c("relu", "identity"))
  unlink(plain)
})

test_that("hostile files never allocate what they declare: huge shapes and header lengths fail fast", {
  # a 10^6 x 10^6 F64 tensor (8 TB) declared in a file of a few hundred bytes
  huge <- st_file(st_bytes(list(`0.weight` = list(shape = c(2, 2), values = 1:4)),
                           header = function(h) sub("[2,2]", "[1000000,1000000]", h, fixed = TRUE)))
  t0 <- proc.time()[["elapsed"]]
  expect_error(read_safetensors(huge, activation = "relu"), "declares 8000000000000 bytes", class = "fwdprop_error")
  # a header length of 2^62 bytes
  long <- st_file(c(le_u64(2^62), charToRaw("{}")))
  expect_error(read_safetensors(long, activation = "relu"), "header of 4611686018427387904 bytes",
               class = "fwdprop_error")
  expect_lt(proc.time()[["elapsed"]] - t0, 5)
  unlink(c(huge, long))
})

test_that("a tensor name, metadata key or JSON key given twice is refused, never the last one kept", {
  # the crate alone reads this file, keeping the second "0.weight" (a 3 x 2
  # weight where the first entry says 2 x 3): refused, naming the tensor
  entry <- function(name, shape, from, to) {
    sprintf('"%s":{"dtype":"F64","shape":[%s],"data_offsets":[%d,%d]}', name, shape, from, to)
  }
  twice <- st_file(st_raw_bytes(paste0("{", paste(
    entry("0.weight", "2,3", 0, 48), entry("0.bias", "2", 48, 64), entry("0.weight", "3,2", 0, 48),
    sep = ","
  ), "}"), 1:8))
  expect_error(read_safetensors(twice, activation = "relu"),
               "has two tensors named \"0.weight\" in its header", class = "fwdprop_error")
  # written with an escape, the same name
  escaped <- st_file(st_raw_bytes(paste0("{", paste(
    entry("0.weight", "1,1", 0, 8), entry("0.w\\u0065ight", "1,1", 0, 8), sep = ","
  ), "}"), 1))
  expect_error(read_safetensors(escaped, activation = "relu"), "two tensors named \"0.weight\"",
               class = "fwdprop_error")
  # a metadata key twice (the activations of the first would be lost)
  meta <- st_file(st_raw_bytes(paste0(
    '{"__metadata__":{"fwdprop.activations":"[\\"relu\\"]","fwdprop.activations":"[\\"tanh\\"]"},',
    entry("0.weight", "1,1", 0, 8), "}"
  ), 1))
  expect_error(read_safetensors(meta), "two metadata entries named \"fwdprop.activations\"",
               class = "fwdprop_error")
  # a key twice in the JSON of a metadata value
  net <- network(c(2, 2), activation = "identity", bias = TRUE, seed = 1)
  net$scaling <- list(center = c(1.5, 2.5), scale = c(0.5, 0.25))
  good <- tempfile(fileext = ".safetensors")
  write_safetensors(net, good)
  expect_identical(read_safetensors(good), net)
  bytes <- readBin(good, raw(), file.size(good))
  n <- sum(as.numeric(bytes[1:8]) * 256^(0:7))
  header <- rawToChar(bytes[8 + seq_len(n)])
  scaling <- '{\\"center\\":[1.5,2.5],\\"scale\\":[0.5,0.25]}'
  expect_true(grepl(scaling, header, fixed = TRUE))
  header <- sub(scaling, '{\\"center\\":[1.5,2.5],\\"scale\\":[0.5,0.25],\\"center\\":[5,6]}', header, fixed = TRUE)
  repeated <- st_file(c(le_u64(nchar(header, "bytes")), charToRaw(header), bytes[-seq_len(8 + n)]))
  expect_error(read_safetensors(repeated), "\"fwdprop.scaling\" that cannot be read as JSON \\(an object in it repeats the key \"center\"\\)",
               class = "fwdprop_error")
  # the same key in different objects is no repetition
  expect_identical(read_safetensors(good), net)
  unlink(c(twice, escaped, meta, good, repeated))
})

test_that("layers are ordered by their exact positions, and the first problem in that order is reported", {
  # positions 2^53 and 2^53 + 1 are the same double: they are read as numerals
  w <- list(matrix(1, 2, 3), matrix(2, 3, 4), matrix(3, 4, 5))
  last <- torch_layer(1, w[[3]], 1:5)
  names(last) <- c("9007199254740993.weight", "9007199254740993.bias")
  middle <- torch_layer(1, w[[2]])
  names(middle) <- "9007199254740992.weight"
  big <- st_file(st_bytes(c(torch_layer(0, w[[1]]), last, middle)))
  net <- read_safetensors(big, activation = "relu", output = "identity")
  expect_identical(net$sizes, 2:5)
  expect_identical(net$weights, w)
  expect_identical(net$biases[[3]], as.double(1:5))
  # a weight that is not a matrix at position 2 comes before a lone bias at 4
  t <- c(torch_layer(0, w[[1]]), list(`2.weight` = list(shape = 12, values = 1:12),
                                      `4.bias` = list(shape = 1, values = 1)))
  p1 <- st_file(st_bytes(t))
  expect_error(read_safetensors(p1, activation = "relu"), "weight \"2.weight\" of shape \\[12\\]",
               class = "fwdprop_error")
  # a lone bias at 1 comes before the layers at 2 that do not chain
  t <- c(torch_layer(0, w[[1]]), torch_layer(2, w[[3]]), list(`1.bias` = list(shape = 1, values = 1)))
  p2 <- st_file(st_bytes(t))
  expect_error(read_safetensors(p2, activation = "relu"), "bias \"1.bias\" without the weight \"1.weight\"",
               class = "fwdprop_error")
  t <- t[1:2]
  p3 <- st_file(st_bytes(t))
  expect_error(read_safetensors(p3, activation = "relu"), "\"2.weight\" takes 4 inputs but \"0.weight\" gives 3",
               class = "fwdprop_error")
  unlink(c(big, p1, p2, p3))
})

test_that("reading and writing take time linear in the number of tensors (100,000 in a few seconds)", {
  skip_on_cran() # timed, and a few seconds long
  # 10,000 and 100,000 tensors (chains of 1 x 1 layers with biases); the
  # reader was quadratic (100,000 tensors took 287 s), as was the writer
  read_chain <- function(n_layers) {
    path <- st_file(st_chain_bytes(n_layers))
    on.exit(unlink(path))
    time <- system.time(net <- read_safetensors(path, activation = "relu", output = "identity"))
    list(net = net, time = time[["elapsed"]])
  }
  small <- read_chain(5000)
  large <- read_chain(50000)
  expect_identical(large$net$sizes, rep(1L, 50001))
  expect_identical(large$net$biases[[50000]], 0.1)
  expect_lt(large$time, 30)
  expect_lt(large$time / max(small$time, 0.01), 20) # quadratic would be 100
  path <- tempfile(fileext = ".safetensors")
  write_time <- system.time(write_safetensors(large$net, path))[["elapsed"]]
  expect_lt(write_time, 30)
  read_time <- system.time(back <- read_safetensors(path))[["elapsed"]]
  expect_lt(read_time, 30)
  expect_identical(back, large$net)
  unlink(path)
})


test_that("PyTorch and fwdprop read each other's safetensors files and agree to 1e-12 (when PyTorch is available)", {
  py <- python_with(c("torch", "safetensors"))
  script <- test_path("torch-roundtrip.py")
  dir <- tempfile("torch")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE))

  # PyTorch -> fwdprop
  expect_identical(system2(py, c(shQuote(script), "make", shQuote(dir))), 0L)
  specs <- sort(Sys.glob(file.path(dir, "py*.txt")))
  expect_length(specs, 6)
  for (spec in specs) {
    stem <- sub("\\.txt$", "", spec)
    lines <- readLines(spec)
    dims <- as.integer(strsplit(lines[[1]], " ")[[1]])
    hidden <- strsplit(lines[[2]], ",")[[1]]
    x <- read_rowmajor(paste0(stem, ".x.bin"), dims[[1]], dims[[2]])
    y <- read_rowmajor(paste0(stem, ".y.bin"), dims[[1]], dims[[3]])
    net <- read_safetensors(paste0(stem, ".safetensors"), activation = hidden, output = lines[[3]])
    expect_lt(rel_error(predict(net, x), y), 1e-12)
  }

  # fwdprop -> PyTorch
  set.seed(19)
  nets <- list(
    network(c(3, 6, 1), activation = "sigmoid", bias = TRUE, init = "xavier", seed = 1),
    network(c(5, 8, 8, 4), activation = c("relu", "tanh"), output = "softmax", bias = TRUE, seed = 2,
            init = "he"),
    network(c(4, 7, 3, 2), activation = c("identity", "tanh"), output = "identity", bias = FALSE,
            init = "normal", seed = 3),
    mlp(Species ~ ., data = iris, hidden = c(5, 4), activation = "relu", epochs = 10, seed = 4,
        verbose = FALSE)
  )
  nets[[3]]$biases[[2]] <- rnorm(3)
  inputs <- list()
  for (i in seq_along(nets)) {
    stem <- file.path(dir, sprintf("r%d", i))
    write_safetensors(nets[[i]], paste0(stem, ".safetensors"))
    x <- matrix(rnorm(25 * nets[[i]]$sizes[[1]], sd = 2), 25)
    write_rowmajor(x, paste0(stem, ".x.bin"))
    writeLines(paste(nrow(x), ncol(x)), paste0(stem, ".txt"))
    inputs[[i]] <- x
  }
  expect_identical(system2(py, c(shQuote(script), "predict", shQuote(dir))), 0L)
  for (i in seq_along(nets)) {
    net <- nets[[i]]
    want <- forward(net, inputs[[i]]) # the network's own values (PyTorch knows no scaling)
    got <- read_rowmajor(file.path(dir, sprintf("r%d.y.bin", i)), nrow(inputs[[i]]), ncol(want))
    expect_lt(rel_error(got, want), 1e-12)
  }
})
