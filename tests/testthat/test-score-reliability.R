# score() when things go wrong around it: two runs writing the same CSV
# file or table at once (in two R processes), a run killed while it holds
# the lock, CSV rows with the wrong number of fields, a full disk, a
# destination that cannot be written. Every result is compared with
# predict() on the whole data.

# A hand-made network with input names (4 inputs, 2 softmax outputs).
rel_net <- function() {
  set.seed(11)
  w1 <- matrix(rnorm(4 * 6), 4, dimnames = list(c("a", "b", "c", "d"), NULL))
  network(weights = list(w1, matrix(rnorm(12), 6)), activation = "tanh", output = "softmax")
}

rel_data <- function(n, seed = 1) {
  set.seed(seed)
  data.frame(id = seq_len(n), a = rnorm(n), b = rnorm(n), c = rnorm(n), d = rnorm(n),
             note = sample(c("x", "y, z", "q\"uote"), n, replace = TRUE))
}

# predict() on the whole data, as score()'s columns (`id`, `pred_1`, `pred_2`).
rel_reference <- function(net, data) {
  p <- predict(net, data)
  data.frame(id = data$id, pred_1 = unname(p[, 1]), pred_2 = unname(p[, 2]))
}

rel_sqlite <- function(path) DBI::dbConnect(RSQLite::SQLite(), path)

# Messages with temporary paths, process ids and times made stable for
# snapshots.
rel_transform <- function(dir) {
  function(x) {
    x <- gsub(normalizePath(dir), "<dir>", x, fixed = TRUE)
    x <- gsub("process [0-9]+", "process <pid>", x)
    x <- gsub("host \"[^\"]*\"", "host <host>", x)
    gsub("[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}( UTC)?", "<time>", x)
  }
}

# R processes running `code` (one string each) with `args` (a list saved
# for them as `args`), all started at once: each waits at a barrier until
# every one has loaded fwdprop. Returns a list with `results` (one per
# process: `ok`, and `class` and `message` of an error) and `procs`.
# `wait = FALSE` returns at once, with the processes running.
rel_children <- function(dir, args, code, wait = TRUE, timeout = 60) {
  saveRDS(args, file.path(dir, "args.rds"))
  rscript <- file.path(R.home("bin"), "Rscript")
  procs <- lapply(seq_along(code), function(i) {
    script <- file.path(dir, sprintf("child-%d.R", i))
    writeLines(c(
      sprintf(".libPaths(%s)", paste(deparse(.libPaths()), collapse = "")),
      "suppressPackageStartupMessages(library(fwdprop))",
      sprintf("dir <- %s", deparse(dir)),
      "args <- readRDS(file.path(dir, 'args.rds'))",
      sprintf("file.create(file.path(dir, 'ready-%d'))", i),
      "while (!file.exists(file.path(dir, 'go'))) Sys.sleep(0.005)",
      "res <- tryCatch({",
      code[[i]],
      "  list(ok = TRUE)",
      "}, error = function(e) list(ok = FALSE, class = class(e), message = conditionMessage(e)))",
      sprintf("saveRDS(res, file.path(dir, 'result-%d.rds'))", i)
    ), script)
    processx::process$new(rscript, script, stdout = file.path(dir, sprintf("child-%d.log", i)),
                          stderr = "2>&1")
  })
  ready <- file.path(dir, sprintf("ready-%d", seq_along(code)))
  for (k in 1:3000) {
    if (all(file.exists(ready)) || !all(vapply(procs, function(p) p$is_alive(), TRUE))) break
    Sys.sleep(0.01)
  }
  file.create(file.path(dir, "go"))
  if (!wait) {
    return(list(procs = procs))
  }
  deadline <- Sys.time() + timeout
  for (p in procs) {
    p$wait(max(1, as.numeric(deadline - Sys.time(), units = "secs")) * 1000)
    if (p$is_alive()) p$kill()
  }
  results <- lapply(seq_along(code), function(i) {
    f <- file.path(dir, sprintf("result-%d.rds", i))
    if (file.exists(f)) readRDS(f) else list(
      ok = FALSE, class = "no result",
      message = paste(readLines(file.path(dir, sprintf("child-%d.log", i)), warn = FALSE), collapse = "\n")
    )
  })
  list(results = results, procs = procs)
}

