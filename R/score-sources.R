# score()'s sources: what a matrix, data frame, DBI connection or result, or
# CSV file is, and the readers that hand out its rows chunk by chunk.

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
