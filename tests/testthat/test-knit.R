# knit_print() methods (networks and traces as tables in R Markdown) and
# tidy() / glance(). The expected numbers come from the weights and from
# base R, not from fwdprop's output.

kn_beta <- matrix(c(0.2827, 0.9234, 0.2923, 0.8373, 0.2862, 0.2668), 2) # the lecture's
kn_gamma <- matrix(c(0.6235, 0.8609, 0.6403), 3)
kn_X <- matrix(1:6, ncol = 2, byrow = TRUE)
kn_net <- network(weights = list(kn_beta, kn_gamma), biases = list(c(0.5, -0.25, 0), 0.125))
kn_ref_z1 <- sweep(kn_X %*% kn_beta, 2, c(0.5, -0.25, 0), "+")
kn_ref_a1 <- plogis(kn_ref_z1)
kn_ref_z2 <- kn_ref_a1 %*% kn_gamma + 0.125
kn_ref_a2 <- plogis(kn_ref_z2)

kn_check_network_tables <- function(tables) {
  layers <- table_with_caption(tables, "Layers")
  expect_identical(layers[1L, ], c("layer", "inputs", "outputs", "activation", "weights", "biases"))
  expect_identical(layers[-1L, 2L], c("2", "3"))
  expect_identical(layers[-1L, 5L], c("6", "3"))
  expect_identical(layers[-1L, 6L], c("3", "1"))
  w1 <- table_with_caption(tables, "Layer 1 (2")
  expect_identical(w1[, 1L], c("", "from 1", "from 2", "bias"))
  expect_identical(w1[1L, ], c("", "to 1", "to 2", "to 3"))
  expect_identical(table_numbers(w1), rbind(kn_beta, c(0.5, -0.25, 0), deparse.level = 0))
  expect_identical(w1[2L, -1L], c("0.2827", "0.2923", "0.2862"))
  w2 <- table_with_caption(tables, "Layer 2 (3")
  expect_identical(table_numbers(w2), matrix(c(0.6235, 0.8609, 0.6403, 0.125), 4))
}

kn_check_trace_tables <- function(tables) {
  x <- table_with_caption(tables, "Input")
  expect_identical(table_numbers(x), kn_X + 0)
  l1 <- table_with_caption(tables, "Layer 1 (sigmoid)")
  expect_identical(l1[1L, ], c("", "z1", "z2", "z3", "a1", "a2", "a3"))
  expect_identical(table_numbers(l1), round(cbind(kn_ref_z1, kn_ref_a1), 4))
  l2 <- table_with_caption(tables, "Layer 2 (sigmoid)")
  expect_identical(table_numbers(l2), round(cbind(kn_ref_z2, kn_ref_a2), 4))
}

test_that("knit_print() shows a network as a layer table and one weight table per layer", {
  skip_if_not_installed("knitr")
  out <- knitr::knit_print(kn_net)
  expect_s3_class(out, "knit_asis")
  expect_match(out, "**fwdprop network** 2", fixed = TRUE)
  expect_match(out, "2 layers, 13 parameters.", fixed = TRUE)
  tables <- md_tables(out)
  expect_length(tables, 3L)
  kn_check_network_tables(tables)
  # digits, and the weights left off on request or for large networks
  w1 <- table_with_caption(md_tables(knitr::knit_print(kn_net, digits = 1)), "Layer 1 (2")
  expect_identical(w1[2L, -1L], c("0.3", "0.3", "0.3"))
  expect_length(md_tables(knitr::knit_print(kn_net, weights = FALSE)), 1L)
  big <- knitr::knit_print(network(c(20, 10, 1), seed = 1))
  expect_length(md_tables(big), 1L)
  expect_match(big, "The weights (210 parameters) are not shown", fixed = TRUE)
  # weight names become the row and column labels
  named <- network(weights = list(matrix(1:4, 2, dimnames = list(c("u", "v"), c("p", "q")))))
  w <- table_with_caption(md_tables(knitr::knit_print(named)), "Layer 1 (2")
  expect_identical(w[, 1L], c("", "u", "v"))
  expect_identical(w[1L, ], c("", "p", "q"))
})

test_that("knit_print() shows a trace as its input and z and a per layer", {
  skip_if_not_installed("knitr")
  tr <- forward(kn_net, kn_X, trace = TRUE)
  out <- knitr::knit_print(tr)
  expect_match(out, "**fwdprop trace**: 3 samples through 2", fixed = TRUE)
  tables <- md_tables(out)
  expect_length(tables, 3L)
  kn_check_trace_tables(tables)
  # long traces show their first rows and say so
  long <- forward(kn_net, matrix(seq_len(100), 50, 2), trace = TRUE)
  tables <- md_tables(knitr::knit_print(long, rows = 5))
  expect_identical(nrow(tables[[1L]]$cells), 6L) # header + 5 rows
  expect_match(tables[[2L]]$caption, "(first 5 of 50 rows shown)", fixed = TRUE)
  # a trace edited into another shape is refused
  bad <- tr
  bad$a[[2]] <- "a"
  expect_error(knitr::knit_print(bad), class = "fwdprop_error", regexp = "`x$a`", fixed = TRUE)
  expect_error(knitr::knit_print(tr, rows = 0), class = "fwdprop_error", regexp = "`rows`")
})

