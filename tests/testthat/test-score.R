# score(): chunked scoring from matrices, data frames, SQLite queries and
# CSV files into data frames, tables and CSV files, in parallel under
# future's plans; failures, resuming and bad input. Every result is
# compared with predict() on the whole data.

# A hand-made network with input names, 4 inputs, 2 softmax outputs
# (no class levels): inputs are picked by name.
score_named_net <- function() {
  set.seed(11)
  w1 <- matrix(rnorm(4 * 6), 4, dimnames = list(c("a", "b", "c", "d"), NULL))
  network(weights = list(w1, matrix(rnorm(12), 6)), activation = "tanh", output = "softmax")
}

# A fitted classifier (formula, scaling, class levels) and regression
# (target scaling), small and quick.
score_fits <- local({
  fits <- NULL
  function() {
    if (is.null(fits)) {
      fits <<- list(
        cls = mlp(Species ~ ., data = iris, hidden = 4, epochs = 20, seed = 3),
        reg = mlp(mpg ~ wt + hp + factor(cyl), data = mtcars, hidden = 3, epochs = 20, seed = 3)
      )
    }
    fits
  }
})

score_data <- function(n, seed = 1) {
  set.seed(seed)
  data.frame(id = seq_len(n), a = rnorm(n), b = rnorm(n), c = rnorm(n), d = rnorm(n),
             note = sample(c("x", "y, z", "q\"uote"), n, replace = TRUE))
}

# predict() on the whole data as score()'s columns.
score_reference <- function(net, data, keep = NULL) {
  p <- predict(net, data)
  out <- if (length(keep)) data[keep] else data.frame(row.names = seq_len(nrow(data)))
  row.names(out) <- NULL
  if (ncol(p) == 1L) {
    out[["pred"]] <- unname(p[, 1])
  } else {
    for (j in seq_len(ncol(p))) out[[paste0("pred_", j)]] <- unname(p[, j])
  }
  out
}

sqlite <- function(path = ":memory:") DBI::dbConnect(RSQLite::SQLite(), path)

test_that("in memory: data frames and matrices in chunks equal predict() on the whole data", {
  net <- score_named_net()
  df <- score_data(257)
  want <- score_reference(net, df, keep = "id")
  for (chunk_rows in c(1, 50, 256, 257, 258, 1e5)) {
    got <- score(net, df, chunk_rows = chunk_rows, keep = "id")
    expect_equal(got, want, tolerance = 1e-13)
  }
  # one chunk is the very same call as predict(): the same bits
  expect_identical(score(net, df, keep = "id"), want)
  # a matrix source, without keep (inputs by name among other columns)
  m <- as.matrix(df[c("d", "id", "b", "a", "c")])
  got <- score(net, m, chunk_rows = 100)
  expect_equal(got, score_reference(net, df), tolerance = 1e-13)
  expect_named(got, c("pred_1", "pred_2"))
})

test_that("a network without input names takes the columns besides `keep`, in order", {
  set.seed(2)
  net <- network(weights = list(matrix(rnorm(6), 3), matrix(rnorm(2), 2)))
  x <- matrix(rnorm(30), 10)
  got <- score(net, data.frame(key = letters[1:10], x), keep = "key", chunk_rows = 3)
  expect_identical(got$key, letters[1:10])
  expect_equal(got$pred, unname(forward(net, x)[, 1]), tolerance = 1e-13)
  expect_error(score(net, data.frame(key = 1:10, x, extra = 1), keep = "key"),
               class = "fwdprop_error", regexp = "3 inputs and has no input names")
})

test_that("fitted networks: formula, scaling, class levels and target scaling apply per chunk", {
  fits <- score_fits()
  ir <- cbind(row = seq_len(150), iris)
  got <- score(fits$cls, ir, chunk_rows = 40, keep = "row")
  expect_named(got, c("row", "pred_setosa", "pred_versicolor", "pred_virginica", "class"))
  expect_equal(unname(as.matrix(got[2:4])), unname(predict(fits$cls, iris)), tolerance = 1e-13)
  expect_identical(got$class, unname(predict(fits$cls, iris, type = "class")))
  expect_identical(levels(got$class), levels(iris$Species))
  cls_only <- score(fits$cls, iris, chunk_rows = 60, type = "class")
  expect_identical(cls_only, data.frame(class = got$class))
  # regression on the response's scale; factor() in the formula per chunk
  reg <- score(fits$reg, mtcars, chunk_rows = 7)
  expect_equal(reg$pred, unname(predict(fits$reg, mtcars)[, 1]), tolerance = 1e-13)
  # a two-class sigmoid classifier: the probability of the second level
  two <- droplevels(iris[iris$Species != "setosa", ])
  fit2 <- mlp(Species ~ Petal.Length + Petal.Width, data = two, hidden = 2, epochs = 10, seed = 1)
  got2 <- score(fit2, two, chunk_rows = 33)
  expect_named(got2, c("pred_virginica", "class"))
  expect_identical(got2$class, unname(predict(fit2, two, type = "class")))
})

