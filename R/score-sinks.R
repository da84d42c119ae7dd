# score()'s destinations: NULL (returned), a database table or a CSV file,
# and the writers that put the scores there chunk by chunk.

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

# A writer: prepare(resume, call) (takes the destination's lock; returns
# list(rows = rows already in `to`, complete = whether `to` is finished)),
# write(scores), rows(expected) (the rows `to` holds after a failed write:
# counted where it can be, else `expected`), finish(call) (the returned
# scores, or NULL), columns(), release() (gives the lock back).
score_writer <- function(dest) {
  switch(dest$kind,
    none = writer_none(),
    table = writer_table(dest$con, dest$name, dest$what),
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
    rows = function(expected) expected,
    finish = function(call) {
      res <- do.call(rbind, parts)
      row.names(res) <- NULL
      res
    },
    columns = function() cols,
    release = function() invisible(NULL)
  )
}

# Factors as text, for tables and files.
plain_columns <- function(scores) {
  is_factor <- vapply(scores, is.factor, logical(1L))
  scores[is_factor] <- lapply(scores[is_factor], as.character)
  scores
}

writer_table <- function(con, name, what) {
  exists <- FALSE
  cols <- character(0)
  lock <- NULL
  count <- function() {
    as.numeric(DBI::dbGetQuery(con, paste("SELECT COUNT(*) AS n FROM", DBI::dbQuoteIdentifier(con, name)))$n)
  }
  list(
    prepare = function(resume, call) {
      lock <<- table_lock(con, name, what, call)
      exists <<- DBI::dbExistsTable(con, name)
      if (!exists) return(list(rows = 0))
      if (!resume) {
        fwdprop_error(paste(
          "`to` is a table that already exists: set `resume = TRUE` to continue an interrupted run into it,",
          "or remove it (`DBI::dbRemoveTable()`) to score again."
        ), call = call)
      }
      list(rows = count())
    },
    write = function(scores) {
      lock$check()
      scores <- plain_columns(scores)
      cols <<- names(scores)
      tryCatch({
        if (!exists) {
          DBI::dbCreateTable(con, name, scores)
          exists <<- TRUE
        }
        if (nrow(scores) > 0L) table_append(con, name, scores)
      }, error = function(e) {
        stop(sprintf("the destination could not be written: %s", conditionMessage(e)), call. = FALSE)
      })
    },
    # what the table holds, whatever the driver made of the failed chunk
    rows = function(expected) {
      n <- tryCatch(count(), error = function(e) NA_real_)
      if (length(n) == 1L && !is.na(n)) n else expected
    },
    finish = function(call) NULL,
    columns = function() cols,
    release = function() if (!is.null(lock)) lock$release()
  )
}

# Appends a chunk in one transaction. The error is the database's own: on
# a full disk SQLite rolls back by itself, and the cleanup that follows
# fails in turn, DBI::dbWithTransaction() with "cannot rollback - no
# transaction is active", RSQLite's dbAppendTable() with "no such
# savepoint", which would replace the first error.
table_append <- function(con, name, scores) {
  first <- NULL
  tryCatch(
    withCallingHandlers(table_append_once(con, name, scores),
                        error = function(e) if (is.null(first)) first <<- e),
    error = function(e) {
      cleanup <- grepl("rollback|savepoint|transaction", conditionMessage(e), ignore.case = TRUE)
      stop(if (cleanup && !is.null(first)) first else e)
    }
  )
  invisible()
}

table_append_once <- function(con, name, scores) {
  DBI::dbBegin(con)
  done <- FALSE
  on.exit(if (!done) try(DBI::dbRollback(con), silent = TRUE))
  DBI::dbAppendTable(con, name, scores)
  DBI::dbCommit(con)
  done <- TRUE
  invisible()
}

