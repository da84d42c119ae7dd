# score()'s destinations when things go wrong around them: two runs
# writing the same CSV file or table at once (in two R processes), a run
# killed while it holds the lock, a full disk, a destination that cannot
# be written. Every result is compared with predict() on the whole data.

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
  expect_one_refused(out)
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
  expect_one_refused(out)
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
