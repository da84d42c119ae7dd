#' Score data in chunks: tables, queries and CSV files, in parallel
#'
#' `score()` runs a network over data too large to hold in memory at once,
#' `chunk_rows` rows at a time: from a matrix or data frame, a database
#' query (any DBI connection) or a CSV file, into a database table, a CSV
#' file, or back to R. Each chunk goes through [predict()][predict.fwdprop_network],
#' so a fitted or imported network picks its inputs by name and applies its
#' scaling, formula and class levels just as `predict()` does; `keep`
#' columns (ids) are carried through beside the predictions. Under a
#' parallel [future::plan()] chunks are scored on the plan's workers
#' (local, remote or on a cluster) and still written in source order.
#'
#' @section Inputs and outputs:
#' The inputs are picked from each chunk by the network's input names (the
#' row names of `net$weights[[1]]`, which networks from [mlp()], imported
#' networks and hand-made networks with named weights have; a network
#' fitted with a formula takes the formula's variables). A network without input names
#' takes the chunk's columns other than `keep`, in order, and there must
#' be exactly as many as it has inputs.
#'
#' The scores have the `keep` columns first, then:
#' * `pred` for a network with one output (`pred_<level>` for a two-class
#'   classifier: the probability of its second class `<level>`), or
#'   `pred_<name>` per output for several outputs (the output names, e.g.
#'   class levels, or output numbers);
#' * `class` (with `type = "class"` or `"both"`): the predicted class, as
#'   `predict(type = "class")` gives it (written as text to tables and
#'   files).
#'
#' Each chunk's values equal `predict()` on the whole data up to rounding:
#' a chunk of only a few rows can take a product in a different summation
#' order. The same `chunk_rows` gives the same values, bit for bit,
#' whatever the plan and the number of threads. CSV files get 15
#' significant digits, as [utils::write.csv()] writes them.
#'
#' @section Sources and destinations:
#' * `source = con, query = "SELECT ..."`: the query's rows, fetched
#'   `chunk_rows` at a time. When `to` is a table on the same database,
#'   the query is instead read page by page (`SELECT * FROM (query) LIMIT n
#'   OFFSET k`), because many drivers (RSQLite among them) keep one open
#'   result per connection and writing would close it: give such a query an
#'   `ORDER BY` on a unique key, so that its pages are well defined (SQLite
#'   returns a plain table's rows in their stored order). Paging costs more
#'   than one pass (on a 5,000,000-row SQLite table 18 s against 11 s of
#'   reading); writing to another connection avoids it.
#' * `source = res`, a result from [DBI::dbSendQuery()]: its remaining rows
#'   (the result stays the caller's to clear). It cannot be written to its
#'   own connection.
#' * `source = "file.csv"`: a CSV file with a header line (as
#'   [utils::write.csv()] writes it; gzip, bzip2 and xz-compressed files are
#'   read too),
#'   read with [utils::read.csv()] conventions: only the input and `keep`
#'   columns are read, inputs as numbers; `keep` columns take the types the
#'   first chunk shows. Every row must have the header's number of fields
#'   (quoted fields may hold commas and line breaks) and a value: a row
#'   with more or fewer fields, or with nothing but commas, is an error
#'   that names its line in the file (field `line`), where `read.csv()`
#'   would fill a short row with `NA`s and make a second row of the extra
#'   fields of a long one. Blank lines are skipped.
#' * `to = NULL`: the scores are returned as a data frame.
#' * `to = "table"`: appended to that table on `source`'s connection
#'   (created with the scores' columns), each chunk in one transaction.
#' * `to = list(con, "table")`: a table on another connection `con`
#'   (`"table"` may also be a [DBI::Id()]).
#' * `to = "scores.csv"` (a path ending in `.csv`): a CSV file. It is
#'   written as `scores.csv.partial` and renamed when complete, so a file
#'   named `to` is always a finished one.
#'
#' An existing table or CSV file `to` is an error unless `resume = TRUE`.
#' A destination that cannot be written (a directory or database without
#' write permission) is an error before anything is read.
#'
#' One run at a time writes a destination. While a run writes a CSV file,
#' a lock sits beside it, the directory `scores.csv.lock`; while it writes
#' a table, a row in the table `fwdprop_score_locks` on its database (made
#' when needed, removed with its last lock) locks it. A second run into the
#' same `to`, from this session or any other process, is refused with an
#' error. A lock left by a run that was killed is taken over when its
#' process is gone from this machine; a lock from another machine cannot
#' be checked, and the error says how to clear it. SQLite connections wait
#' for each other while `score()` runs (up to 10 s, set with
#' `PRAGMA busy_timeout` and put back afterwards).
#'
#' @section Failures and resuming:
#' A chunk that cannot be read, scored or written (values that are not
#' numbers, a CSV row with the wrong number of fields, a dropped
#' connection, a full disk, a worker that died) stops the run with an error
#' of class `fwdprop_error` that names the chunk and its source rows
#' (fields `chunk`, `rows` and the original condition `parent`) and says
#' how many rows `to` holds. A worker of a future plan that died is not
#' started again: call [future::plan()] again before the next run (the
#' error says so).
#'
#' Chunks are written whole and in source order, so after a failure `to`
#' holds exactly the first rows of the source (a chunk that could not be
#' written whole to a CSV file is cut off again; for a table, the error
#' counts the rows its database committed). `resume = TRUE` counts the
#' rows already in `to` (the table's rows, or the `.partial` file's), skips
#' that many rows of the source without scoring them, and goes on from
#' there: nothing is written twice. The source must give its rows in the
#' same order as in the first run (an `ORDER BY` for queries). A finished
#' CSV file `to` means there is nothing left to do.
#'
#' @section Parallel scoring and threads:
#' `score()` uses the [future](https://future.futureverse.org) framework:
#' with `future::plan(future::multisession, workers = 2)` (or `cluster`,
#' future.batchtools, ...) chunks are scored on the workers while this
#' session reads the next ones and writes the finished ones in order; with
#' the default sequential plan, or without the future package, everything
#' runs here. Each worker runs fwdprop on `threads` threads, by default
#' `fwdprop_threads() %/% workers` (at least 1), so that `workers x threads`
#' stays within this machine's cores; set `threads` for remote workers with
#' cores of their own. The database connection and the files stay in this
#' session: only chunks of rows travel to the workers.
#'
#' Reading and writing happen in this session, one chunk at a time, so
#' workers help when scoring a chunk costs more than reading it (large
#' networks); for small networks the database or the CSV parser sets the
#' pace. Progress is reported through the progressr package (one step per
#' chunk; for CSV files, bytes read); it is silent unless progress
#' handlers are enabled, e.g. with `progressr::handlers(global = TRUE)` or
#' `progressr::with_progress(score(...))`.
#'
#' @param net A network: from [network()], [mlp()] or [fit()], imported,
#'   or made by hand.
#' @param source The data: a matrix or data frame, a DBI connection (with
#'   `query`), a DBI result, or the path of a CSV file.
#' @param to Where the scores go: `NULL` (returned), a table name on
#'   `source`'s connection, `list(con, "table")`, or a CSV path ending in
#'   `.csv`. See Sources and destinations.
#' @param query With a connection `source`: the SQL query giving the rows.
#' @param chunk_rows Rows per chunk: memory use grows with it (a chunk of
#'   100,000 rows of 20 numbers is 16 MB, and a few copies of it are alive
#'   at a time, one per worker in flight).
#' @param keep Names of source columns to carry into the scores (ids).
#' @param type `"response"` (the network's outputs), `"class"` (classes
#'   only) or `"both"`. By default `"both"` for classifiers with class
#'   levels (`net$levels`), `"response"` otherwise.
#' @param resume `TRUE` to continue an interrupted run into the same `to`.
#' @param threads fwdprop threads per chunk; see Parallel scoring and
#'   threads.
#' @param ... Not used; any argument here is an error (a misspelt argument
#'   would otherwise be silently ignored).
#' @return With `to = NULL`, a data frame of scores. Otherwise an object of
#'   class `fwdprop_score` (printed as a short summary): a list with
#'   `rows` (scored in this run), `skipped` (rows already in `to`),
#'   `chunks`, `chunk_rows`, `seconds`, `workers`, `threads`, `columns`,
#'   and descriptions of `source` and `to`.
#' @seealso [predict.fwdprop_network()], which scores each chunk. The
#'   article "Scoring at scale" on the package's site has measured times
#'   and memory on a 5,000,000-row table, parallel plans, and a recipe for
#'   Spark.
#' @export
#' @examples
#' m <- mlp(Species ~ ., data = iris, hidden = 3, epochs = 30, seed = 1)
#' iris$id <- seq_len(nrow(iris))
#'
#' # in memory, 50 rows at a time
#' head(score(m, iris, chunk_rows = 50, keep = "id"))
#'
#' # CSV file in, CSV file out
#' src <- tempfile(fileext = ".csv")
#' dst <- tempfile(fileext = ".csv")
#' write.csv(iris, src, row.names = FALSE)
#' score(m, src, to = dst, chunk_rows = 40, keep = "id")
#' head(read.csv(dst))
#'
#' # a database table in, another table out, on the same connection
#' if (requireNamespace("RSQLite", quietly = TRUE)) {
#'   con <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
#'   DBI::dbWriteTable(con, "flowers", iris)
#'   print(score(m, con, query = "SELECT * FROM flowers ORDER BY id",
#'               to = "flower_scores", chunk_rows = 60, keep = "id"))
#'   print(head(DBI::dbReadTable(con, "flower_scores")))
#'   DBI::dbDisconnect(con)
#' }
#' unlink(c(src, dst))
score <- function(net, source, to = NULL, query = NULL, chunk_rows = 100000, keep = NULL,
                  type = NULL, resume = FALSE, threads = NULL, ...) {
  call <- sys.call()
  started <- proc.time()[["elapsed"]]
  check_no_dots(..., fun = "score()", call = call,
                choices = c("net", "source", "to", "query", "chunk_rows", "keep", "type", "resume", "threads"))
  net <- check_network(net, "net", call = call)
  if (missing(source)) {
    fwdprop_error("`source` is missing: give the data (a matrix, a data frame, a DBI connection with `query`, or a CSV path).",
                  call = call)
  }
  chunk_rows <- check_count(chunk_rows, "chunk_rows", call = call)
  resume <- check_flag(resume, "resume", call = call)
  type <- score_type(net, type, call)
  keep <- score_keep(keep, call)
  if (!is.null(threads)) threads <- check_count(threads, "threads", call = call)
  score_check_keep(keep, net, type, call)
  src <- score_source(source, query, call)
  dest <- score_destination(to, src, call)
  if (resume && dest$kind == "none") {
    fwdprop_error("`resume = TRUE` continues writing into `to`, but `to` is NULL.", call = call)
  }

  plan <- score_plan(threads)
  # a slim network for the workers: what predict() uses, not the training
  # record
  parts <- c("sizes", "weights", "biases", "activations", "terms", "scaling",
             "target_scaling", "levels")
  slim <- structure(unclass(net)[intersect(parts, names(net))], class = class(net))

  reader <- tryCatch(
    score_reader(src, chunk_rows, paging = isTRUE(dest$same_database)),
    error = function(e) {
      fwdprop_error(sprintf("`source` could not be read: %s", conditionMessage(e)), call = call)
    }
  )
  on.exit(reader$close(), add = TRUE)
  if (src$kind == "csv") {
    csv_select(reader, net, keep, call)
  }
  # (not the connection of a DBI result `source`: a query there would
  # close the result)
  unwait <- score_sqlite_wait(list(if (src$kind == "db") src[["con"]], dest[["con"]]))
  on.exit(unwait(), add = TRUE)
  writer <- score_writer(dest)
  # (first, while SQLite connections still wait for each other)
  on.exit(writer$release(), add = TRUE, after = FALSE)
  done <- writer$prepare(resume, call)
  complete <- isTRUE(done$complete)
  skipped <- if (complete) done$rows else 0
  if (done$rows > 0 && !complete) {
    skipped <- tryCatch(reader$skip(done$rows), error = function(e) {
      fwdprop_error(sprintf("`source` could not be read while skipping the %s rows already in `to`: %s",
                            big(done$rows), conditionMessage(e)), call = call)
    })
    if (skipped < done$rows) {
      fwdprop_error(sprintf(
        "`to` already holds %s rows but `source` has only %s: it is not a run over this source (`resume = TRUE` continues a run over the same source, in the same order).",
        big(done$rows), big(skipped)
      ), call = call)
    }
  }
  progress <- score_progress(reader$steps(), environment())

  # Chunks in flight, oldest first; each is written (in source order) when
  # its scores are ready. A chunk that failed to be read, scored or sent
  # to a worker fails when its turn to be written comes, so that every
  # chunk before it is written first.
  state <- new.env(parent = emptyenv())
  state$rows <- 0
  state$chunks <- 0L
  state$pending <- list()
  on.exit(score_drain(state$pending), add = TRUE)
  collect <- function() {
    job <- state$pending[[1L]]
    state$pending[[1L]] <- NULL
    if (!is.null(job$error)) {
      score_chunk_error(job$stage, job, job$error, dest, skipped + state$rows, call)
    }
    scores <- tryCatch(
      if (is.null(job$future)) job$value else future::value(job$future),
      error = function(e) score_chunk_error("scoring", job, e, dest, skipped + state$rows, call)
    )
    tryCatch(
      writer$write(scores),
      error = function(e) score_chunk_error("writing", job, e, dest, writer$rows(skipped + state$rows), call)
    )
    state$rows <- state$rows + nrow(scores)
    state$chunks <- state$chunks + 1L
    progress(job, reader)
  }

  i <- done$rows %/% chunk_rows
  first <- skipped + 1
  input_cols <- NULL
  checked <- FALSE
  while (!complete) {
    chunk <- tryCatch(reader$read(), error = function(e) e)
    if (is.null(chunk)) break
    i <- i + 1
    if (inherits(chunk, "error")) {
      state$pending[[length(state$pending) + 1L]] <-
        list(i = i, first = first, last = NA, n = 0, stage = "reading", error = chunk)
      break
    }
    if (!checked) {
      input_cols <- score_columns(net, chunk, keep, call)
      checked <- TRUE
    }
    job <- list(i = i, first = first, last = first + nrow(chunk) - 1, n = nrow(chunk))
    first <- first + nrow(chunk)
    job <- score_submit(job, slim, chunk, keep, type, input_cols, plan)
    rm(chunk)
    state$pending[[length(state$pending) + 1L]] <- job
    if (!is.null(job$error)) {
      while (length(state$pending) > 0L) collect() # ends with this chunk's error
    }
    if (length(state$pending) >= plan$depth) collect()
  }
  while (length(state$pending) > 0L) collect()

  if (state$chunks == 0L && !complete && done$rows == 0) {
    # an empty source: scores with no rows, so that `to` still gets its
    # columns
    tmpl <- reader$template()
    input_cols <- score_columns(net, tmpl, keep, call)
    writer$write(score_chunk(slim, tmpl, keep, type, input_cols, 1L))
  }
  result <- writer$finish(call)
  if (dest$kind == "none") {
    return(result)
  }
  structure(
    list(rows = state$rows, skipped = skipped, chunks = state$chunks, chunk_rows = chunk_rows,
         seconds = proc.time()[["elapsed"]] - started, workers = plan$workers,
         threads = plan$threads, columns = writer$columns(), source = src$what,
         to = dest$what, complete_before = complete),
    class = "fwdprop_score"
  )
}