test_that("tidy() returns one row per weight and bias, glance() one row per network", {
  w <- tidy(kn_net)
  expect_s3_class(w, "data.frame")
  expect_identical(names(w), c("layer", "type", "from", "to", "weight"))
  expect_identical(nrow(w), 13L)
  expect_identical(w$layer, rep(c(1L, 2L), c(9L, 4L)))
  expect_identical(w$type, c(rep("weight", 6L), rep("bias", 3L), rep("weight", 3L), "bias"))
  weights <- w[w$type == "weight", ]
  for (i in seq_len(nrow(weights))) {
    W <- list(kn_beta, kn_gamma)[[weights$layer[i]]]
    expect_identical(weights$weight[i], W[weights$from[i], weights$to[i]])
  }
  expect_identical(w$from[w$type == "bias"], rep(NA_integer_, 4L))
  expect_identical(w$weight[w$type == "bias"], c(0.5, -0.25, 0, 0.125))
  expect_identical(w$to[w$type == "bias"], c(1L, 2L, 3L, 1L))

  g <- glance(kn_net)
  expect_identical(nrow(g), 1L)
  expect_identical(g$sizes, "2-3-1")
  expect_identical(g$activations, "sigmoid, sigmoid")
  expect_identical(c(g$layers, g$inputs, g$outputs, g$weights, g$biases, g$parameters),
                   c(2L, 2L, 1L, 9L, 4L, 13L))
  expect_identical(g$init, NA_character_)
  g2 <- glance(network(c(4, 5, 3), init = "xavier", seed = 9, output = "softmax"))
  expect_identical(g2$init, "xavier")
  expect_identical(g2$seed, 9)
  expect_identical(g2$activations, "sigmoid, softmax")
  expect_identical(g2$biases, 0L)
  expect_false(any(tidy(network(c(4, 5, 3), seed = 9))$type == "bias"))
})

test_that("a knitted R Markdown document shows networks, traces, tidy() and glance() as HTML tables", {
  skip_if_not_installed("knitr")
  skip_if_not_installed("rmarkdown")
  skip_if_not(rmarkdown::pandoc_available("2.0"), "pandoc is not available")
  dir <- tempfile("fwdprop-knit")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  rmd <- file.path(dir, "tables.Rmd")
  writeLines(c(
    "---", "title: tables", "output: html_document", "---", "",
    "```{r}",
    "library(fwdprop)",
    "net <- network(weights = list(",
    sprintf("  matrix(c(%s), 2),", paste(kn_beta, collapse = ", ")),
    sprintf("  matrix(c(%s), 3)", paste(kn_gamma, collapse = ", ")),
    "), biases = list(c(0.5, -0.25, 0), 0.125))",
    "net",
    "```", "",
    "```{r}",
    "forward(net, matrix(1:6, ncol = 2, byrow = TRUE), trace = TRUE)",
    "```", "",
    "```{r}",
    "knitr::kable(tidy(net), caption = 'tidy')",
    "knitr::kable(glance(net), caption = 'glance')",
    "```"
  ), rmd)
  html <- rmarkdown::render(rmd, output_dir = dir, intermediates_dir = dir, quiet = TRUE,
                            envir = new.env())
  page <- readLines(html, warn = FALSE, encoding = "UTF-8")
  tables <- html_tables(page)
  expect_length(tables, 8L)
  kn_check_network_tables(tables)
  kn_check_trace_tables(tables)
  tidy_tab <- table_with_caption(tables, "tidy")
  expect_identical(tidy_tab[1L, ], c("layer", "type", "from", "to", "weight"))
  expect_identical(as.numeric(tidy_tab[-1L, 5L]), round(c(kn_beta, 0.5, -0.25, 0, kn_gamma, 0.125), 4))
  glance_tab <- table_with_caption(tables, "glance")
  expect_identical(glance_tab[2L, glance_tab[1L, ] == "parameters"], "13")
  # no console dump of the network was printed
  expect_false(any(grepl("&lt;fwdprop network&gt;", page, fixed = TRUE)))
})

test_that("knit_print() shows a gradient as its loss and one dL/dW table per layer", {
  skip_if_not_installed("knitr")
  y <- c(0, 1, 1)
  g <- backward(kn_net, kn_X, y, loss = "mse")
  # the chain rule in base R
  d2 <- 2 / 3 * (kn_ref_a2 - y) * kn_ref_a2 * (1 - kn_ref_a2)
  d1 <- (d2 %*% t(kn_gamma)) * kn_ref_a1 * (1 - kn_ref_a1)
  md <- unclass(knitr::knit_print(g, digits = 6))
  expect_match(md, "**fwdprop gradient** of the mse loss", fixed = TRUE)
  tables <- md_tables(md)
  expect_length(tables, 2L)
  g1 <- table_with_caption(tables, "Layer 1")
  expect_identical(g1[, 1L], c("", "from 1", "from 2", "bias"))
  expect_identical(table_numbers(g1), round(rbind(t(kn_X) %*% d1, colSums(d1)), 6))
  g2 <- table_with_caption(tables, "Layer 2")
  expect_identical(table_numbers(g2), round(rbind(t(kn_ref_a1) %*% d2, sum(d2)), 6))
  expect_error(knitr::knit_print(structure(list(loss = "a"), class = "fwdprop_gradient")),
               class = "fwdprop_error", regexp = "`x`")
})

