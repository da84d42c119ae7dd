# Shared by the tests of the lecture articles (test-vignette-lecture0N.R).

# Runs the chunks in a fresh environment, printing visible values as knitr
# does; returns per chunk label the printed lines and the objects after it.
lecture_chunk_output <- function(chunks) {
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