# `keep` columns must not clash with the scores' own columns.
score_check_keep <- function(keep, net, type, call) {
  columns <- c(keep, score_output_names(net, type))
  if (anyDuplicated(columns)) {
    fwdprop_error(sprintf(
      "`keep` names a column the scores already have: %s (the predictions are %s).",
      paste0("`", intersect(keep, score_output_names(net, type)), "`", collapse = ", "),
      paste0("`", score_output_names(net, type), "`", collapse = ", ")
    ), call = call)
  }
}

# Starts scoring one chunk: on a worker of the future plan (job$future), or
# here (job$value); a failure to start or to score is kept in job$error,
# to be raised when the chunk's turn to be written comes.
score_submit <- function(job, slim, chunk, keep, type, input_cols, plan) {
  job$stage <- "scoring"
  if (plan$parallel) {
    # (a quoted call: its variables are the globals given, not this
    # function's)
    expr <- quote(utils::getFromNamespace("score_chunk", "fwdprop")(net, chunk, keep, type, input_cols, threads))
    job$future <- tryCatch(
      future::future(
        expr, substitute = FALSE,
        globals = list(net = slim, chunk = chunk, keep = keep, type = type,
                       input_cols = input_cols, threads = plan$threads),
        packages = "fwdprop", seed = FALSE, label = sprintf("fwdprop score chunk %d", job$i)
      ),
      error = function(e) {
        job$error <<- e
        NULL
      }
    )
  } else {
    job$value <- tryCatch(
      score_chunk(slim, chunk, keep, type, input_cols, plan$threads),
      error = function(e) {
        job$error <<- e
        NULL
      }
    )
  }
  job
}

