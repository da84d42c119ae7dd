# Runs the code of vignettes/lecture-05.Rmd chunk by chunk and checks that
# the values it computes are the lecture's printed numbers (to 4 decimals).
# The numbers below come from the lecture's printout (torch for R), not
# from fwdprop.

lecture_vignette <- function() {
  candidates <- c(
    system.file("doc", "lecture-05.Rmd", package = "fwdprop"),
    test_path("..", "..", "vignettes", "lecture-05.Rmd")
  )
  candidates <- candidates[nzchar(candidates) & file.exists(candidates)]
  if (!length(candidates)) skip("the lecture vignette's source is not available")
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

test_that("the lecture vignette reproduces the lecture's numbers", {
  skip_if_not_installed("knitr")
  chunks <- rmd_chunks(lecture_vignette())
  expect_true(all(c("s1-yhat", "s2-yhat", "s3-z", "trace") %in% names(chunks)))
  env <- new.env(parent = globalenv())
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off(), add = TRUE)
  seen <- list()
  for (label in names(chunks)) {
    if (label == "setup") next
    utils::capture.output(eval(parse(text = chunks[[label]], encoding = "UTF-8"), envir = env))
    seen[[label]] <- mget(ls(env), envir = env)
  }
  v <- function(x) round(as.numeric(as.matrix(x)), 4)

  # 1. one sample, one path
  s <- seen[["s1-yhat"]]
  expect_identical(v(s$X), c(1, 2))
  expect_identical(v(s$beta_1), c(0.1137, 0.6223))
  expect_identical(v(s$z_21), 1.3583)
  expect_identical(v(s$a_21), 0.7955)
  expect_identical(v(s$z_31), 0.4847)
  expect_identical(v(s$y_hat), 0.6188)

  # 2. one sample, three paths
  s <- seen[["s2-yhat"]]
  expect_identical(v(s$beta), c(0.6234, 0.8609, 0.6403, 0.0095, 0.2326, 0.6661))
  expect_identical(v(s$z_2), c(2.3452, 0.6593, 1.5647))
  expect_identical(v(s$z_3), 1.3771)
  expect_identical(v(s$y_hat), 0.7985)

  # 3. all samples
  s <- seen[["s3-z"]]
  expect_identical(v(s$beta), c(0.2827, 0.9234, 0.2923, 0.8373, 0.2862, 0.2668))
  expect_identical(v(s$z_2), c(2.1296, 4.5419, 6.9543, 1.9669, 4.2261, 6.4854,
                               0.8199, 1.9260, 3.0320))
  expect_identical(v(s$z_3), c(0.5904, 0.6900, 0.7205))
  expect_identical(v(s$y_hat), c(0.6435, 0.6660, 0.6727))

  # the same network as one object
  s <- seen[["trace"]]
  expect_identical(v(s$tr$a[[2]]), c(0.6435, 0.6660, 0.6727))
  expect_identical(v(s$tr$z[[2]]), c(0.5904, 0.6900, 0.7205))
})

test_that("the built lecture vignette shows its formulas as MathML, with no MathJax", {
  html <- system.file("doc", "lecture-05.html", package = "fwdprop")
  if (!nzchar(html)) skip("the vignettes were not built into this installation")
  page <- paste(readLines(html, warn = FALSE, encoding = "UTF-8"), collapse = "\n")
  # the source's formulas: 4 displayed, the rest inline
  expect_identical(lengths(regmatches(page, gregexpr("<math display=\"block\"", page, fixed = TRUE))), 4L)
  expect_gte(lengths(regmatches(page, gregexpr("<math display=\"inline\"", page, fixed = TRUE))), 10L)
  expect_false(grepl("mathjax", page, ignore.case = TRUE))
  # no TeX left where the reader sees it (MathML keeps it in <annotation>)
  shown <- gsub("(?s)<annotation.*?</annotation>|<pre.*?</pre>|<script.*?</script>|<style.*?</style>",
                "", page, perl = TRUE)
  expect_false(grepl("\\\\begin|\\\\frac|\\\\sigma|\\$\\$", shown))
})
