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