#' @export
print.fwdprop_score <- function(x, ...) {
  rate <- if (x$seconds > 0 && x$rows > 0) sprintf(" (%s rows/s)", big(round(x$rows / x$seconds))) else ""
  cat(sprintf("<fwdprop score> %s row%s in %d chunk%s of up to %s, %s s%s\n",
              big(x$rows), if (x$rows == 1) "" else "s", x$chunks, if (x$chunks == 1L) "" else "s",
              big(x$chunk_rows), format(round(x$seconds, 2L), nsmall = 2L), rate))
  cat(sprintf("  from: %s\n  to:   %s (columns %s)\n", x$source, x$to,
              paste(x$columns, collapse = ", ")))
  cat(sprintf("  on:   %s\n", if (x$workers > 1) {
    sprintf("%s workers x %d thread%s", format(x$workers), x$threads, if (x$threads == 1L) "" else "s")
  } else {
    sprintf("this session, %d thread%s", x$threads, if (x$threads == 1L) "" else "s")
  }))
  if (isTRUE(x$complete_before)) {
    cat(sprintf("  `to` was already complete (%s rows): nothing to do\n", big(x$skipped)))
  } else if (x$skipped > 0) {
    cat(sprintf("  resumed: %s rows already in `to` were skipped\n", big(x$skipped)))
  }
  invisible(x)
}