rel_skip_children <- function() {
  skip_on_cran()
  skip_if_not_installed("processx")
}

# In a child: after each chunk written, `pause` seconds, so that two runs
# surely overlap.
rel_slowly <- function(call, pause) {
  sprintf(paste(
    "options(progressr.enable = TRUE)",
    "withCallingHandlers(%s, progression = function(p) if (identical(p$type, 'update')) Sys.sleep(%s))",
    sep = "\n"
  ), call, format(pause))
}

test_that("two runs writing the same CSV file at once: one is refused, every row is written once", {
  rel_skip_children()
  skip_if_not_installed("progressr")
  dir <- tempfile("score-twice")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE))
  net <- rel_net()
  n <- 300000
  df <- rel_data(n)
  src <- file.path(dir, "customers.csv")
  dst <- file.path(dir, "scores.csv")
  utils::write.csv(df, src, row.names = FALSE)
  run <- rel_slowly("score(args$net, args$src, to = args$dst, chunk_rows = 20000, keep = 'id')", 0.02)
  out <- rel_children(dir, list(net = net, src = src, dst = dst), c(run, run))
  ok <- vapply(out$results, function(r) isTRUE(r$ok), TRUE)
  info <- paste(vapply(out$results, function(r) paste(c(r$class[1], r$message, "ok")[1:2], collapse = " "), ""),
                collapse = "\n")
  expect_identical(sum(ok), 1L, info = info)
  refused <- out$results[!ok][[1]]
  expect_true("fwdprop_error" %in% refused$class, info = info)
  expect_match(refused$message, "is being written by another score() run", fixed = TRUE)
  got <- utils::read.csv(dst)
  expect_identical(got$id, seq_len(n))
  expect_equal(got, rel_reference(net, df), tolerance = 1e-13)
  expect_false(file.exists(paste0(dst, ".partial")))
  expect_false(file.exists(paste0(dst, ".lock")))
})

test_that("two resume = TRUE runs into the same SQLite table at once: one is refused, no row twice", {
  rel_skip_children()
  skip_if_not_installed("RSQLite")
  skip_if_not_installed("progressr")
  dir <- tempfile("score-twice-db")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE))
  net <- rel_net()
  n <- 300000
  df <- rel_data(n)[1:5]
  db <- file.path(dir, "scores.sqlite")
  # an interrupted run wrote the first 30,000 rows
  con <- rel_sqlite(db)
  on.exit(DBI::dbDisconnect(con), add = TRUE)
  score(net, df[1:30000, ], to = list(con, "scores"), chunk_rows = 10000, keep = "id")
  run <- rel_slowly(paste(
    "score(args$net, args$df, to = list(DBI::dbConnect(RSQLite::SQLite(), args$db), 'scores'),",
    "chunk_rows = 10000, keep = 'id', resume = TRUE)"
  ), 0.02)
  out <- rel_children(dir, list(net = net, df = df, db = db), c(run, run))
  ok <- vapply(out$results, function(r) isTRUE(r$ok), TRUE)
  info <- paste(vapply(out$results, function(r) paste(c(r$class[1], r$message, "ok")[1:2], collapse = " "), ""),
                collapse = "\n")
  expect_identical(sum(ok), 1L, info = info)
  refused <- out$results[!ok][[1]]
  expect_true("fwdprop_error" %in% refused$class, info = info)
  expect_match(refused$message, "is being written by another score() run", fixed = TRUE)
  got <- DBI::dbGetQuery(con, "SELECT * FROM scores ORDER BY rowid")
  expect_identical(got$id, seq_len(n))
  expect_equal(got, rel_reference(net, df), tolerance = 1e-13)
  # the lock is gone with the run
  expect_false(DBI::dbExistsTable(con, "fwdprop_score_locks"))
})