test_that("chunk boundaries: one row, chunk_rows - 1, chunk_rows, chunk_rows + 1, an empty source", {
  net <- score_named_net()
  for (n in c(1, 9, 10, 11)) {
    df <- score_data(n, seed = n)
    expect_equal(score(net, df, chunk_rows = 10, keep = "id"),
                 score_reference(net, df, keep = "id"), tolerance = 1e-13)
  }
  empty <- score(net, score_data(0), keep = "id")
  expect_identical(dim(empty), c(0L, 3L))
  expect_named(empty, c("id", "pred_1", "pred_2"))
})

test_that("SQLite: a query into a table on the same connection, another connection, a CSV file", {
  skip_if_not_installed("RSQLite")
  net <- score_named_net()
  df <- score_data(230)
  want <- score_reference(net, df, keep = c("id", "note"))
  con <- sqlite()
  on.exit(DBI::dbDisconnect(con))
  DBI::dbWriteTable(con, "customers", df)
  q <- "SELECT * FROM customers ORDER BY id"
  # same connection: read page by page
  s <- score(net, con, query = q, to = "scores", chunk_rows = 50, keep = c("id", "note"))
  expect_s3_class(s, "fwdprop_score")
  expect_identical(c(s$rows, s$chunks), c(230, 5L))
  expect_equal(DBI::dbReadTable(con, "scores"), want, tolerance = 1e-13)
  # another connection: streamed with dbFetch()
  out <- sqlite()
  on.exit(DBI::dbDisconnect(out), add = TRUE)
  score(net, con, query = q, to = list(out, "scores"), chunk_rows = 49, keep = c("id", "note"))
  expect_equal(DBI::dbReadTable(out, "scores"), want, tolerance = 1e-13)
  # a DBI result as the source, into a CSV file
  csv <- tempfile(fileext = ".csv")
  on.exit(unlink(csv), add = TRUE)
  res <- DBI::dbSendQuery(con, q)
  score(net, res, to = csv, chunk_rows = 51, keep = c("id", "note"))
  DBI::dbClearResult(res)
  expect_equal(utils::read.csv(csv), want, tolerance = 1e-13)
  expect_false(file.exists(paste0(csv, ".partial")))
  # an empty query: a table with the scores' columns and no rows
  score(net, con, query = "SELECT * FROM customers WHERE id < 0", to = "none", keep = "id")
  expect_identical(DBI::dbListFields(con, "none"), c("id", "pred_1", "pred_2"))
  expect_identical(DBI::dbGetQuery(con, "SELECT COUNT(*) AS n FROM none")$n, 0L)
})

test_that("a second connection to the same SQLite file is read page by page too", {
  skip_if_not_installed("RSQLite")
  net <- score_named_net()
  path <- tempfile(fileext = ".sqlite")
  con <- sqlite(path)
  con2 <- sqlite(path)
  on.exit({
    DBI::dbDisconnect(con)
    DBI::dbDisconnect(con2)
    unlink(path)
  })
  df <- score_data(120)
  DBI::dbWriteTable(con, "customers", df)
  score(net, con, query = "SELECT * FROM customers", to = list(con2, "scores"), chunk_rows = 50, keep = "id")
  expect_equal(DBI::dbReadTable(con, "scores"), score_reference(net, df, keep = "id"), tolerance = 1e-13)
})

