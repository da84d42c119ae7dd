# The lecture's section 3 network: set.seed(1234), then the 12 runif()
# draws of sections 1 and 2, then beta (2x3) and gamma (3x1). R's own
# random stream is left as it was.
lecture_weights <- function() {
  old_seed <- if (exists(".Random.seed", globalenv())) get(".Random.seed", globalenv())
  on.exit(if (is.null(old_seed)) rm(".Random.seed", envir = globalenv()) else
    assign(".Random.seed", old_seed, envir = globalenv()))
  set.seed(1234)
  stats::runif(12)
  list(beta = matrix(stats::runif(6), ncol = 3), gamma = matrix(stats::runif(3), ncol = 1))
}

# The source of one of the package's vignettes (installed, or in the
# source tree); skips the test when neither is there.
vignette_source <- function(name) {
  candidates <- c(
    system.file("doc", paste0(name, ".Rmd"), package = "fwdprop"),
    test_path("..", "..", "vignettes", paste0(name, ".Rmd"))
  )
  candidates <- candidates[nzchar(candidates) & file.exists(candidates)]
  if (!length(candidates)) skip(sprintf("the source of vignette %s is not available", name))
  candidates[[1]]
}

# list(label = code) for every R chunk of an R Markdown file
rmd_chunks <- function(path) {
  lines <- readLines(path, encoding = "UTF-8", warn = FALSE)
  starts <- grep("^```\\{r", lines)
  ends <- grep("^```\\s*$", lines)
  out <- list()
  for (s in starts) {
    e <- min(ends[ends > s])
    label <- sub("^```\\{r[ ,]*([A-Za-z0-9_-]*).*$", "\\1", lines[s])
    out[[label]] <- lines[seq.int(s + 1L, e - 1L)]
  }
  out
}

# Runs the chunks of a vignette one by one in a fresh environment, printing
# visible values as knitr does (plots to a throwaway PNG device, which
# draws Hangul titles where the pdf device cannot); returns, per chunk
# label, the printed lines and the objects after that chunk.
run_chunks <- function(chunks) {
  env <- new.env(parent = globalenv())
  png_file <- tempfile(fileext = ".png")
  grDevices::png(png_file)
  on.exit({
    grDevices::dev.off()
    unlink(png_file)
  }, add = TRUE)
  out <- list()
  for (label in setdiff(names(chunks), "setup")) {
    exprs <- parse(text = chunks[[label]], encoding = "UTF-8")
    printed <- utils::capture.output(for (e in exprs) {
      r <- withVisible(eval(e, envir = env))
      if (r$visible) print(r$value)
    })
    out[[label]] <- list(printed = printed, objects = mget(ls(env), envir = env))
  }
  out
}

# The lines torch prints for a tensor: header, rows, type line.
tensor_lines <- function(values, type) c("torch_tensor", values, sprintf("[ %s ]", type))