test_that("knit_print() shows a training history as a table of its first, last and best epochs", {
  skip_if_not_installed("knitr")
  h <- fwdprop:::as_history(data.frame(epoch = 1:30, loss = 1 / (1:30), val_loss = c(30:11, 12:21) / 10,
                                       time = (1:30) / 100))
  md <- unclass(knitr::knit_print(h, rows = 6))
  expect_match(md, "30 epochs, the best validation loss at epoch 20", fixed = TRUE)
  tab <- md_tables(md)[[1L]]
  expect_identical(tab$caption, "7 of 30 epochs")
  expect_identical(tab$cells[1L, ], c("epoch", "loss", "val_loss", "time", "best"))
  expect_identical(as.integer(tab$cells[-1L, 1L]), c(1:3, 20L, 28:30))
  expect_identical(as.numeric(tab$cells[-1L, 2L]), round(1 / c(1:3, 20, 28:30), 4))
  expect_identical(tab$cells[-1L, 5L], c("", "", "", "best", "", "", ""))
  # a short history without validation: every epoch, no val_loss column
  short <- fwdprop:::as_history(data.frame(epoch = 1:3, loss = c(3, 2, 1), val_loss = NA_real_, time = 1:3))
  tab <- md_tables(unclass(knitr::knit_print(short)))[[1L]]
  expect_identical(tab$cells[1L, ], c("epoch", "loss", "time"))
  expect_identical(nrow(tab$cells), 4L)
})

test_that("in HTML output every table's headers are aligned as their columns' cells", {
  skip_if_not_installed("knitr")
  skip_if_not_installed("rmarkdown")
  skip_if_not(rmarkdown::pandoc_available("2.0"), "pandoc is not available")
  dir <- tempfile("fwdprop-align")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  # (an html_vignette's title is checked against \VignetteIndexEntry{})
  old <- options(rmarkdown.html_vignette.check_title = FALSE)
  on.exit(options(old), add = TRUE)
  rmd <- file.path(dir, "align.Rmd")
  writeLines(c(
    "---", "title: align", "---", "",
    "```{r}",
    "library(fwdprop)",
    "net <- network(weights = list(",
    sprintf("  matrix(c(%s), 2),", paste(kn_beta, collapse = ", ")),
    sprintf("  matrix(c(%s), 3)", paste(kn_gamma, collapse = ", ")),
    "), biases = list(c(0.5, -0.25, 0), 0.125))",
    "x <- matrix(1:6, ncol = 2, byrow = TRUE)",
    "net",
    "forward(net, x, trace = TRUE)",
    "backward(net, x, c(0, 1, 1))",
    "fit(net, x, c(0, 1, 1), epochs = 30, batch_size = 3, seed = 1)$history",
    "```"
  ), rmd)
  for (format in c("html_document", "html_vignette")) {
    html <- rmarkdown::render(rmd, output_format = paste0("rmarkdown::", format), output_dir = dir,
                              intermediates_dir = dir, quiet = TRUE, envir = new.env())
    page <- readLines(html, warn = FALSE, encoding = "UTF-8")
    # layers, 2 weight tables, the trace's input and 2 layers, 2 gradient
    # tables, the history
    expect_length(html_tables(page), 9L)
    expect_aligned_tables(page, 9L)
    al <- html_alignments(page)
    # numbers right, labels (the row names, the activation) left
    expect_identical(al[[1L]]$header, c("right", "right", "right", "left", "right", "right"))
    expect_identical(al[[2L]]$header, c("left", "right", "right", "right"))
    # the numbers and captions are those of the markdown tables
    tables <- html_tables(page)
    kn_check_network_tables(tables)
    kn_check_trace_tables(tables)
    # the caption's code is code
    expect_match(paste(page, collapse = " "),
                 "<caption>\\s*Layer 1 \\(2 .{1,4} 3, sigmoid\\): <code>weights\\[\\[1\\]\\]</code> and\\s+<code>biases")
    unlink(html)
  }
  # GitHub's markdown keeps markdown tables (GitHub drops inline styles)
  md <- rmarkdown::render(rmd, output_format = rmarkdown::github_document(html_preview = FALSE),
                          output_dir = dir, intermediates_dir = dir, quiet = TRUE, envir = new.env())
  text <- readLines(md, warn = FALSE, encoding = "UTF-8")
  expect_false(any(grepl("<table", text, fixed = TRUE)))
  expect_length(md_tables(text), 9L)
  expect_identical(md_tables(text)[[1L]]$cells[1L, ], c("layer", "inputs", "outputs", "activation", "weights", "biases"))
  expect_true(any(grepl("|------:|-------:|--------:|:-----------|", text, fixed = TRUE)))
})
