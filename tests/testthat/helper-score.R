# Shared by the tests of score()'s sources and destinations (test-score-
# sources.R, test-score-sinks.R): a network, data and their reference
# scores, and child R processes that write at the same time.

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

# The lines of a CSV file of `df` as write.csv() writes them.
rel_csv_lines <- function(df) utils::capture.output(utils::write.csv(df, stdout(), row.names = FALSE))

# Of two runs started at once (rel_children()), exactly one succeeded and
# the other was refused with a fwdprop_error saying another run writes.
expect_one_refused <- function(out) {
  ok <- vapply(out$results, function(r) isTRUE(r$ok), TRUE)
  info <- paste(vapply(out$results, function(r) paste(c(r$class[1], r$message, "ok")[1:2], collapse = " "), ""),
                collapse = "\n")
  expect_identical(sum(ok), 1L, info = info)
  refused <- out$results[!ok][[1]]
  expect_true("fwdprop_error" %in% refused$class, info = info)
  expect_match(refused$message, "is being written by another score() run", fixed = TRUE)
}