# The scores go to `<path>.partial`, renamed to `path` when all are
# written. Each chunk is formatted in memory, then appended and checked to
# be whole in the file; a chunk that could not be written whole is cut off
# again, so that the file holds whole chunks only.
writer_csv <- function(path) {
  partial <- paste0(path, ".partial")
  header <- FALSE
  cols <- character(0)
  lock <- NULL
  good <- 0 # bytes of whole chunks in `partial`
  eol <- if (.Platform$OS.type == "windows") "\r\n" else "\n"
  list(
    prepare = function(resume, call) {
      lock <<- csv_lock(path, call)
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
      if (resume && file.exists(partial)) {
        if (file.access(partial, 2L) != 0L) {
          fwdprop_error(sprintf("`to` cannot be written: \"%s\" (permission denied).", partial), call = call)
        }
        drop_partial_line(partial)
      }
      if (resume && file.exists(partial) && file.size(partial) > 0) {
        header <<- TRUE
        good <<- file.size(partial)
        cols <<- csv_header(partial)
        return(list(rows = csv_rows(partial)))
      }
      unlink(partial)
      list(rows = 0)
    },
    write = function(scores) {
      lock$check()
      scores <- plain_columns(scores)
      cols <<- names(scores)
      text <- rawConnection(raw(0), "w")
      utils::write.table(scores, text, sep = ",", dec = ".", qmethod = "double", eol = eol,
                         row.names = FALSE, col.names = !header)
      bytes <- rawConnectionValue(text)
      close(text)
      failed <- csv_append(partial, bytes, append = header)
      if (!is.null(failed)) {
        csv_cut(partial, good)
        stop(sprintf("the destination could not be written: %s", failed), call. = FALSE)
      }
      good <<- good + length(bytes)
      header <<- TRUE
    },
    rows = function(expected) {
      if (identical(file.size(partial), good) || (good == 0 && !file.exists(partial))) {
        return(expected)
      }
      # cutting the failed chunk off failed too: the file's whole rows
      tryCatch({
        drop_partial_line(partial)
        csv_rows(partial)
      }, error = function(e) expected)
    },
    finish = function(call) {
      if (file.exists(path)) return(NULL) # complete before this run
      if (!file.rename(partial, path)) {
        fwdprop_error(sprintf("`to`: could not rename \"%s\" to \"%s\" after writing it.",
                              basename(partial), basename(path)), call = call)
      }
      NULL
    },
    columns = function() cols,
    release = function() if (!is.null(lock)) lock$release()
  )
}

# Appends `bytes` to the file `path` (or writes it anew); NULL when they
# are all in it, else what went wrong. (A full disk can fail the write, or
# only the close, which R reports in close()'s value, or neither.)
csv_append <- function(path, bytes, append) {
  before <- if (append) file.size(path) else 0
  con <- NULL
  failed <- tryCatch(withCallingHandlers({
    con <- file(path, if (append) "ab" else "wb")
    writeBin(bytes, con)
    status <- close(con)
    con <- NULL
    if (length(status) == 1L && !is.na(status) && status != 0L) stop("closing the file failed", call. = FALSE)
    NULL
  }, warning = function(w) stop(conditionMessage(w), call. = FALSE)),
  error = function(e) sub("\\s+$", "", gsub("\\s+", " ", conditionMessage(e))))
  if (!is.null(con)) try(close(con), silent = TRUE)
  if (is.null(failed)) {
    size <- file.size(path)
    if (!identical(size, before + length(bytes))) {
      failed <- sprintf("only %s of the chunk's %s bytes reached the file (is the disk full?)",
                        big(max(0, size - before)), big(length(bytes)))
    }
  }
  failed
}

# Cuts the file `path` back to its first `size` bytes (removes it for 0).
csv_cut <- function(path, size) {
  if (size == 0) {
    unlink(path)
    return(invisible())
  }
  con <- tryCatch(file(path, "r+b"), error = function(e) NULL)
  if (is.null(con)) {
    return(invisible())
  }
  on.exit(close(con))
  try({
    seek(con, size, rw = "write")
    truncate(con)
  }, silent = TRUE)
  invisible()
}

csv_header <- function(path) {
  line <- readLines(path, n = 1L, warn = FALSE)
  if (!length(line)) return(character(0))
  as.character(utils::read.csv(text = line, header = FALSE, colClasses = "character",
                               check.names = FALSE)[1L, ])
}