# --- one chunk ---------------------------------------------------------------

# The scores of one chunk (a data frame or matrix of source rows): the
# `keep` columns, then the predictions and/or classes. Runs in this session
# or on a future's worker (it only uses the network and the chunk).
score_chunk <- function(net, chunk, keep, type, input_cols, threads) {
  call <- sys.call()
  x <- if (is.null(input_cols)) chunk else chunk[, input_cols, drop = FALSE]
  x <- network_input(net, x, "source", call = call)
  out <- forward_checked(net, x, FALSE, threads, call = call, net_arg = "net", x_arg = "source")
  n <- nrow(out)
  res <- if (length(keep)) {
    kept <- if (is.data.frame(chunk)) chunk[keep] else as.data.frame(chunk[, keep, drop = FALSE])
    row.names(kept) <- NULL
    kept
  } else {
    data.frame(row.names = seq_len(n))
  }
  names_out <- score_output_names(net, type)
  if (type != "class") {
    pred <- network_output(net, out, "response", call = call)
    for (j in seq_len(ncol(pred))) res[[names_out[[j]]]] <- unname(pred[, j])
  }
  if (type != "response") {
    res[["class"]] <- unname(network_output(net, out, "class", call = call))
  }
  row.names(res) <- NULL
  res
}

# The prediction columns' names.
score_output_names <- function(net, type) {
  k <- net$sizes[[length(net$sizes)]]
  lev <- net[["levels"]]
  pred <- if (k == 1L) {
    if (length(lev) == 2L) paste0("pred_", lev[[2L]]) else "pred"
  } else {
    cn <- colnames(net$weights[[length(net$weights)]])
    paste0("pred_", if (is.null(cn)) seq_len(k) else cn)
  }
  switch(type, response = pred, class = "class", both = c(pred, "class"))
}