test_that("a lock left by a killed run is taken over; one that cannot be checked says how to clear it", {
  rel_skip_children()
  skip_if_not_installed("RSQLite")
  skip_if_not_installed("progressr")
  dir <- tempfile("score-killed")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE))
  net <- rel_net()
  n <- 50000
  df <- rel_data(n)
  src <- file.path(dir, "customers.csv")
  dst <- file.path(dir, "scores.csv")
  db <- file.path(dir, "scores.sqlite")
  utils::write.csv(df, src, row.names = FALSE)
  # each run stops (for a minute) after its second chunk, and is killed there
  hold <- paste(
    "options(progressr.enable = TRUE); k <- 0",
    "withCallingHandlers(%s, progression = function(p) if (identical(p$type, 'update')) {",
    "  k <<- k + 1; if (k == 2) { file.create(file.path(dir, 'held-%d')); Sys.sleep(60) } })",
    sep = "\n"
  )
  out <- rel_children(dir, list(net = net, src = src, dst = dst, db = db), c(
    sprintf(hold, "score(args$net, args$src, to = args$dst, chunk_rows = 5000, keep = 'id')", 1L),
    sprintf(hold, paste("score(args$net, args$src, to = list(DBI::dbConnect(RSQLite::SQLite(), args$db), 'scores'),",
                        "chunk_rows = 5000, keep = 'id')"), 2L)
  ), wait = FALSE)
  on.exit(for (p in out$procs) p$kill(), add = TRUE)
  for (k in 1:3000) {
    if (all(file.exists(file.path(dir, c("held-1", "held-2"))))) break
    Sys.sleep(0.01)
  }
  for (p in out$procs) {
    p$kill()
    p$wait(5000)
  }
  want <- rel_reference(net, df)
  snap <- rel_transform(dir)

  # the CSV file: the lock is there, its process is gone
  lock <- paste0(dst, ".lock")
  expect_true(dir.exists(lock))
  expect_identical(nrow(utils::read.csv(paste0(dst, ".partial"))), 10000L)
  # a lock from another machine cannot be checked from here
  owner <- read.dcf(file.path(lock, "owner"))
  elsewhere <- owner
  elsewhere[, "host"] <- "elsewhere.example.org"
  write.dcf(elsewhere, file.path(lock, "owner"))
  expect_snapshot(error = TRUE, transform = snap,
                  score(net, src, to = dst, chunk_rows = 5000, keep = "id", resume = TRUE))
  write.dcf(owner, file.path(lock, "owner"))
  # this machine's process is dead: the lock is stale and taken over
  s <- score(net, src, to = dst, chunk_rows = 5000, keep = "id", resume = TRUE)
  expect_identical(c(s$skipped, s$rows), c(10000, n - 10000))
  expect_equal(utils::read.csv(dst), want, tolerance = 1e-13)
  expect_false(dir.exists(lock))

  # the table: the same with the lock's row
  con <- rel_sqlite(db)
  on.exit(DBI::dbDisconnect(con), add = TRUE)
  locks <- DBI::dbReadTable(con, "fwdprop_score_locks")
  expect_identical(nrow(locks), 1L)
  expect_identical(DBI::dbGetQuery(con, "SELECT COUNT(*) AS n FROM scores")$n, 10000L)
  DBI::dbExecute(con, "UPDATE fwdprop_score_locks SET host = 'elsewhere.example.org'")
  expect_snapshot(error = TRUE, transform = snap,
                  score(net, src, to = list(con, "scores"), chunk_rows = 5000, keep = "id", resume = TRUE))
  DBI::dbExecute(con, "UPDATE fwdprop_score_locks SET host = ?", params = list(locks$host))
  s <- score(net, src, to = list(con, "scores"), chunk_rows = 5000, keep = "id", resume = TRUE)
  expect_identical(c(s$skipped, s$rows), c(10000, n - 10000))
  expect_equal(DBI::dbGetQuery(con, "SELECT * FROM scores ORDER BY rowid"), want, tolerance = 1e-13)
  expect_false(DBI::dbExistsTable(con, "fwdprop_score_locks"))
})