test_that("CSV files: in chunks to a data frame, a table and a CSV file; only the needed columns are read", {
  skip_if_not_installed("RSQLite")
  fits <- score_fits()
  ir <- cbind(row = seq_len(150), iris)
  src <- tempfile(fileext = ".csv")
  dst <- tempfile(fileext = ".csv")
  on.exit(unlink(c(src, dst)))
  utils::write.csv(ir, src, row.names = FALSE)
  want <- score(fits$cls, ir, keep = "row")
  want$class <- as.character(want$class)
  got <- score(fits$cls, src, chunk_rows = 41, keep = "row")
  got$class <- as.character(got$class)
  expect_equal(got, want, tolerance = 1e-13)
  score(fits$cls, src, to = dst, chunk_rows = 41, keep = "row")
  expect_equal(utils::read.csv(dst), want, tolerance = 1e-13)
  con <- sqlite()
  on.exit(DBI::dbDisconnect(con), add = TRUE)
  score(fits$cls, src, to = list(con, "scores"), chunk_rows = 150, keep = "row")
  expect_equal(DBI::dbReadTable(con, "scores"), want, tolerance = 1e-13)
  # a formula's predictor with whole numbers in the first chunk and
  # decimals later
  cars <- mtcars
  cars$hp[20] <- 110.5
  utils::write.csv(cars, src, row.names = FALSE)
  expect_equal(score(fits$reg, src, chunk_rows = 7)$pred, unname(predict(fits$reg, cars)[, 1]),
               tolerance = 1e-13)
  # quoted fields with commas, quotes and line breaks, no final line end
  net <- score_named_net()
  df <- score_data(25)
  df$note[3] <- "two\nlines"
  cat(paste(utils::capture.output(utils::write.csv(df, stdout(), row.names = FALSE)), collapse = "\n"),
      file = src)
  expect_equal(score(net, src, chunk_rows = 4, keep = c("id", "note")),
               score_reference(net, df, keep = c("id", "note")), tolerance = 1e-13)
  # a header only: no rows, the scores' columns
  writeLines("id,a,b,c,d", src)
  unlink(dst)
  score(net, src, to = dst, keep = "id")
  expect_identical(readLines(dst), "\"id\",\"pred_1\",\"pred_2\"")
})

test_that("on 2 multisession workers the scores equal the sequential ones bit for bit, in order", {
  skip_on_cran()
  skip_if_not_installed("future")
  skip_if_not_installed("RSQLite")
  set.seed(5)
  w1 <- matrix(rnorm(4 * 40), 4, dimnames = list(c("a", "b", "c", "d"), NULL))
  net <- network(weights = list(w1, matrix(rnorm(120), 40)), activation = "relu", output = "softmax")
  df <- score_data(3000)
  con <- sqlite()
  on.exit(DBI::dbDisconnect(con))
  DBI::dbWriteTable(con, "customers", df)
  seq_df <- score(net, df, chunk_rows = 700, keep = "id")
  score(net, con, query = "SELECT * FROM customers", to = "seq", chunk_rows = 700, keep = "id")
  old <- future::plan(future::multisession, workers = 2)
  on.exit(future::plan(old), add = TRUE)
  par_df <- score(net, df, chunk_rows = 700, keep = "id")
  s <- score(net, con, query = "SELECT * FROM customers", to = "par", chunk_rows = 700, keep = "id")
  expect_identical(par_df, seq_df)
  expect_identical(DBI::dbReadTable(con, "par"), DBI::dbReadTable(con, "seq"))
  expect_equal(c(s$workers, s$threads), c(2, 1))
  expect_equal(seq_df, score_reference(net, df, keep = "id"), tolerance = 1e-13)
})

