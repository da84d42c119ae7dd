test_that("the forward-pass report template renders to HTML with its diagram and tables", {
  skip_if_not_installed("rmarkdown")
  skip_if_not(rmarkdown::pandoc_available("1.14"), "pandoc is not available")
  dir <- tempfile("fwdprop-report")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  rmd <- file.path(dir, "report.Rmd")
  rmarkdown::draft(rmd, template = "forward-pass", package = "fwdprop", edit = FALSE)
  expect_true(file.exists(rmd))
  html <- rmarkdown::render(rmd, output_dir = dir, quiet = TRUE,
                            intermediates_dir = dir, envir = new.env())
  expect_true(file.exists(html))
  page <- paste(readLines(html, warn = FALSE), collapse = "\n")
  # the diagram is embedded as a PNG
  expect_match(page, "<img src=\"data:image/png;base64,", fixed = TRUE)
  # the trace tables (one per layer) and the prediction table
  n_tables <- lengths(regmatches(page, gregexpr("<table", page, fixed = TRUE)))
  expect_gte(n_tables, 3)
  expect_match(page, "Layer 1 (sigmoid)", fixed = TRUE)
  expect_match(page, "Layer 2 (softmax)", fixed = TRUE)
  expect_match(page, "Scores of the first six flowers", fixed = TRUE)
  expect_false(grepl("## Error", page, fixed = TRUE)) # no chunk failed
})