test_that("a lock held by a live run in this session is respected; the run's own lock is checked per chunk", {
  dir <- tempfile("score-live")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE))
  skip_if_not_installed("progressr")
  net <- rel_net()
  df <- rel_data(2000)
  dst <- file.path(dir, "scores.csv")
  old <- options(progressr.enable = TRUE)
  on.exit(options(old), add = TRUE)
  # a second run started while the first is writing (from its progress)
  inner <- NULL
  k <- 0
  withCallingHandlers(
    score(net, df, to = dst, chunk_rows = 500, keep = "id"),
    progression = function(p) {
      if (identical(p$type, "update") && (k <<- k + 1) == 1) {
        inner <<- tryCatch(score(net, df, to = dst, chunk_rows = 500, keep = "id", resume = TRUE),
                           error = function(e) e)
      }
    }
  )
  expect_s3_class(inner, "fwdprop_error")
  expect_match(conditionMessage(inner), "is being written by another score() run", fixed = TRUE)
  expect_snapshot(writeLines(conditionMessage(inner)), transform = rel_transform(dir))
  expect_equal(utils::read.csv(dst), rel_reference(net, df), tolerance = 1e-13)
  # a lock removed by hand while the run writes stops the run
  unlink(dst)
  k <- 0
  err <- expect_error(withCallingHandlers(
    score(net, df, to = dst, chunk_rows = 500, keep = "id"),
    progression = function(p) {
      if (identical(p$type, "update") && (k <<- k + 1) == 2) unlink(paste0(dst, ".lock"), recursive = TRUE)
    }
  ), class = "fwdprop_error")
  expect_match(conditionMessage(err), "writing chunk 3 (rows 1,001-1,500 of `source`) to `to` failed", fixed = TRUE)
  expect_match(conditionMessage(err), "lock", fixed = TRUE)
  expect_identical(nrow(utils::read.csv(paste0(dst, ".partial"))), 1000L)
  score(net, df, to = dst, chunk_rows = 500, keep = "id", resume = TRUE)
  expect_equal(utils::read.csv(dst), rel_reference(net, df), tolerance = 1e-13)
})

# The lines of a CSV file of `df` as write.csv() writes them.
rel_csv_lines <- function(df) utils::capture.output(utils::write.csv(df, stdout(), row.names = FALSE))