test_that("a failing chunk names its rows; resume = TRUE finishes the run without duplicates", {
  skip_if_not_installed("RSQLite")
  net <- score_named_net()
  df <- score_data(100)
  want <- score_reference(net, df, keep = "id")
  # text in a number column in chunk 3 (rows 51-75): RSQLite would read 0
  con <- sqlite()
  on.exit(DBI::dbDisconnect(con))
  DBI::dbWriteTable(con, "customers", df)
  DBI::dbExecute(con, "UPDATE customers SET b = 'oops' WHERE id = 60")
  q <- "SELECT * FROM customers ORDER BY id"
  err <- expect_error(score(net, con, query = q, to = "scores", chunk_rows = 25, keep = "id"),
                      class = "fwdprop_error")
  expect_match(conditionMessage(err), "reading chunk 3 (from row 51 of `source`) failed", fixed = TRUE)
  expect_match(conditionMessage(err), "`to` holds rows 1-50; run again with `resume = TRUE`", fixed = TRUE)
  expect_identical(err$chunk, 3)
  expect_equal(DBI::dbReadTable(con, "scores"), want[1:50, ], tolerance = 1e-13)
  DBI::dbExecute(con, sprintf("UPDATE customers SET b = %.17g WHERE id = 60", df$b[60]))
  s <- score(net, con, query = q, to = "scores", chunk_rows = 25, keep = "id", resume = TRUE)
  expect_identical(c(s$skipped, s$rows, s$chunks), c(50, 50, 2L))
  expect_equal(DBI::dbReadTable(con, "scores"), want, tolerance = 1e-13)
  # resuming a finished table scores nothing more
  s <- score(net, con, query = q, to = "scores", chunk_rows = 25, keep = "id", resume = TRUE)
  expect_identical(c(s$skipped, s$rows), c(100, 0))
  expect_identical(nrow(DBI::dbReadTable(con, "scores")), 100L)

  # a CSV source with a bad value, into a CSV file: only the .partial file
  src <- tempfile(fileext = ".csv")
  dst <- tempfile(fileext = ".csv")
  on.exit(unlink(c(src, dst, paste0(dst, ".partial"))), add = TRUE)
  bad <- df
  bad$c <- format(bad$c, digits = 17)
  bad$c[80] <- "n/a"
  utils::write.csv(bad, src, row.names = FALSE)
  err <- expect_error(score(net, src, to = dst, chunk_rows = 30, keep = "id"), class = "fwdprop_error")
  expect_match(conditionMessage(err), "reading chunk 3 (from row 61 of `source`) failed", fixed = TRUE)
  expect_false(file.exists(dst))
  expect_equal(utils::read.csv(paste0(dst, ".partial")), want[1:60, ], tolerance = 1e-13)
  # a run killed while writing leaves a last line unfinished: it is dropped
  cat("61,0.5", file = paste0(dst, ".partial"), append = TRUE)
  utils::write.csv(df, src, row.names = FALSE)
  s <- score(net, src, to = dst, chunk_rows = 30, keep = "id", resume = TRUE)
  expect_identical(c(s$skipped, s$rows), c(60, 40))
  expect_equal(utils::read.csv(dst), want, tolerance = 1e-13)
  expect_false(file.exists(paste0(dst, ".partial")))
  s <- score(net, src, to = dst, chunk_rows = 30, keep = "id", resume = TRUE)
  expect_identical(c(s$skipped, s$rows, s$chunks), c(100, 0, 0L))

  # bad values in a data frame: the chunk is named, nothing is returned
  err <- expect_error(score(net, transform(df, a = as.character(a)), chunk_rows = 40),
                      class = "fwdprop_error")
  expect_match(conditionMessage(err), "scoring chunk 1 (rows 1-40 of `source`) failed: `source` must have only numeric columns",
               fixed = TRUE)
})

test_that("a dropped destination connection stops the run at its chunk; a new connection resumes", {
  skip_if_not_installed("RSQLite")
  skip_if_not_installed("progressr")
  net <- score_named_net()
  df <- score_data(100)
  path <- tempfile(fileext = ".sqlite")
  on.exit(unlink(path))
  out <- sqlite(path)
  old <- options(progressr.enable = TRUE) # progressr is off outside interactive sessions
  on.exit(options(old), add = TRUE)
  chunks <- 0
  err <- expect_error(withCallingHandlers(
    score(net, df, to = list(out, "scores"), chunk_rows = 20, keep = "id"),
    progression = function(p) {
      if (identical(p$type, "update")) {
        chunks <<- chunks + 1
        if (chunks == 2) DBI::dbDisconnect(out) # the connection drops after chunk 2
      }
    }
  ), class = "fwdprop_error")
  expect_match(conditionMessage(err), "writing chunk 3 (rows 41-60 of `source`) to `to` failed", fixed = TRUE)
  expect_identical(err$rows, c(41, 60))
  out <- sqlite(path)
  on.exit(DBI::dbDisconnect(out), add = TRUE)
  expect_identical(nrow(DBI::dbReadTable(out, "scores")), 40L)
  score(net, df, to = list(out, "scores"), chunk_rows = 20, keep = "id", resume = TRUE)
  expect_equal(DBI::dbReadTable(out, "scores"), score_reference(net, df, keep = "id"), tolerance = 1e-13)
})

