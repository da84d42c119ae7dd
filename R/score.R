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
#'   [utils::write.csv()] writes it; gzip-compressed files are read too),
#'   read with [utils::read.csv()] conventions: only the input and `keep`
#'   columns are read, inputs as numbers; `keep` columns take the types the
#'   first chunk shows.
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
#'
#' @section Failures and resuming:
#' A chunk that cannot be read, scored or written (values that are not
#' numbers, a dropped connection, a worker that died) stops the run with
#' an error of class `fwdprop_error` that names the chunk and its source
#' rows (fields `chunk`, `rows` and the original condition `parent`).
#'
#' Chunks are written whole and in source order, so after a failure `to`
#' holds exactly the first rows of the source. `resume = TRUE` counts the
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
  if (...length() > 0L) {
    dots <- names(list(...))
    bad <- if (is.null(dots) || !nzchar(dots[[1L]])) "`..1` (unnamed)" else sprintf("`%s`", dots[[1L]])
    fwdprop_error(sprintf(
      "score() takes `net`, `source`, `to`, `query`, `chunk_rows`, `keep`, `type`, `resume` and `threads`; %s is not one of them.",
      bad
    ), call = call)
  }
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
  columns <- c(keep, score_output_names(net, type))
  if (anyDuplicated(columns)) {
    fwdprop_error(sprintf(
      "`keep` names a column the scores already have: %s (the predictions are %s).",
      paste0("`", intersect(keep, score_output_names(net, type)), "`", collapse = ", "),
      paste0("`", score_output_names(net, type), "`", collapse = ", ")
    ), call = call)
  }
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
  writer <- score_writer(dest)
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
      error = function(e) score_chunk_error("writing", job, e, dest, skipped + state$rows, call)
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
    job$stage <- "scoring"
    if (plan$parallel) {
      job$future <- tryCatch(
        future::future(
          utils::getFromNamespace("score_chunk", "fwdprop")(net, chunk, keep, type, input_cols, threads),
          globals = list(net = slim, chunk = chunk, keep = keep, type = type,
                         input_cols = input_cols, threads = plan$threads),
          packages = "fwdprop", seed = FALSE, label = sprintf("fwdprop score chunk %d", i)
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
  if (dest$kind != "none") {
    msg <- paste0(msg, if (written > 0) {
      sprintf(" `to` holds rows 1-%s; run again with `resume = TRUE` to go on from row %s.",
              big(written), big(written + 1))
    } else {
      " Nothing was written to `to`."
    })
  }
  fwdprop_error(msg, call = call, chunk = job$i,
                rows = c(job$first, job$last), parent = e)
}

big <- function(x) format(x, big.mark = ",", scientific = FALSE, trim = TRUE)

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

# --- sources -----------------------------------------------------------------

score_source <- function(source, query, call) {
  if (is.matrix(source) || is.data.frame(source)) {
    if (!is.null(query)) {
      fwdprop_error(sprintf(
        "`query` is for a database connection `source`; `source` is %s.", describe_object(source)
      ), call = call)
    }
    return(list(kind = "memory", data = source,
                what = sprintf("%s (%s rows)", describe_object(source), big(nrow(source)))))
  }
  if (inherits(source, "DBIConnection")) {
    if (!DBI::dbIsValid(source)) {
      fwdprop_error("`source` is a closed database connection.", call = call)
    }
    if (is.null(query)) {
      fwdprop_error("`query` is missing: with a connection `source`, give the SQL query for the rows, such as \"SELECT * FROM customers\".",
                    call = call)
    }
    if (!is.character(query) || length(query) != 1L || is.na(query) || !nzchar(trimws(query))) {
      fwdprop_error(sprintf("`query` must be one SQL query (a string), not %s.", describe_value(query)),
                    call = call)
    }
    return(list(kind = "db", con = source, query = sub(";\\s*$", "", trimws(query)),
                what = sprintf("query on a %s", class(source)[[1L]])))
  }
  if (inherits(source, "DBIResult")) {
    if (!is.null(query)) {
      fwdprop_error("`query` is not used with a DBI result `source` (the result is the query's).", call = call)
    }
    if (!DBI::dbIsValid(source)) {
      fwdprop_error("`source` is a DBI result that was cleared.", call = call)
    }
    return(list(kind = "result", res = source, con = result_connection(source),
                what = sprintf("a %s", class(source)[[1L]])))
  }
  if (is.character(source) && length(source) == 1L && !is.na(source) && is.null(dim(source))) {
    if (!is.null(query)) {
      fwdprop_error("`query` is for a database connection `source`; `source` is a file path.", call = call)
    }
    if (!file.exists(source) || dir.exists(source)) {
      fwdprop_error(sprintf(
        "`source` must be a CSV file, but \"%s\" %s.", source,
        if (dir.exists(source)) "is a directory" else "does not exist"
      ), call = call)
    }
    return(list(kind = "csv", path = normalizePath(source),
                what = sprintf("CSV file %s", basename(source))))
  }
  fwdprop_error(sprintf(
    "`source` must be a matrix, a data frame, a DBI connection (with `query`), a DBI result or the path of a CSV file, not %s.",
    describe_value(source)
  ), call = call)
}

# The connection of a DBI result, where the driver shows it (RSQLite,
# RPostgres, duckdb: slot `conn`; odbc: `connection`).
result_connection <- function(res) {
  for (slot in c("conn", "connection")) {
    if (isS4(res) && methods::.hasSlot(res, slot)) {
      con <- methods::slot(res, slot)
      if (inherits(con, "DBIConnection")) return(con)
    }
  }
  NULL
}

# Whether two connections reach the same database: the same connection, or
# two RSQLite connections to the same file (SQLite lets a writer commit
# only when no reader is open).
same_database <- function(a, b) {
  if (is.null(a) || is.null(b)) {
    return(FALSE)
  }
  if (identical(a, b)) {
    return(TRUE)
  }
  if (inherits(a, "SQLiteConnection") && inherits(b, "SQLiteConnection")) {
    path <- function(con) {
      p <- tryCatch(DBI::dbGetInfo(con)$dbname, error = function(e) "")
      if (!is.character(p) || length(p) != 1L || !nzchar(p) || p == ":memory:") NA_character_ else
        normalizePath(p, mustWork = FALSE)
    }
    pa <- path(a)
    return(!is.na(pa) && identical(pa, path(b)))
  }
  FALSE
}

# A reader hands out chunks: read() (NULL at the end), skip(n) (returns the
# rows skipped), template() (the source's columns, no rows; after read()
# returned NULL), advanced() (progress since the last call), close(), and
# steps() (the progress total from here, NA when not known).
score_reader <- function(src, chunk_rows, paging) {
  switch(src$kind,
    memory = reader_memory(src$data, chunk_rows),
    db = if (paging) reader_db_pages(src$con, src$query, chunk_rows) else
      reader_db_stream(src$con, src$query, NULL, chunk_rows),
    result = reader_db_stream(NULL, NULL, src$res, chunk_rows),
    csv = reader_csv(src$path, chunk_rows)
  )
}

reader_memory <- function(data, chunk_rows) {
  n <- nrow(data)
  pos <- 0
  list(
    read = function() {
      if (pos >= n) return(NULL)
      rows <- seq.int(pos + 1, min(n, pos + chunk_rows))
      pos <<- pos + length(rows)
      data[rows, , drop = FALSE]
    },
    skip = function(k) {
      k <- min(k, n - pos)
      pos <<- pos + k
      k
    },
    template = function() data[0L, , drop = FALSE],
    advanced = function() 1,
    close = function() invisible(NULL),
    steps = function() ceiling((n - pos) / chunk_rows)
  )
}

# Reading rows with warnings made errors: a value that does not fit its
# column (RSQLite turns text in a number column into 0 with a warning,
# read.csv() a too large integer into NA) must not be scored as if it did.
strict <- function(expr) {
  withCallingHandlers(expr, warning = function(w) stop(conditionMessage(w), call. = FALSE))
}

# dbSendQuery() once, then dbFetch() chunk by chunk (or the rows of a
# result the caller sent).
reader_db_stream <- function(con, query, res, chunk_rows) {
  own <- is.null(res)
  done <- FALSE
  tmpl <- NULL
  fetch <- function(n) {
    if (is.null(res)) res <<- DBI::dbSendQuery(con, query)
    d <- strict(DBI::dbFetch(res, n = n))
    if (is.null(tmpl)) tmpl <<- d[0L, , drop = FALSE]
    if (nrow(d) == 0L || DBI::dbHasCompleted(res)) done <<- TRUE
    d
  }
  list(
    read = function() {
      if (done) return(NULL)
      d <- fetch(chunk_rows)
      if (nrow(d) == 0L) NULL else d
    },
    skip = function(k) {
      skipped <- 0
      while (skipped < k && !done) {
        skipped <- skipped + nrow(fetch(min(chunk_rows, k - skipped)))
      }
      skipped
    },
    template = function() tmpl,
    advanced = function() 1,
    close = function() {
      if (own && !is.null(res)) try(DBI::dbClearResult(res), silent = TRUE)
      invisible(NULL)
    },
    steps = function() NA_real_
  )
}

# The query page by page (LIMIT/OFFSET), each page's result complete before
# anything is written on the connection.
reader_db_pages <- function(con, query, chunk_rows) {
  offset <- 0
  done <- FALSE
  tmpl <- NULL
  page <- function(n) {
    d <- strict(DBI::dbGetQuery(con, sprintf("SELECT * FROM (%s) AS fwdprop_page LIMIT %s OFFSET %s",
                                             query, format(n, scientific = FALSE),
                                             format(offset, scientific = FALSE))))
    if (is.null(tmpl)) tmpl <<- d[0L, , drop = FALSE]
    if (nrow(d) < n) done <<- TRUE
    offset <<- offset + nrow(d)
    d
  }
  list(
    read = function() {
      if (done) return(NULL)
      d <- page(chunk_rows)
      if (nrow(d) == 0L) NULL else d
    },
    skip = function(k) {
      n <- DBI::dbGetQuery(con, sprintf(
        "SELECT COUNT(*) AS n FROM (SELECT * FROM (%s) AS fwdprop_page LIMIT %s) AS fwdprop_count",
        query, format(k, scientific = FALSE)
      ))$n
      offset <<- as.numeric(n)
      as.numeric(n)
    },
    template = function() tmpl,
    advanced = function() 1,
    close = function() invisible(NULL),
    steps = function() NA_real_
  )
}

# A CSV file with a header, read.csv() chunk by chunk from one open
# connection: the input columns as numbers, `keep` columns as the first
# chunk shows them, other columns skipped (when the network picks its
# inputs by name).
reader_csv <- function(path, chunk_rows) {
  con <- file(path, "r")
  header <- readLines(con, n = 1L, warn = FALSE)
  if (length(header) == 0L) {
    close(con)
    stop("the file is empty (no header line)", call. = FALSE)
  }
  cols <- as.character(utils::read.csv(text = header, header = FALSE, colClasses = "character",
                                       check.names = FALSE)[1L, ])
  classes <- NULL # set by set_columns()
  as_text <- character(0) # numeric columns read as text (quoted numbers)
  keep_cols <- character(0)
  size <- file.size(path)
  gz <- identical(readBin(path, "raw", 2L), as.raw(c(0x1f, 0x8b)))
  position <- function() if (gz) NA_real_ else tryCatch(as.numeric(seek(con)), error = function(e) NA_real_)
  last_pos <- 0
  opened <- TRUE
  tmpl <- NULL
  read_rows <- function(n, cc) {
    line <- readLines(con, n = 1L, warn = FALSE)
    if (length(line) == 0L) return(NULL)
    pushBack(line, con)
    d <- strict(utils::read.csv(con, header = FALSE, nrows = n, col.names = cols, colClasses = cc,
                                check.names = FALSE, stringsAsFactors = FALSE, comment.char = "",
                                na.strings = c("NA", "")))
    for (col in intersect(as_text, names(d))) d[[col]] <- strict(as.numeric(d[[col]]))
    d
  }
  self <- list(
    columns = cols,
    # `wanted`: the columns to read (NULL: all); `numeric`: read as numbers
    # (quoted numbers, as some tools write every field, are read as text
    # and converted: about ten times slower, so only when the first row
    # shows them)
    set_columns = function(wanted, numeric, keep) {
      keep_cols <<- keep
      cc <- rep(NA_character_, length(cols))
      if (!is.null(wanted)) cc[!(cols %in% wanted)] <- "NULL"
      cc[cols %in% numeric] <- "numeric"
      line <- readLines(con, n = 1L, warn = FALSE)
      if (length(line)) {
        pushBack(line, con)
        plain <- tryCatch({
          suppressWarnings(utils::read.csv(text = line, header = FALSE, col.names = cols, colClasses = cc,
                                           check.names = FALSE, comment.char = "", na.strings = c("NA", "")))
          TRUE
        }, error = function(e) FALSE)
        if (!plain) {
          as_text <<- cols[cc %in% "numeric"]
          cc[cc %in% "numeric"] <- "character"
        }
      }
      classes <<- cc
    },
    read = function() {
      if (!opened) return(NULL)
      d <- read_rows(chunk_rows, classes)
      if (is.null(d) || nrow(d) == 0L) {
        if (is.null(tmpl)) {
          read_cols <- cols[is.na(classes) | classes != "NULL"]
          tmpl <<- as.data.frame(
            stats::setNames(lapply(read_cols, function(cl) {
              if (cl %in% as_text || identical(classes[match(cl, cols)], "numeric")) numeric(0) else character(0)
            }), read_cols),
            check.names = FALSE, stringsAsFactors = FALSE
          )
        }
        return(NULL)
      }
      if (anyNA(classes)) {
        # later chunks are read with the types of the first
        seen <- vapply(d, function(v) class(v)[[1L]], character(1L))
        idx <- which(is.na(classes))
        fixed <- seen[cols[idx]]
        # a predictor whole in the first chunk may have decimals later
        fixed[fixed == "integer" & !(cols[idx] %in% keep_cols)] <- "numeric"
        classes[idx] <<- ifelse(fixed == "logical", NA_character_, fixed)
      }
      d
    },
    skip = function(k) {
      skipped <- 0
      cc <- c("character", rep("NULL", length(cols) - 1L))
      while (skipped < k) {
        d <- read_rows(min(chunk_rows, k - skipped), cc)
        if (is.null(d) || nrow(d) == 0L) break
        skipped <- skipped + nrow(d)
      }
      last_pos <<- if (is.na(position())) 0 else position()
      skipped
    },
    template = function() tmpl,
    advanced = function() {
      pos <- position()
      if (is.na(pos)) return(0)
      step <- pos - last_pos
      last_pos <<- pos
      step
    },
    close = function() {
      if (opened) close(con)
      opened <<- FALSE
      invisible(NULL)
    },
    steps = function() if (gz) NA_real_ else max(0, size - last_pos)
  )
  self
}

# Which columns of a CSV file to read, and which as numbers: the
# network's input names (as numbers) or its formula's variables, and
# `keep`; every column for a network without input names (all but `keep`
# as numbers).
csv_select <- function(reader, net, keep, call) {
  cols <- reader$columns
  lacking <- setdiff(keep, cols)
  if (length(lacking)) {
    fwdprop_error(sprintf(
      "`keep` names column%s `source` lacks: %s (it has %s).",
      if (length(lacking) > 1L) "s" else "", paste0("`", lacking, "`", collapse = ", "),
      paste0("`", utils::head(cols, 10L), "`", collapse = ", ")
    ), call = call)
  }
  tt <- net[["terms"]]
  nm <- input_names(net)
  if (!is.null(tt)) {
    reader$set_columns(c(all.vars(stats::delete.response(tt$terms)), keep), character(0), keep)
  } else if (!is.null(nm)) {
    reader$set_columns(c(nm, keep), nm, keep)
  } else {
    reader$set_columns(NULL, setdiff(cols, keep), keep)
  }
}

# --- destinations ------------------------------------------------------------

score_destination <- function(to, src, call) {
  if (is.null(to)) {
    return(list(kind = "none", what = "returned as a data frame"))
  }
  src_con <- src[["con"]]
  if (is.character(to) && length(to) == 1L && !is.na(to) && nzchar(to) && is.null(dim(to))) {
    if (grepl("\\.csv$", to, ignore.case = TRUE)) {
      dir <- dirname(to)
      if (!dir.exists(dir)) {
        fwdprop_error(sprintf("`to` is a CSV path in a directory that does not exist (\"%s\").", dir),
                      call = call)
      }
      path <- file.path(normalizePath(dir), basename(to))
      if (src$kind == "csv" && identical(path, src$path)) {
        fwdprop_error("`to` is the CSV file `source` reads: write the scores to another file.", call = call)
      }
      return(list(kind = "csv", path = path, what = sprintf("CSV file %s", basename(to))))
    }
    if (is.null(src_con)) {
      fwdprop_error(sprintf(paste(
        "`to = \"%s\"` names a table, which needs a database, but `source` is %s.",
        "Write to a CSV file (a path ending in `.csv`), or give the connection as `to = list(con, \"%s\")`."
      ), to, if (src$kind == "result") "a DBI result whose connection is not known" else src$what, to),
      call = call)
    }
    return(score_table_destination(src_con, to, src, call))
  }
  if (is.list(to) && !is.object(to) && length(to) == 2L && inherits(to[[1L]], "DBIConnection")) {
    name <- to[[2L]]
    ok <- (is.character(name) && length(name) == 1L && !is.na(name) && nzchar(name)) ||
      inherits(name, "Id") || inherits(name, "SQL")
    if (!ok) {
      fwdprop_error(sprintf(
        "`to[[2]]` must be a table name (a string or a `DBI::Id()`), not %s.", describe_value(name)
      ), call = call)
    }
    if (!DBI::dbIsValid(to[[1L]])) {
      fwdprop_error("`to[[1]]` is a closed database connection.", call = call)
    }
    return(score_table_destination(to[[1L]], name, src, call))
  }
  fwdprop_error(sprintf(paste(
    "`to` must be NULL, the path of a CSV file (ending in `.csv`), a table name on `source`'s",
    "connection, or `list(con, \"table\")` for a table on another connection; not %s."
  ), describe_value(to)), call = call)
}

score_table_destination <- function(con, name, src, call) {
  same <- same_database(src[["con"]], con)
  if (same && src$kind == "result") {
    fwdprop_error(paste(
      "`to` is on the database the DBI result `source` is read from, and writing there would close the result.",
      "Give the connection and `query` as the source (score() then reads the query page by page), or write to another database."
    ), call = call)
  }
  label <- if (is.character(name)) sprintf("table \"%s\"", name) else
    sprintf("table %s", paste(format(name), collapse = "."))
  list(kind = "table", con = con, name = name, same_database = same,
       what = sprintf("%s on a %s", label, class(con)[[1L]]))
}

# A writer: prepare(resume, call) (returns list(rows = rows already in
# `to`, complete = whether `to` is finished)), write(scores), finish(call)
# (the returned scores, or NULL), columns().
score_writer <- function(dest) {
  switch(dest$kind,
    none = writer_none(),
    table = writer_table(dest$con, dest$name),
    csv = writer_csv(dest$path)
  )
}

writer_none <- function() {
  parts <- list()
  cols <- character(0)
  list(
    prepare = function(resume, call) list(rows = 0),
    write = function(scores) {
      cols <<- names(scores)
      parts[[length(parts) + 1L]] <<- scores
    },
    finish = function(call) {
      res <- do.call(rbind, parts)
      row.names(res) <- NULL
      res
    },
    columns = function() cols
  )
}

# Factors as text, for tables and files.
plain_columns <- function(scores) {
  is_factor <- vapply(scores, is.factor, logical(1L))
  scores[is_factor] <- lapply(scores[is_factor], as.character)
  scores
}

writer_table <- function(con, name) {
  exists <- FALSE
  cols <- character(0)
  list(
    prepare = function(resume, call) {
      exists <<- DBI::dbExistsTable(con, name)
      if (!exists) return(list(rows = 0))
      if (!resume) {
        fwdprop_error(paste(
          "`to` is a table that already exists: set `resume = TRUE` to continue an interrupted run into it,",
          "or remove it (`DBI::dbRemoveTable()`) to score again."
        ), call = call)
      }
      n <- DBI::dbGetQuery(con, paste("SELECT COUNT(*) AS n FROM", DBI::dbQuoteIdentifier(con, name)))$n
      list(rows = as.numeric(n))
    },
    write = function(scores) {
      scores <- plain_columns(scores)
      cols <<- names(scores)
      if (!exists) {
        DBI::dbCreateTable(con, name, scores)
        exists <<- TRUE
      }
      if (nrow(scores) > 0L) {
        DBI::dbWithTransaction(con, DBI::dbAppendTable(con, name, scores))
      }
    },
    finish = function(call) NULL,
    columns = function() cols
  )
}

# The scores go to `<path>.partial`, renamed to `path` when all are
# written.
writer_csv <- function(path) {
  partial <- paste0(path, ".partial")
  header <- FALSE
  cols <- character(0)
  list(
    prepare = function(resume, call) {
      if (file.exists(path)) {
        if (!resume) {
          fwdprop_error(sprintf(paste(
            "`to` is a CSV file that already exists (\"%s\"): set `resume = TRUE` to continue an",
            "interrupted run into it (a finished file means nothing is left to do), or remove it to score again."
          ), basename(path)), call = call)
        }
        n <- csv_rows(path)
        cols <<- csv_header(path)
        return(list(rows = n, complete = TRUE))
      }
      if (resume && file.exists(partial)) drop_partial_line(partial)
      if (resume && file.exists(partial) && file.size(partial) > 0) {
        header <<- TRUE
        cols <<- csv_header(partial)
        return(list(rows = csv_rows(partial)))
      }
      unlink(partial)
      list(rows = 0)
    },
    write = function(scores) {
      scores <- plain_columns(scores)
      cols <<- names(scores)
      con <- file(partial, if (header) "a" else "w")
      on.exit(close(con))
      utils::write.table(scores, con, sep = ",", dec = ".", qmethod = "double",
                         row.names = FALSE, col.names = !header)
      header <<- TRUE
    },
    finish = function(call) {
      if (file.exists(path)) return(NULL) # complete before this run
      if (!file.rename(partial, path)) {
        fwdprop_error(sprintf("`to`: could not rename \"%s\" to \"%s\" after writing it.",
                              basename(partial), basename(path)), call = call)
      }
      NULL
    },
    columns = function() cols
  )
}

csv_header <- function(path) {
  line <- readLines(path, n = 1L, warn = FALSE)
  if (!length(line)) return(character(0))
  as.character(utils::read.csv(text = line, header = FALSE, colClasses = "character",
                               check.names = FALSE)[1L, ])
}

# Data rows of a CSV file (records, so quoted line breaks count once).
csv_rows <- function(path) {
  n <- length(utils::count.fields(path, sep = ",", quote = "\"", comment.char = "",
                                  blank.lines.skip = TRUE))
  max(0, n - 1)
}

# Cuts a last line that was not finished (no line end) from a partly
# written CSV file, so that it holds whole rows only.
drop_partial_line <- function(path) {
  size <- file.size(path)
  if (size == 0) return(invisible())
  con <- file(path, "rb")
  seek(con, size - 1)
  if (identical(readBin(con, "raw", 1L), as.raw(0x0a))) {
    close(con)
    return(invisible())
  }
  # the last line end
  end <- 0
  block <- 65536
  pos <- size
  while (pos > 0 && end == 0) {
    from <- max(0, pos - block)
    seek(con, from)
    nl <- which(readBin(con, "raw", pos - from) == as.raw(0x0a))
    if (length(nl)) end <- from + max(nl)
    pos <- from
  }
  close(con)
  # (a connection that has read truncates where it read to: a fresh one)
  con <- file(path, "r+b")
  on.exit(close(con))
  seek(con, end, rw = "write")
  truncate(con)
  invisible()
}