# Data rows of a CSV file (records, so quoted line breaks count once:
# count.fields() gives NA for each line of a record but its last).
csv_rows <- function(path) {
  n <- sum(!is.na(utils::count.fields(path, sep = ",", quote = "\"", comment.char = "",
                                      blank.lines.skip = TRUE)))
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

# --- locks -------------------------------------------------------------------

# One run at a time writes a destination: a CSV file `to` has a lock beside
# it while a run writes it, the directory `<to>.lock` (made with
# dir.create(), which succeeds for one process only) holding the file
# `owner`; a table has a row in the table `fwdprop_score_locks` of its
# database (inserted under a primary key, which succeeds for one
# connection only). Both record the writing process: its id, its start
# (where the system tells it, so that a reused process id is not taken for
# the run), the machine's name, the time, and a token of this run. A lock
# whose process is gone from this machine is stale and taken over; one
# from another machine cannot be checked, and the error says how to clear
# it. A run checks before each chunk that its lock is still its own.

# The tokens of the locks this session holds (a second run started from
# within the first, e.g. from a progress handler, is refused as another
# process's is).
score_locks <- new.env(parent = emptyenv())

lock_owner_new <- function() {
  pid <- Sys.getpid()
  score_locks$counter <- (if (is.null(score_locks$counter)) 0 else score_locks$counter) + 1
  list(
    pid = as.character(pid),
    host = Sys.info()[["nodename"]],
    started = format(Sys.time(), "%Y-%m-%d %H:%M:%S", tz = "UTC"),
    process_start = process_start(pid),
    token = sprintf("%s-%d-%s-%d", Sys.info()[["nodename"]], pid,
                    format(as.numeric(Sys.time()), digits = 17L, nsmall = 6L), score_locks$counter)
  )
}

# When process `pid` started, in the system's ticks since boot, where the
# system tells it (Linux); NA elsewhere.
process_start <- function(pid) {
  stat <- sprintf("/proc/%s/stat", pid)
  line <- tryCatch(suppressWarnings(readLines(stat, n = 1L, warn = FALSE)), error = function(e) character(0))
  if (length(line) != 1L) {
    return(NA_character_)
  }
  # after the command's name in parentheses: state (field 3), ...,
  # starttime (field 22)
  rest <- strsplit(sub("^.*\\) ", "", line), " ", fixed = TRUE)[[1L]]
  if (length(rest) < 20L) NA_character_ else rest[[20L]]
}

# "alive", "gone", or NA where this system cannot tell.
process_state <- function(pid, start) {
  pid <- suppressWarnings(as.integer(pid))
  if (is.na(pid)) {
    return(NA_character_)
  }
  if (file.exists("/proc/self/stat")) {
    stat <- sprintf("/proc/%d/stat", pid)
    line <- tryCatch(suppressWarnings(readLines(stat, n = 1L, warn = FALSE)), error = function(e) character(0))
    if (length(line) != 1L) {
      return("gone")
    }
    state <- substr(sub("^.*\\) ", "", line), 1L, 1L)
    if (state %in% c("Z", "X")) {
      return("gone") # a zombie: ended, not yet collected by its parent
    }
    if (!is.na(start) && !identical(process_start(pid), start)) {
      return("gone") # the id now belongs to another process
    }
    return("alive")
  }
  if (.Platform$OS.type == "windows") {
    out <- tryCatch(suppressWarnings(system2("tasklist", c("/FI", shQuote(sprintf("PID eq %d", pid)), "/NH", "/FO", "CSV"),
                                             stdout = TRUE, stderr = FALSE)),
                    error = function(e) NULL)
    if (is.null(out) || !length(out)) {
      return(NA_character_)
    }
    return(if (any(grepl(sprintf("\"%d\"", pid), out, fixed = TRUE))) "alive" else "gone")
  }
  if (!nzchar(Sys.which("ps"))) {
    return(NA_character_)
  }
  status <- tryCatch(suppressWarnings(system2("ps", c("-p", pid), stdout = FALSE, stderr = FALSE)),
                     error = function(e) NA_integer_)
  if (identical(as.integer(status), 0L)) "alive" else if (identical(as.integer(status), 1L)) "gone" else NA_character_
}

# What a lock's owner record means for this session: "held" (by a live
# run), "stale" (its process is gone), or "unknown" (it cannot be told
# from here: another machine, or no record).
lock_verdict <- function(owner) {
  if (is.null(owner) || is.null(owner$host) || is.null(owner$pid) || is.na(owner$pid)) {
    return("unknown")
  }
  if (!identical(owner$host, Sys.info()[["nodename"]])) {
    return("unknown")
  }
  if (identical(owner$pid, as.character(Sys.getpid()))) {
    # this process: a run of this session is writing, or one left its lock
    return(if (!is.null(owner$token) && exists(owner$token, envir = score_locks, inherits = FALSE)) "held" else "stale")
  }
  state <- process_state(owner$pid, if (is.null(owner$process_start)) NA_character_ else owner$process_start)
  if (is.na(state)) "unknown" else if (state == "alive") "held" else "stale"
}

# The error of a destination locked by another run.
lock_refused <- function(what, owner, verdict, clear, call) {
  who <- function() {
    if (is.null(owner)) {
      return("")
    }
    proc <- if (identical(owner$pid, as.character(Sys.getpid())) &&
                identical(owner$host, Sys.info()[["nodename"]])) {
      "this R session"
    } else if (identical(owner$host, Sys.info()[["nodename"]])) {
      sprintf("process %s on this machine", owner$pid)
    } else {
      sprintf("process %s on host \"%s\"", owner$pid, owner$host)
    }
    sprintf(" (%s, since %s UTC)", proc, if (is.null(owner$started)) "?" else owner$started)
  }
  msg <- if (verdict == "held") {
    sprintf(paste(
      "`to` (%s) is being written by another score() run%s: wait for it to finish, then run again",
      "(with `resume = TRUE` to go on from where it stopped). If no score() run is writing it, clear its lock with %s."
    ), what, who(), clear)
  } else if (is.null(owner)) {
    sprintf(paste(
      "`to` (%s) is locked by a score() run that did not record itself. If no score() run is writing it,",
      "clear the lock with %s, then run again."
    ), what, clear)
  } else {
    sprintf(paste(
      "`to` (%s) is locked by a score() run%s, which this session cannot check. If that run has ended",
      "(or was killed), clear its lock with %s, then run again (with `resume = TRUE` to go on from where it stopped)."
    ), what, who(), clear)
  }
  fwdprop_error(msg, call = call)
}

lock_handle <- function(owner, check, release) {
  assign(owner$token, TRUE, envir = score_locks)
  released <- FALSE
  list(
    check = check,
    release = function() {
      if (!released) {
        released <<- TRUE
        if (exists(owner$token, envir = score_locks, inherits = FALSE)) rm(list = owner$token, envir = score_locks)
        release()
      }
      invisible()
    }
  )
}

lock_lost <- function(where) {
  stop(sprintf(paste(
    "the lock %s, which keeps other runs from writing `to`, is gone or belongs to another run now",
    "(removed by hand, or taken over): stopped so that no row is written twice"
  ), where), call. = FALSE)
}

# CSV files: the lock directory `<path>.lock`.

csv_lock <- function(path, call) {
  dir <- paste0(path, ".lock")
  me <- lock_owner_new()
  clear <- sprintf("`unlink(\"%s\", recursive = TRUE)`", dir)
  what <- sprintf("\"%s\"", path)
  owner <- NULL
  verdict <- "unknown"
  for (attempt in 1:100) {
    reason <- NULL
    made <- withCallingHandlers(dir.create(dir), warning = function(w) {
      reason <<- conditionMessage(w)
      invokeRestart("muffleWarning")
    })
    if (made) {
      if (!lock_file_write(dir, me)) {
        unlink(dir, recursive = TRUE)
        fwdprop_error(sprintf("`to` cannot be written: \"%s\" (its lock \"%s\" could not be written).",
                              path, basename(dir)), call = call)
      }
      return(lock_handle(
        me,
        check = function() if (!identical(lock_file_read(dir)$token, me$token)) lock_lost(sprintf("\"%s\"", dir)),
        release = function() if (identical(lock_file_read(dir)$token, me$token)) unlink(dir, recursive = TRUE)
      ))
    }
    if (!dir.exists(dir)) {
      # not made, and not there: the directory cannot be written
      why <- if (!is.null(reason) && grepl("reason '", reason, fixed = TRUE)) {
        sub("^.*reason '(.*)'.*$", "\\1", reason)
      } else if (file.exists(dir)) {
        sprintf("\"%s\" is in the way", basename(dir))
      } else {
        "permission denied"
      }
      fwdprop_error(sprintf("`to` cannot be written: \"%s\" (%s: its lock \"%s\" could not be made beside it).",
                            path, why, basename(dir)), call = call)
    }
    owner <- lock_file_read(dir)
    if (is.null(owner)) {
      # being made by another run this moment, or left without a record
      age <- as.numeric(difftime(Sys.time(), file.mtime(dir), units = "secs"))
      if (is.na(age) || age < 5) {
        Sys.sleep(0.05)
        next
      }
      verdict <- "unknown"
      break
    }
    verdict <- lock_verdict(owner)
    if (verdict != "stale") break
    lock_dir_take_over(dir, owner, me)
  }
  lock_refused(what, owner, verdict, clear, call)
}

# Writes the owner record into a new lock directory (as a whole: written
# beside it, then renamed).
lock_file_write <- function(dir, owner) {
  tmp <- file.path(dir, "owner.tmp")
  ok <- tryCatch({
    write.dcf(as.data.frame(owner[!vapply(owner, is.na, TRUE)], stringsAsFactors = FALSE), tmp, width = 10000L)
    file.rename(tmp, file.path(dir, "owner"))
  }, error = function(e) FALSE, warning = function(w) FALSE)
  isTRUE(ok)
}

lock_file_read <- function(dir) {
  rec <- tryCatch(suppressWarnings(read.dcf(file.path(dir, "owner"))), error = function(e) NULL)
  if (is.null(rec) || nrow(rec) != 1L) {
    return(NULL)
  }
  as.list(rec[1L, ])
}

# Moves a stale lock directory aside, then removes it if it is the one
# that was found stale (another run may have replaced it in between: then
# it is put back).
lock_dir_take_over <- function(dir, owner, me) {
  aside <- paste0(dir, ".stale-", gsub("[^A-Za-z0-9]", "", me$token))
  if (!suppressWarnings(file.rename(dir, aside))) {
    return(invisible(FALSE))
  }
  if (identical(lock_file_read(aside)$token, owner$token)) {
    unlink(aside, recursive = TRUE)
    return(invisible(TRUE))
  }
  suppressWarnings(file.rename(aside, dir))
  invisible(FALSE)
}

# Tables: a row in `fwdprop_score_locks` on the table's database, keyed by
# the table's quoted name. The table of locks is made when needed and
# removed when its last lock is.

lock_table_name <- "fwdprop_score_locks"

table_lock <- function(con, name, what, call) {
  key <- paste(as.character(DBI::dbQuoteIdentifier(con, name)), collapse = ".")
  locks <- DBI::dbQuoteIdentifier(con, lock_table_name)
  where <- sprintf("target = %s", DBI::dbQuoteString(con, key))
  clear <- sprintf("DELETE FROM %s WHERE %s (e.g. with DBI::dbExecute() on that database)", lock_table_name, where)
  me <- lock_owner_new()
  row <- as.data.frame(c(list(target = key), me[c("pid", "host", "started", "process_start", "token")]),
                       stringsAsFactors = FALSE)
  row$pid <- as.integer(row$pid)
  read_owner <- function() {
    d <- DBI::dbGetQuery(con, sprintf("SELECT * FROM %s WHERE %s", locks, where))
    if (nrow(d) == 0L) return(NULL)
    o <- lapply(as.list(d[1L, , drop = FALSE]), function(v) if (is.na(v)) NULL else as.character(v))
    o[!vapply(o, is.null, TRUE)]
  }
  cannot <- function(e) {
    fwdprop_error(sprintf("`to` (%s) cannot be written: %s", what, sub("[.]?\\s*$", ".", conditionMessage(e))),
                  call = call)
  }
  owner <- NULL
  verdict <- "unknown"
  failure <- NULL
  for (attempt in 1:20) {
    made <- tryCatch({
      if (!DBI::dbExistsTable(con, lock_table_name)) {
        tryCatch(DBI::dbExecute(con, sprintf(paste(
          "CREATE TABLE %s (target VARCHAR(255) NOT NULL PRIMARY KEY, pid INTEGER, host VARCHAR(255),",
          "started VARCHAR(32), process_start VARCHAR(32), token VARCHAR(255))"
        ), locks)), error = function(e) {
          # made by another run this moment, or this database cannot be
          # written
          if (!DBI::dbExistsTable(con, lock_table_name)) cannot(e)
        })
      }
      DBI::dbAppendTable(con, lock_table_name, row)
      TRUE
    }, error = function(e) if (inherits(e, "fwdprop_error")) stop(e) else e)
    if (isTRUE(made)) {
      return(lock_handle(
        me,
        check = function() {
          o <- tryCatch(read_owner(), error = function(e) list(token = me$token)) # (the write will tell)
          if (!identical(o$token, me$token)) lock_lost(sprintf("of table %s (a row of %s)", key, lock_table_name))
        },
        release = function() {
          try(DBI::dbExecute(con, sprintf("DELETE FROM %s WHERE %s AND token = %s", locks, where,
                                          DBI::dbQuoteString(con, me$token))), silent = TRUE)
          try(DBI::dbWithTransaction(con, {
            n <- DBI::dbGetQuery(con, sprintf("SELECT COUNT(*) AS n FROM %s", locks))$n
            if (n == 0) DBI::dbRemoveTable(con, lock_table_name)
          }), silent = TRUE)
        }
      ))
    }
    owner <- tryCatch(read_owner(), error = function(e) NULL)
    if (is.null(owner)) {
      # the row could not be inserted, and no other run holds it: the
      # table of locks was removed in between, or the database is busy or
      # cannot be written
      failure <- made
      Sys.sleep(0.05)
      next
    }
    verdict <- lock_verdict(owner)
    if (verdict != "stale") break
    try(DBI::dbExecute(con, sprintf("DELETE FROM %s WHERE %s AND token = %s", locks, where,
                                    DBI::dbQuoteString(con, owner$token))), silent = TRUE)
  }
  if (is.null(owner) && !is.null(failure)) cannot(failure)
  lock_refused(what, owner, verdict, clear, call)
}