test_that("a CSV row with the wrong number of fields is an error naming its line; resume completes once it is fixed", {
  dir <- tempfile("score-malformed")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE))
  net <- rel_net()
  n <- 20000
  df <- rel_data(n)
  # a quoted line break in row 100: from there on, row r is on line r + 2
  df$note[100] <- "two\nlines"
  row <- 12345 # on line 12,347, in chunk 7 (rows 12,001-14,000)
  line <- row + 2L
  df$note[row] <- "x" # no comma in its fields
  want <- rel_reference(net, df)
  lines <- rel_csv_lines(df)
  expect_identical(length(lines), as.integer(n + 2))
  src <- file.path(dir, "customers.csv")
  dst <- file.path(dir, "scores.csv")
  good <- lines[[line]]
  fields <- strsplit(good, ",", fixed = TRUE)[[1]]
  expect_length(fields, 6L)
  broken <- list(
    # one field too many: read.csv() wraps it into a new row
    extra = paste0(good, ",0.5"),
    # twice the fields: two plausible rows, the second of shifted values
    double = paste(good, paste(fields[c(1, 3:6, 2)], collapse = ","), sep = ","),
    short = paste(fields[1:4], collapse = ","),
    commas = ",,,,,",
    quoted_empty = "\"\",,,,,\"\""
  )
  found <- c(extra = 7L, double = 12L, short = 4L, commas = 6L, quoted_empty = 6L)
  for (case in names(broken)) {
    bad <- lines
    bad[[line]] <- broken[[case]]
    writeLines(bad, src)
    unlink(c(dst, paste0(dst, ".partial")))
    err <- expect_error(score(net, src, to = dst, chunk_rows = 2000, keep = "id"), class = "fwdprop_error",
                        label = case)
    expect_match(conditionMessage(err), "reading chunk 7 (from row 12,001 of `source`) failed: line 12,347 of",
                 fixed = TRUE, label = case)
    if (case %in% c("commas", "quoted_empty")) {
      expect_match(conditionMessage(err), "has no values", fixed = TRUE, label = case)
    } else {
      expect_match(conditionMessage(err), sprintf("has %d fields where the header has 6", found[[case]]),
                   fixed = TRUE, label = case)
    }
    expect_identical(err$line, 12347, label = case)
    expect_identical(err$chunk, 7, label = case)
    # the chunks before it are kept
    expect_equal(utils::read.csv(paste0(dst, ".partial")), want[1:12000, ], tolerance = 1e-13, label = case)
    expect_false(file.exists(dst))
    # into a data frame: the same error, nothing returned
    expect_error(score(net, src, chunk_rows = 2000, keep = "id"), class = "fwdprop_error",
                 regexp = "line 12,347 of")
  }
  expect_snapshot(error = TRUE, transform = rel_transform(dir),
                  score(net, src, to = dst, chunk_rows = 2000, keep = "id", resume = TRUE))
  # fixed: resume goes on from row 12,001
  writeLines(lines, src)
  s <- score(net, src, to = dst, chunk_rows = 2000, keep = "id", resume = TRUE)
  expect_identical(c(s$skipped, s$rows), c(12000, n - 12000))
  expect_equal(utils::read.csv(dst), want, tolerance = 1e-13)

  # a bad line within the first lines (where read.csv() guesses the columns),
  # in the last chunk, and with a quoted line break before it in its chunk
  for (at in c(2L, n + 2L, 103L)) {
    bad <- lines
    bad[[at]] <- paste0(bad[[at]], ",1")
    writeLines(bad, src)
    err <- expect_error(score(net, src, chunk_rows = 2000, keep = "id"), class = "fwdprop_error")
    expect_match(conditionMessage(err), sprintf("line %s of \"customers.csv\" has 7 fields", format(at, big.mark = ",")),
                 fixed = TRUE)
  }
  # a quoted field that is never closed
  writeLines(c(lines[1:500], "501,0.1,0.2,0.3,0.4,\"open", lines[502:600]), src)
  expect_error(score(net, src, chunk_rows = 2000, keep = "id"), class = "fwdprop_error",
               regexp = "line 501 of \"customers.csv\" opens a quoted field that is not closed", fixed = TRUE)
  # blank lines are skipped, as read.csv() skips them
  writeLines(c(lines[1:50], "", lines[51:100], ""), src)
  expect_equal(score(net, src, chunk_rows = 30, keep = "id"), want[1:99, ], tolerance = 1e-13)
})

