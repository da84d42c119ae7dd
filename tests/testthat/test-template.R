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
  page <- paste(readLines(html, warn = FALSE, encoding = "UTF-8"), collapse = "\n")
  # the weights' plot, the loss curves and the diagram are embedded as PNGs
  expect_identical(lengths(regmatches(page, gregexpr("<img src=\"data:image/png;base64,", page, fixed = TRUE))), 3L)
  expect_false(grepl("## Error", page, fixed = TRUE)) # no chunk failed
  # every table's headers are aligned as their columns' numbers (inline
  # styles, which Bootstrap's `th { text-align: left }` cannot override)
  expect_aligned_tables(page, 10L)
  # the formulas are MathML, shown by the browser with no MathJax (which
  # would be loaded from the network)
  expect_gte(lengths(regmatches(page, gregexpr("<math display=", page, fixed = TRUE))), 6L)
  expect_false(grepl("mathjax", page, ignore.case = TRUE))
  shown <- gsub("(?s)<annotation.*?</annotation>|<pre.*?</pre>|<script.*?</script>|<style.*?</style>",
                "", page, perl = TRUE)
  expect_false(grepl("\\\\frac|\\\\sum|\\\\left|\\\\\\(|\\\\\\[|\\$\\$", shown))

  # the tables hold the numbers of the template's network (its defaults:
  # seed 1234, 5 hidden nodes, 200 epochs), of its training and of its
  # trace, recomputed here
  X <- scale(as.matrix(iris[, 1:4]))
  species <- iris$Species
  set.seed(1234)
  train <- sample(nrow(X), 100)
  test <- setdiff(seq_len(nrow(X)), train)
  net <- network(c(4, 5, 3), activation = "sigmoid", output = "softmax",
                 init = "xavier", bias = TRUE, seed = 1234)
  fitted <- fit(net, X[train, ], species[train], epochs = 200, batch_size = 32,
                validation = 0.2, patience = 20, seed = 1234)
  tables <- html_tables(page)
  # layers, 2 weight tables, glance, history, confusion, the trace's input
  # and 2 layers, predictions
  expect_length(Filter(function(t) !is.na(t$caption), tables), 10L)
  layers <- table_with_caption(tables, "Layers")
  expect_identical(layers[-1L, 2L], c("4", "5"))
  w1 <- table_with_caption(tables, "Layer 1 (4")
  expect_identical(table_numbers(w1), round(rbind(net$weights[[1]], 0, deparse.level = 0), 4))
  w2 <- table_with_caption(tables, "Layer 2 (5")
  expect_identical(table_numbers(w2), round(rbind(net$weights[[2]], 0, deparse.level = 0), 4))
  g <- table_with_caption(tables, "at a glance")
  expect_identical(g[2L, ], c("4-5-3", "sigmoid, softmax", "35", "8", "xavier", "1234"))
  # the history: its first epochs' losses
  h <- fitted$history
  ht <- Filter(function(t) !is.na(t$caption) && grepl("epochs", t$caption, fixed = TRUE), tables)[[1L]]$cells
  expect_identical(ht[1L, 1:3], c("epoch", "loss", "val_loss"))
  expect_identical(as.numeric(ht[2:4, 2L]), round(h$loss[1:3], 4))
  # held-out accuracy: the confusion table and the sentence
  pred <- predict(fitted, X[test, ], type = "class")
  conf <- table_with_caption(tables, "Confusion table")
  expect_identical(matrix(as.integer(conf[-1L, -1L]), 3L), unname(unclass(table(pred, species[test]))[, ]))
  expect_match(page, sprintf("classifies %d of the\\s+50 held-out flowers", sum(pred == species[test])), perl = TRUE)
  expect_gte(mean(pred == species[test]), 0.9)
  # the trace of the trained network
  tr <- forward(fitted, X[test[1:3], ], trace = TRUE)
  for (l in 1:2) {
    t_l <- table_with_caption(tables, sprintf("Layer %d (%s)", l, c("sigmoid", "softmax")[l]))
    expect_identical(table_numbers(t_l), unname(round(cbind(tr$z[[l]], tr$a[[l]]), 4)))
  }
  p <- table_with_caption(tables, "Scores of the first six held-out flowers")
  expect_identical(p[1L, ], levels(iris$Species))
  expect_identical(matrix(as.numeric(p[-1L, ]), 6L), unname(round(head(predict(fitted, X[test, ])), 4)))
})

test_that("the report template's tables are aligned in an html_vignette too", {
  skip_if_not_installed("rmarkdown")
  skip_if_not(rmarkdown::pandoc_available("1.14"), "pandoc is not available")
  dir <- tempfile("fwdprop-report")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  rmd <- file.path(dir, "report.Rmd")
  rmarkdown::draft(rmd, template = "forward-pass", package = "fwdprop", edit = FALSE)
  old <- options(rmarkdown.html_vignette.check_title = FALSE)
  on.exit(options(old), add = TRUE)
  html <- rmarkdown::render(rmd, output_format = "rmarkdown::html_vignette", output_dir = dir,
                            quiet = TRUE, intermediates_dir = dir, envir = new.env())
  # the template puts knitr's table options back as they were
  expect_null(getOption("knitr.table.format"))
  page <- readLines(html, warn = FALSE, encoding = "UTF-8")
  expect_false(any(grepl("## Error", page, fixed = TRUE)))
  tables <- html_tables(page)
  expect_length(Filter(function(t) !is.na(t$caption), tables), 10L)
  expect_aligned_tables(page, 10L)
  # the history: numbers right, under right-aligned headers
  al <- html_alignments(page)
  hist <- which(vapply(tables, function(t) !is.na(t$caption) && grepl("epochs", t$caption, fixed = TRUE), logical(1L)))
  expect_identical(al[[hist]]$header[1:3], rep("right", 3L))
})