# `type`: NULL means "both" for a classifier with class levels.
score_type <- function(net, type, call) {
  if (is.null(type)) {
    return(if (is.null(net[["levels"]])) "response" else "both")
  }
  type <- check_choice(type, "type", c("response", "class", "both"), call = call)
  act <- net$activations[[length(net$activations)]]
  if (type != "response" && !(act %in% c("softmax", "sigmoid"))) {
    fwdprop_error(sprintf(
      "`type = \"%s\"` needs a classifier (a softmax or sigmoid output layer), but the network's output is \"%s\".",
      type, act
    ), call = call)
  }
  type
}

score_keep <- function(keep, call) {
  if (is.null(keep)) {
    return(NULL)
  }
  if (!is.character(keep) || !is.null(dim(keep)) || anyNA(keep) || !all(nzchar(keep)) ||
      anyDuplicated(keep)) {
    fwdprop_error(sprintf(
      "`keep` must be NULL or distinct column names (a character vector), not %s.",
      describe_value(keep)
    ), call = call)
  }
  keep
}

# Checks the first chunk's columns against `keep` and the network; returns
# the input columns to hand to predict() (NULL: the whole chunk, picked by
# name or by the formula).
score_columns <- function(net, chunk, keep, call) {
  cn <- colnames(chunk)
  if (length(keep)) {
    lacking <- setdiff(keep, cn)
    if (length(lacking)) {
      fwdprop_error(sprintf(
        "`keep` names column%s `source` lacks: %s (it has %s).",
        if (length(lacking) > 1L) "s" else "", paste0("`", lacking, "`", collapse = ", "),
        if (length(cn)) paste0("`", utils::head(cn, 10L), "`", collapse = ", ") else "no column names"
      ), call = call)
    }
  }
  if (!is.null(net[["terms"]]) || !is.null(input_names(net)) || is.null(cn)) {
    return(NULL)
  }
  inputs <- setdiff(cn, keep)
  if (length(inputs) != net$sizes[[1L]]) {
    fwdprop_error(sprintf(
      "`source` has %d column%s besides `keep` but the network takes %d input%s and has no input names to pick them by (name the rows of `net$weights[[1]]`, or select the columns in the source).",
      length(inputs), if (length(inputs) == 1L) "" else "s",
      net$sizes[[1L]], if (net$sizes[[1L]] == 1L) "" else "s"
    ), call = call)
  }
  if (length(keep)) inputs else NULL
}