test_that("CSV files with CRLF or CR line ends, compressed, with line breaks in kept text: the same scores", {
  net <- rel_net()
  n <- 3000
  df <- rel_data(n)
  df$note[c(5, 700, 701, 1400, 2999)] <- c("two\nlines", "three\nshort\nlines", "a \"quote\"\nand a line", "x", "end\n")
  want <- rel_reference(net, df)
  want <- cbind(want[1], note = df$note, want[-1])
  text <- paste(rel_csv_lines(df), collapse = "\n")
  rows_end <- "\n(?=[0-9]+,)" # line ends between rows (the notes hold no digits after a line break)
  files <- list(
    lf = charToRaw(paste0(text, "\n")),
    no_final_line_end = charToRaw(text),
    crlf = charToRaw(paste0(gsub(rows_end, "\r\n", text, perl = TRUE), "\r\n")),
    cr = charToRaw(paste0(gsub("\n", "\r", text, fixed = TRUE), "\r")), # (in the notes too)
    blank_lines = charToRaw(paste0(gsub(rows_end, "\n\n", text, perl = TRUE), "\n\n"))
  )
  for (case in names(files)) {
    src <- tempfile(fileext = ".csv")
    writeBin(files[[case]], src)
    got <- score(net, src, chunk_rows = 700, keep = c("id", "note"))
    if (case == "cr") {
      got$note <- gsub("\r", "\n", got$note, fixed = TRUE)
    }
    expect_equal(got, want, tolerance = 1e-13, label = case)
    unlink(src)
  }
  src <- tempfile(fileext = ".csv.gz")
  dst <- tempfile(fileext = ".csv")
  on.exit(unlink(c(src, dst, paste0(dst, ".partial"))))
  con <- gzfile(src, "wb")
  writeBin(files$lf, con)
  close(con)
  expect_equal(score(net, src, chunk_rows = 700, keep = c("id", "note")), want, tolerance = 1e-13)
  # resume counts the rows in `to`, not its lines
  bad <- strsplit(text, "\n", fixed = TRUE)[[1]]
  bad[[2000]] <- paste0(bad[[2000]], ",1")
  writeLines(bad, src)
  expect_error(score(net, src, to = dst, chunk_rows = 700, keep = c("id", "note")), class = "fwdprop_error",
               regexp = "`to` holds rows 1-1,400;")
  writeBin(files$lf, src)
  s <- score(net, src, to = dst, chunk_rows = 700, keep = c("id", "note"), resume = TRUE)
  expect_identical(s$skipped, 1400)
  expect_equal(utils::read.csv(dst), want, tolerance = 1e-13)
})

test_that("a full SQLite database: a clear error and the true count of rows in `to`; resume completes", {
  skip_if_not_installed("RSQLite")
  net <- rel_net()
  n <- 100000
  df <- rel_data(n)[1:5]
  path <- tempfile(fileext = ".sqlite")
  on.exit(unlink(path))
  out <- rel_sqlite(path)
  on.exit(DBI::dbDisconnect(out), add = TRUE)
  DBI::dbExecute(out, "PRAGMA max_page_count = 300") # a disk of 1.2 MB
  err <- expect_error(score(net, df, to = list(out, "scores"), chunk_rows = 5000, keep = "id"),
                      class = "fwdprop_error")
  msg <- conditionMessage(err)
  expect_match(msg, "to `to` failed: the destination could not be written: database or disk is full", fixed = TRUE)
  expect_false(grepl("rollback", msg, fixed = TRUE))
  held <- DBI::dbGetQuery(out, "SELECT COUNT(*) AS n FROM scores")$n
  expect_gt(held, 0)
  expect_match(msg, sprintf("`to` holds rows 1-%s; run again with `resume = TRUE` to go on from row %s.",
                            format(held, big.mark = ","), format(held + 1, big.mark = ",")), fixed = TRUE)
  DBI::dbExecute(out, "PRAGMA max_page_count = 1073741823")
  s <- score(net, df, to = list(out, "scores"), chunk_rows = 5000, keep = "id", resume = TRUE)
  expect_identical(s$skipped, as.numeric(held))
  expect_equal(DBI::dbGetQuery(out, "SELECT * FROM scores ORDER BY rowid"), rel_reference(net, df),
               tolerance = 1e-13)
})