test_that("a worker that dies stops the run with a fwdprop_error naming the chunk", {
  skip_on_cran()
  skip_if_not_installed("future")
  skip_if_not_installed("RSQLite")
  net <- score_named_net()
  df <- score_data(200)
  cl <- parallel::makePSOCKcluster(2)
  old <- future::plan(future::cluster, workers = cl)
  on.exit({
    future::plan(old)
    for (i in seq_along(cl)) try(parallel::stopCluster(cl[i]), silent = TRUE)
    for (node in cl) try(close(node$con), silent = TRUE)
  })
  pid <- parallel::clusterEvalQ(cl[2], Sys.getpid())[[1]]
  tools::pskill(pid)
  Sys.sleep(0.5)
  con <- sqlite()
  on.exit(DBI::dbDisconnect(con), add = TRUE)
  err <- expect_error(score(net, df, to = list(con, "scores"), chunk_rows = 50, keep = "id"),
                      class = "fwdprop_error")
  expect_match(conditionMessage(err), "scoring chunk [1-4] \\(rows [0-9]+-[0-9]+ of `source`\\) failed")
  # the message says what to do: the plan's workers are not started again
  expect_match(conditionMessage(err), "Call future::plan() again", fixed = TRUE)
  # what was written is whole chunks from the start
  done <- if (DBI::dbExistsTable(con, "scores")) nrow(DBI::dbReadTable(con, "scores")) else 0L
  expect_identical(done %% 50L, 0L)
  expect_lt(done, 200L)
  # resuming on the same plan fails again, and says so again
  err <- expect_error(score(net, df, to = list(con, "scores"), chunk_rows = 50, keep = "id", resume = TRUE),
                      class = "fwdprop_error")
  expect_match(conditionMessage(err), "Call future::plan() again", fixed = TRUE)
  # a rerun on a working plan completes it
  future::plan(future::sequential)
  score(net, df, to = list(con, "scores"), chunk_rows = 50, keep = "id", resume = TRUE)
  expect_equal(DBI::dbReadTable(con, "scores"), score_reference(net, df, keep = "id"), tolerance = 1e-13)
})

test_that("progress goes through progressr: silent by default, one step per chunk", {
  skip_if_not_installed("progressr")
  net <- score_named_net()
  df <- score_data(95)
  old <- options(progressr.enable = TRUE) # progressr is off outside interactive sessions
  on.exit(options(old))
  expect_silent(score(net, df, chunk_rows = 10, keep = "id"))
  steps <- character(0)
  withCallingHandlers(
    score(net, df, chunk_rows = 10, keep = "id"),
    progression = function(p) if (identical(p$type, "update")) steps <<- c(steps, p$message)
  )
  expect_identical(steps, sprintf("chunk %d: rows %d-%d", 1:10, seq(1, 91, 10), pmin(seq(10, 100, 10), 95)))
})

test_that("the summary prints rows, chunks, time, source, destination and workers", {
  skip_if_not_installed("RSQLite")
  net <- score_named_net()
  con <- sqlite()
  on.exit(DBI::dbDisconnect(con))
  DBI::dbWriteTable(con, "customers", score_data(250))
  s <- score(net, con, query = "SELECT * FROM customers", to = "scores", chunk_rows = 100, keep = "id")
  expect_snapshot(print(s), transform = function(x) {
    x <- sub("[0-9.]+ s( \\([0-9,]+ rows/s\\))?$", "<time>", x)
    sub("this session, [0-9]+ threads?", "this session, <n> threads", x)
  })
})