# The error of a chunk that could not be read, scored or written: names
# the chunk and its source rows, and what is in `to` for a rerun.
score_chunk_error <- function(stage, job, e, dest, written, call) {
  rows <- if (is.na(job$last)) {
    sprintf("from row %s", big(job$first))
  } else {
    sprintf("rows %s-%s", big(job$first), big(job$last))
  }
  where <- switch(stage,
    reading = sprintf("reading chunk %d (%s of `source`)", job$i, rows),
    scoring = sprintf("scoring chunk %d (%s of `source`)", job$i, rows),
    writing = sprintf("writing chunk %d (%s of `source`) to `to`", job$i, rows)
  )
  msg <- sprintf("%s failed: %s", where, conditionMessage(e))
  if (!grepl("[.!?]\\s*$", msg)) msg <- paste0(msg, ".")
  if (stage == "scoring" && inherits(e, "FutureError")) {
    # a worker that died or cannot be reached: future does not start it
    # again, and every run on this plan would fail the same way
    msg <- paste(msg, paste(
      "This is a failure of the future plan's workers: a worker that died or lost its connection is not",
      "started again, and every run on this plan fails the same way. Call future::plan() again (as you set it",
      "up, e.g. `future::plan(future::multisession, workers = 2)`, or `future::plan(future::sequential)` to",
      "score in this session) before running score() again."
    ))
  }
  if (dest$kind != "none") {
    msg <- paste0(msg, if (written > 0) {
      sprintf(" `to` holds rows 1-%s; run again with `resume = TRUE` to go on from row %s.",
              big(written), big(written + 1))
    } else {
      " Nothing was written to `to`."
    })
  }
  fields <- list(msg, call = call, chunk = job$i, rows = c(job$first, job$last), parent = e)
  # a CSV row with the wrong number of fields: its line in the file
  if (!is.null(e[["line"]])) fields$line <- e[["line"]]
  do.call(fwdprop_error, fields, quote = TRUE)
}

# --- the plan ---------------------------------------------------------------

# Workers of the user's future plan, chunks kept in flight, and threads per
# chunk.
score_plan <- function(threads) {
  workers <- 1
  if (isNamespaceLoaded("future")) {
    workers <- future::nbrOfWorkers()
  }
  parallel <- workers > 1
  if (is.null(threads)) {
    threads <- if (parallel) max(1L, fwdprop_threads() %/% workers) else fwdprop_threads()
  }
  list(
    parallel = parallel, workers = workers, threads = as.integer(threads),
    # one chunk per worker in flight (a few for plans with unlimited
    # workers, such as job schedulers)
    depth = if (!parallel) 1L else if (is.finite(workers)) as.integer(workers) else 4L
  )
}

# Waits for chunks still being scored after a failure (their results are
# dropped), so that the workers are free for the next call.
score_drain <- function(pending) {
  for (job in pending) {
    if (!is.null(job$future)) try(future::value(job$future), silent = TRUE)
  }
}

# A progress function called once per chunk written: progressr's
# progressor when progressr is installed (silent unless handlers are on).
# `envir`: score()'s frame, which ends the progress when it exits.
score_progress <- function(steps, envir) {
  if (!requireNamespace("progressr", quietly = TRUE)) {
    return(function(job, reader) invisible(NULL))
  }
  p <- progressr::progressor(steps = if (is.na(steps)) 0 else steps, envir = envir)
  function(job, reader) {
    p(message = sprintf("chunk %d: rows %s-%s", job$i, big(job$first), big(job$last)),
      amount = reader$advanced())
  }
}