test_that("a full disk under a CSV file: a clear error, `to` holds whole rows as reported; resume completes", {
  rel_skip_children()
  skip_on_os("windows")
  skip_if(Sys.which("bash") == "", "no bash")
  dir <- tempfile("score-full")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE))
  net <- rel_net()
  n <- 20000
  df <- rel_data(n)
  dst <- file.path(dir, "scores.csv")
  saveRDS(list(net = net, df = df, dst = dst), file.path(dir, "args.rds"))
  script <- file.path(dir, "full.R")
  writeLines(c(
    sprintf(".libPaths(%s)", paste(deparse(.libPaths()), collapse = "")),
    "suppressPackageStartupMessages(library(fwdprop))",
    sprintf("args <- readRDS(%s)", deparse(file.path(dir, "args.rds"))),
    "res <- tryCatch(score(args$net, args$df, to = args$dst, chunk_rows = 2000, keep = 'id'),",
    "  error = function(e) e)",
    sprintf("saveRDS(res, %s)", deparse(file.path(dir, "result.rds")))
  ), script)
  # files may grow to 200 KB only (rows 5,000 or so), as on a disk that fills
  # up; writes past that fail (SIGXFSZ ignored)
  rscript <- file.path(R.home("bin"), "Rscript")
  status <- system2("bash", c("-c", shQuote(sprintf("trap '' XFSZ; ulimit -f 200; exec %s %s",
                                                    shQuote(rscript), shQuote(script)))),
                    stdout = FALSE, stderr = FALSE)
  expect_identical(status, 0L)
  err <- readRDS(file.path(dir, "result.rds"))
  expect_s3_class(err, "fwdprop_error")
  msg <- conditionMessage(err)
  expect_match(msg, "to `to` failed: the destination could not be written:", fixed = TRUE)
  partial <- paste0(dst, ".partial")
  got <- utils::read.csv(partial)
  held <- nrow(got)
  expect_identical(held %% 2000L, 0L)
  expect_gt(held, 0L)
  expect_match(msg, sprintf("`to` holds rows 1-%s;", format(held, big.mark = ",")), fixed = TRUE)
  # whole lines only
  bytes <- readBin(partial, "raw", file.size(partial))
  expect_identical(bytes[length(bytes)], as.raw(0x0a))
  s <- score(net, df, to = dst, chunk_rows = 2000, keep = "id", resume = TRUE)
  expect_identical(s$skipped, as.numeric(held))
  expect_equal(utils::read.csv(dst), rel_reference(net, df), tolerance = 1e-13)
})

test_that("a destination that cannot be written is an error up front, naming it", {
  skip_if_not_installed("RSQLite")
  net <- rel_net()
  df <- rel_data(1000)
  # a directory without write permission (as root, which writes anywhere,
  # /sys, where no file can be made)
  dir <- tempfile("score-readonly")
  dir.create(dir)
  on.exit({
    Sys.chmod(dir, "755")
    unlink(dir, recursive = TRUE)
  })
  Sys.chmod(dir, "555")
  writable <- function(d) {
    probe <- file.path(d, "fwdprop-probe")
    ok <- suppressWarnings(file.create(probe))
    if (ok) unlink(probe)
    ok
  }
  if (writable(dir)) {
    dir <- "/sys"
    skip_if(!dir.exists(dir) || writable(dir), "no directory that cannot be written")
  }
  dst <- file.path(normalizePath(dir), "scores.csv")
  warnings <- 0
  err <- expect_error(withCallingHandlers(
    score(net, df, to = dst, keep = "id"),
    warning = function(w) warnings <<- warnings + 1
  ), class = "fwdprop_error")
  expect_identical(warnings, 0)
  expect_match(conditionMessage(err), sprintf("`to` cannot be written: \"%s\"", dst),
               fixed = TRUE)
  expect_false(grepl("chunk", conditionMessage(err), fixed = TRUE))

  # a database opened read-only
  path <- tempfile(fileext = ".sqlite")
  on.exit(unlink(path), add = TRUE)
  con <- rel_sqlite(path)
  DBI::dbWriteTable(con, "customers", df)
  DBI::dbDisconnect(con)
  ro <- DBI::dbConnect(RSQLite::SQLite(), path, flags = RSQLite::SQLITE_RO)
  on.exit(DBI::dbDisconnect(ro), add = TRUE)
  err <- expect_error(score(net, ro, query = "SELECT * FROM customers", to = "scores", keep = "id"),
                      class = "fwdprop_error")
  expect_match(conditionMessage(err), "`to` (table \"scores\" on a SQLiteConnection) cannot be written:",
               fixed = TRUE)
  expect_match(conditionMessage(err), "readonly database", fixed = TRUE)
  expect_false(grepl("chunk", conditionMessage(err), fixed = TRUE))
  expect_snapshot(error = TRUE, score(net, ro, query = "SELECT * FROM customers", to = "scores", keep = "id"))
})
