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

# A CSV file with a header, read chunk by chunk: the input columns as
# numbers, `keep` columns as the first chunk shows them, other columns
# skipped (when the network picks its inputs by name). The file is read as
# bytes, cut into chunks of whole rows (csv_bytes()), and each chunk parsed
# with read.csv() from its text, so that a row with the wrong number of
# fields is an error naming its line in the file: read.csv() alone fills a
# short row with NAs and wraps the fields of a long one into an invented
# row.
reader_csv <- function(path, chunk_rows) {
  magic <- readBin(path, "raw", 6L)
  compressed <- identical(magic[1:2], as.raw(c(0x1f, 0x8b))) || # gzip
    identical(magic[1:3], charToRaw("BZh")) ||
    identical(magic[1:6], as.raw(c(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00))) # xz
  con <- if (compressed) gzfile(path, "rb") else file(path, "rb")
  bytes <- csv_bytes(con, seekable = !compressed)
  header <- bytes$header()
  if (is.null(header)) {
    close(con)
    stop("the file is empty (no header line)", call. = FALSE)
  }
  cols <- as.character(utils::read.csv(text = header, header = FALSE, colClasses = "character",
                                       check.names = FALSE)[1L, ])
  file_name <- basename(path)
  lines_read <- 1 # lines of the file handed out so far: the header
  classes <- NULL # set by set_columns()
  as_text <- character(0) # numeric columns read as text (quoted numbers)
  keep_cols <- character(0)
  size <- file.size(path)
  position <- function() if (compressed) NA_real_ else bytes$consumed()
  last_pos <- 0
  opened <- TRUE
  tmpl <- NULL
  # the next `n` rows (NULL at the end of the file)
  take <- function(n) {
    chunk <- bytes$take(n, lines_read + 1, file_name)
    if (!is.null(chunk)) lines_read <<- lines_read + chunk$lines
    chunk
  }
  read_rows <- function(n, cc) {
    chunk <- take(n)
    if (is.null(chunk)) return(NULL)
    d <- csv_parse(chunk, cols, cc, file_name)
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
      line <- bytes$peek()
      if (length(line)) {
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
      # rows already scored are counted, not parsed
      skipped <- 0
      while (skipped < k) {
        chunk <- take(min(chunk_rows, k - skipped))
        if (is.null(chunk)) break
        skipped <- skipped + chunk$rows
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
    steps = function() if (compressed) NA_real_ else max(0, size - last_pos)
  )
  self
}

# A CSV file's bytes from binary connection `con`, read block by block and
# handed out as whole rows: header() (the first line, NULL for an empty
# file), peek() (the next line, not handed out), take(n, first, file_name)
# (the next n rows, or fewer at the end of the file, NULL there: see
# below), consumed() (bytes handed out). Lines end in LF or CRLF (or CR
# alone, in files with no LF). A row ends at a line end outside quotes:
# read.csv() takes every `"` as opening or closing a quoted field, wherever
# it is, so that is after an even number of them. Blank lines between rows
# are no rows (read.csv() skips them). Each read is sized to hold the next
# chunk; from a `seekable` (uncompressed) file the bytes read past a chunk
# are read again with the next one rather than kept and copied.
csv_bytes <- function(con, seekable) {
  lf <- as.raw(10L)
  cr <- as.raw(13L)
  quote <- as.raw(34L)
  eol <- lf
  buf <- raw(0) # read and not handed out: the file's bytes from `consumed`
  eof <- FALSE
  consumed <- 0
  block <- 1048576
  row_bytes <- NA_real_ # bytes per row so far
  more <- function() {
    if (eof) return(FALSE)
    b <- readBin(con, "raw", block)
    if (length(b) == 0L) {
      eof <<- TRUE
      # a last line without a line end gets one
      if (length(buf) && buf[[length(buf)]] != eol) {
        buf <<- raw_cat(buf, eol)
        return(TRUE)
      }
      return(FALSE)
    }
    buf <<- raw_cat(buf, b)
    # fewer, larger reads for chunks larger than guessed
    block <<- min(2^26, block * 2)
    TRUE
  }
  # hands out the first k bytes of `buf`
  hand_out <- function(k) {
    out <- raw_head(buf, k)
    if (seekable && k < length(buf)) {
      seek(con, consumed + k, rw = "read")
      buf <<- raw(0)
      eof <<- FALSE
    } else {
      buf <<- raw_tail(buf, k)
    }
    consumed <<- consumed + k
    out
  }
  # the first line end in `buf` (0: none, even after reading to the end)
  first_eol <- function() {
    repeat {
      p <- grepRaw(eol, buf, fixed = TRUE)
      if (length(p)) return(p)
      if (!more()) return(0L)
    }
  }
  line_text <- function(p) {
    b <- buf[seq_len(p - 1L)]
    if (length(b) && b[[length(b)]] == cr) b <- b[-length(b)]
    rawToChar(b)
  }
  list(
    header = function() {
      more()
      if (!length(buf)) {
        return(NULL)
      }
      # CR alone ends lines in a file whose first block has no LF
      if (!length(grepRaw(lf, buf, fixed = TRUE)) && length(grepRaw(cr, buf, fixed = TRUE))) eol <<- cr
      lines <- length(grepRaw(eol, buf, fixed = TRUE, all = TRUE))
      if (lines > 1L) row_bytes <<- length(buf) / lines
      p <- first_eol()
      line <- line_text(p)
      hand_out(p)
      line
    },
    peek = function() {
      p <- first_eol()
      if (p == 0L) character(0) else line_text(p)
    },
    consumed = function() consumed,
    # list(bytes, rows, starts and ends (each row's first byte and line
    # end in `bytes`), lines (the line ends in `bytes`), first (the file's
    # line number of the first line), eol (the line end byte)); `first`
    # and `file_name` for errors
    take = function(n, first, file_name) {
      if (!is.na(row_bytes)) block <<- min(2^26, max(65536, ceiling(row_bytes * n * 1.05 + 4096)))
      starts <- numeric(0)
      ends <- numeric(0)
      scanned <- 0 # bytes of `buf` looked at: whole lines
      inside <- FALSE # in a quoted field after them
      last_out <- 0 # the last line end outside quotes
      lines <- 0
      cut <- 0
      repeat {
        nl <- grepRaw(eol, buf, offset = scanned + 1, fixed = TRUE, all = TRUE)
        if (!length(nl)) {
          if (!more()) break
          next
        }
        end <- nl[[length(nl)]]
        q <- grepRaw(quote, buf, offset = scanned + 1, fixed = TRUE, all = TRUE)
        within <- if (length(q) || inside) {
          (inside + findInterval(nl, q[q < end])) %% 2L == 1L
        } else {
          logical(length(nl))
        }
        # blank lines: nothing (or a CR) since the previous line end
        len <- nl - c(scanned, nl[-length(nl)]) - 1
        blank <- len == 0
        one <- which(len == 1)
        blank[one] <- buf[nl[one] - 1L] == cr
        out <- nl[!within]
        if (length(out)) {
          row <- !blank[!within]
          r_end <- out[row]
          r_start <- c(last_out, out[-length(out)])[row] + 1
          need <- n - length(ends)
          if (length(r_end) >= need) {
            ends <- c(ends, r_end[seq_len(need)])
            starts <- c(starts, r_start[seq_len(need)])
            cut <- ends[[length(ends)]]
            lines <- lines + sum(nl <= cut)
            break
          }
          ends <- c(ends, r_end)
          starts <- c(starts, r_start)
          last_out <- out[[length(out)]]
        }
        inside <- within[[length(within)]]
        lines <- lines + length(nl)
        scanned <- end
      }
      if (cut == 0) {
        if (inside) {
          before <- length(grepRaw(eol, buf[seq_len(last_out)], fixed = TRUE, all = TRUE))
          csv_line_error(first + before, file_name,
                         "opens a quoted field that is not closed before the end of the file (a `\"` is missing)")
        }
        cut <- last_out
      }
      bytes <- hand_out(cut)
      if (!length(ends)) {
        return(NULL)
      }
      row_bytes <<- cut / length(ends)
      list(bytes = bytes, rows = length(ends), starts = starts, ends = ends, lines = lines, first = first, eol = eol)
    }
  )
}

# A chunk's rows (from csv_bytes()) parsed with read.csv() conventions.
# Every row must have the header's number of fields (and a value): a row
# that has not is an error naming its line, whatever read.csv() made of it
# (fill = FALSE stops at a short row and at some long ones; the others
# give more rows than there are).
csv_parse <- function(chunk, cols, cc, file_name) {
  d <- tryCatch(strict(csv_scan(chunk$bytes, cols, cc)), error = function(e) e)
  bad <- inherits(d, "error") || nrow(d) != chunk$rows
  if (!bad && length(d)) {
    # a row with no value read may have none at all
    none <- which(rowSums(!is.na(d)) == 0L)
    bad <- length(none) && any(vapply(none, function(i) {
      csv_empty(rawToChar(chunk$bytes[chunk$starts[[i]]:chunk$ends[[i]]]))
    }, TRUE))
  }
  if (bad) {
    csv_check_fields(chunk, length(cols), file_name)
    if (inherits(d, "error")) stop(d)
    stop(sprintf("the %s rows from line %s of \"%s\" gave %s rows", big(chunk$rows), big(chunk$first),
                 file_name, big(nrow(d))), call. = FALSE)
  }
  d
}

# What utils::read.csv(header = FALSE, col.names = cols, colClasses = cc,
# check.names = FALSE, stringsAsFactors = FALSE, comment.char = "",
# na.strings = c("NA", ""), fill = FALSE) makes of `bytes`, read by scan()
# as read.table() does, from the bytes (read.table() needs a text-mode
# connection, and making the bytes text first costs a copy and a pass).
csv_scan <- function(bytes, cols, cc) {
  what <- rep.int(list(""), length(cols))
  names(what) <- cols
  known <- cc %in% c("logical", "integer", "numeric", "complex", "character", "raw")
  what[known] <- lapply(cc[known], do.call, list(0))
  what[cc %in% "NULL"] <- list(NULL)
  keep <- !vapply(what, is.null, TRUE)
  rc <- rawConnection(bytes)
  on.exit(close(rc))
  data <- scan(rc, what = what, sep = ",", quote = "\"", dec = ".", na.strings = c("NA", ""), quiet = TRUE,
               fill = FALSE, strip.white = FALSE, blank.lines.skip = TRUE, multi.line = FALSE, comment.char = "",
               allowEscapes = FALSE, flush = FALSE, encoding = "unknown", skipNul = FALSE)
  n <- length(data[[which.max(keep)]])
  for (i in which(keep & is.na(cc))) {
    data[[i]] <- utils::type.convert(data[[i]], as.is = TRUE, dec = ".", numerals = "allow.loss",
                                     na.strings = character(0L))
  }
  data <- data[keep]
  class(data) <- "data.frame"
  attr(data, "row.names") <- if (n > 0L) c(NA_integer_, -n) else integer(0)
  data
}

# Two raw vectors as one; the first k bytes of a raw vector, and the
# others: by copies in C, through raw connections (c() and `[` go byte by
# byte).
raw_cat <- function(a, b) {
  if (!length(a)) {
    return(b)
  }
  rc <- rawConnection(raw(0), "w")
  on.exit(close(rc))
  writeBin(a, rc)
  writeBin(b, rc)
  rawConnectionValue(rc)
}

raw_head <- function(x, k) {
  if (k >= length(x)) {
    return(x)
  }
  rc <- rawConnection(x)
  on.exit(close(rc))
  readBin(rc, "raw", k)
}

raw_tail <- function(x, k) {
  if (k >= length(x)) {
    return(raw(0))
  }
  rc <- rawConnection(x)
  on.exit(close(rc))
  seek(rc, k)
  readBin(rc, "raw", length(x) - k)
}

# Lines with nothing but commas, quotes and blanks.
csv_empty <- function(lines) grepl("^[\",[:space:]]*$", lines, perl = TRUE)

# Finds the first row of a chunk with the wrong number of fields, or with
# no values, and signals an error naming its line.
csv_check_fields <- function(chunk, n_fields, file_name) {
  nl <- grepRaw(chunk$eol, chunk$bytes, fixed = TRUE, all = TRUE)
  # the lines, cut where csv_bytes() cut them (a row ends on the last)
  text <- rawToChar(chunk$bytes[seq_len(nl[[length(nl)]] - 1L)])
  lines <- strsplit(text, rawToChar(chunk$eol), fixed = TRUE)[[1L]]
  if (chunk$eol == as.raw(10L)) lines <- sub("\r$", "", lines)
  tc <- textConnection(lines)
  counts <- utils::count.fields(tc, sep = ",", quote = "\"", comment.char = "", blank.lines.skip = FALSE)
  close(tc)
  if (length(counts) != length(lines) || length(lines) != length(nl)) {
    return(invisible())
  }
  # each row's first and last line
  last <- match(chunk$ends, nl)
  start <- findInterval(chunk$starts - 1, nl) + 1L
  fields <- counts[last]
  wrong <- which(!is.na(fields) & fields != n_fields)
  empty <- which(start == last & csv_empty(lines[last]))
  k <- suppressWarnings(min(wrong, empty))
  if (!is.finite(k)) {
    return(invisible())
  }
  line <- chunk$first + start[[k]] - 1
  if (k %in% wrong) {
    csv_line_error(line, file_name, sprintf(
      "has %d field%s where the header has %d", fields[[k]], if (fields[[k]] == 1L) "" else "s", n_fields
    ))
  }
  csv_line_error(line, file_name, "has no values (nothing but commas)")
}

# An error about line `line` of the file; field `line` holds the number.
csv_line_error <- function(line, file_name, what) {
  stop(structure(
    class = c("fwdprop_csv_line_error", "error", "condition"),
    list(message = sprintf("line %s of \"%s\" %s", big(line), file_name, what), call = NULL, line = line)
  ))
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