test_that("bad input is a fwdprop_error naming the argument", {
  skip_if_not_installed("RSQLite")
  net <- score_named_net()
  df <- score_data(10)
  con <- sqlite()
  on.exit(DBI::dbDisconnect(con))
  DBI::dbWriteTable(con, "customers", df)
  DBI::dbWriteTable(con, "taken", data.frame(x = 1))
  closed <- sqlite()
  DBI::dbDisconnect(closed)
  cleared <- DBI::dbSendQuery(con, "SELECT * FROM customers")
  DBI::dbClearResult(cleared)
  dir <- tempfile("score-bad")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  old <- setwd(dir)
  on.exit(setwd(old), add = TRUE)
  writeLines("a,b", "exists.csv")
  file.create("empty.csv")
  q <- "SELECT * FROM customers"
  cases <- list(
    net = quote(score(list(1), df)),
    source = quote(score(net)),
    source = quote(score(net, 1:10)),
    source = quote(score(net, list(a = 1))),
    source = quote(score(net, c("a.csv", "b.csv"))),
    source = quote(score(net, "no-such-file.csv")),
    source = quote(score(net, ".")),
    source = quote(score(net, "empty.csv")),
    source = quote(score(net, closed, query = q)),
    source = quote(score(net, cleared)),
    query = quote(score(net, con)),
    query = quote(score(net, con, query = 1)),
    query = quote(score(net, con, query = c("SELECT 1", "SELECT 2"))),
    query = quote(score(net, con, query = NA_character_)),
    query = quote(score(net, df, query = q)),
    chunk_rows = quote(score(net, df, chunk_rows = 0)),
    chunk_rows = quote(score(net, df, chunk_rows = 2.5)),
    chunk_rows = quote(score(net, df, chunk_rows = "100")),
    chunk_rows = quote(score(net, df, chunk_rows = NA)),
    keep = quote(score(net, df, keep = 1)),
    keep = quote(score(net, df, keep = c("id", "id"))),
    keep = quote(score(net, df, keep = NA_character_)),
    keep = quote(score(net, df, keep = "no_such_column")),
    keep = quote(score(net, con, query = q, keep = "no_such_column")),
    keep = quote(score(net, "exists.csv", keep = "id")),
    keep = quote(score(net, df, keep = c("id", "pred_1"))),
    type = quote(score(net, df, type = "probability")),
    type = quote(score(network(c(4, 2, 1), activation = "relu", output = "identity", seed = 1), df[2:5], type = "class")),
    resume = quote(score(net, df, resume = NA)),
    resume = quote(score(net, df, resume = TRUE)),
    threads = quote(score(net, df, threads = 0)),
    to = quote(score(net, df, to = 1)),
    to = quote(score(net, df, to = "scores")),
    to = quote(score(net, df, to = NA_character_)),
    to = quote(score(net, df, to = file.path("no-such-dir", "scores.csv"))),
    to = quote(score(net, df, to = "exists.csv")),
    to = quote(score(net, con, query = q, to = "taken")),
    to = quote(score(net, "exists.csv", to = "exists.csv")),
    `to[[1]]` = quote(score(net, df, to = list(closed, "scores"))),
    `to[[2]]` = quote(score(net, df, to = list(con, 1))),
    to = quote(score(net, df, to = list("scores", con))),
    chunk_size = quote(score(net, df, chunk_size = 2)),
    source = quote(score(net, df[-2]))
  )
  expect_gte(length(cases), 40L) # and the result below
  for (i in seq_along(cases)) {
    arg <- names(cases)[[i]]
    err <- expect_error(eval(cases[[i]]), class = "fwdprop_error", label = deparse(cases[[i]]))
    expect_true(grepl(paste0("`", arg), conditionMessage(err), fixed = TRUE),
                label = sprintf("%s names `%s` (%s)", deparse(cases[[i]]), arg, conditionMessage(err)))
  }
  # a result cannot be written to its own connection
  open_res <- DBI::dbSendQuery(con, q)
  expect_error(score(net, open_res, to = "scores"), class = "fwdprop_error",
               regexp = "`to` is on the database the DBI result `source` is read from")
  DBI::dbClearResult(open_res)
  expect_snapshot(error = TRUE, {
    score(net)
    score(net, 1:10)
    score(net, "no-such-file.csv")
    score(net, con)
    score(net, df, query = q)
    score(net, df, chunk_rows = 0)
    score(net, df, keep = c("id", "id"))
    score(net, df, keep = "no_such_column")
    score(net, df, keep = c("id", "pred_1"))
    score(net, df, type = "probability")
    score(net, df, resume = TRUE)
    score(net, df, to = 1)
    score(net, df, to = "scores")
    score(net, df, to = file.path("no-such-dir", "scores.csv"))
    score(net, df, to = "exists.csv")
    score(net, con, query = q, to = "taken")
    score(net, df, to = list(con, 1))
    score(net, df, chunk_size = 2)
    score(net, df[-2])
  })
})
