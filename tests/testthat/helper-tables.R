# Tables read back from knitted output, to compare their numbers with
# the values they show (test-knit.R, test-template.R).

# The tables of markdown text (pipe tables, as knitr::kable() writes them)
# or of an HTML page: a list with, for each table, its caption (tags
# removed; NA if none) and its cells as a character matrix (header row
# first).
md_tables <- function(text) {
  lines <- strsplit(paste(text, collapse = "\n"), "\n", fixed = TRUE)[[1L]]
  out <- list()
  i <- 1L
  while (i <= length(lines)) {
    if (startsWith(lines[[i]], "|")) {
      j <- i
      while (j + 1L <= length(lines) && startsWith(lines[[j + 1L]], "|")) j <- j + 1L
      rows <- lines[i:j]
      rows <- rows[!grepl("^\\|[-:|]+\\|$", rows)] # the rule under the header
      cells <- lapply(strsplit(sub("^\\|", "", sub("\\|$", "", rows)), "|", fixed = TRUE), trimws)
      caption <- if (i > 2L && startsWith(lines[[i - 2L]], "Table: ")) sub("^Table: ", "", lines[[i - 2L]]) else NA
      out[[length(out) + 1L]] <- list(caption = caption, cells = do.call(rbind, cells))
      i <- j + 1L
    } else {
      i <- i + 1L
    }
  }
  out
}

html_tables <- function(html) {
  html <- gsub("(?s)<script.*?</script>", "", paste(html, collapse = "\n"), perl = TRUE)
  pieces <- strsplit(html, "<table", fixed = TRUE)[[1L]][-1L]
  strip <- function(x) trimws(gsub("<[^>]+>", "", x))
  lapply(pieces, function(p) {
    p <- sub("(?s)</table>.*$", "", p, perl = TRUE)
    caption <- regmatches(p, regexpr("(?s)<caption>.*?</caption>", p, perl = TRUE))
    rows <- regmatches(p, gregexpr("(?s)<tr[^>]*>.*?</tr>", p, perl = TRUE))[[1L]]
    cells <- lapply(rows, function(r) strip(regmatches(r, gregexpr("(?s)<t[dh][^>]*>.*?</t[dh]>", r, perl = TRUE))[[1L]]))
    list(caption = if (length(caption)) strip(caption) else NA, cells = do.call(rbind, cells))
  })
}

# The cells of the one table whose caption contains `pattern`.
table_with_caption <- function(tables, pattern) {
  hit <- Filter(function(t) !is.na(t$caption) && grepl(pattern, t$caption, fixed = TRUE), tables)
  expect_length(hit, 1L)
  hit[[1L]]$cells
}

# The numbers of a table's body (without the header row and label column).
table_numbers <- function(cells) {
  m <- cells[-1L, -1L, drop = FALSE]
  matrix(as.numeric(m), nrow(m))
}


# The alignment each cell of an HTML page's tables is shown with where a
# style sheet sets `th { text-align: left }` (Bootstrap, pkgdown): the
# inline style's `text-align`, else "left" for a header cell (the style
# sheet's, which beats an `align` attribute) and the `align` attribute (or
# "left") for a body cell. A list per table: `header` (one per column) and
# `body` (a matrix, a row per table row).
html_alignments <- function(html) {
  html <- gsub("(?s)<script.*?</script>", "", paste(html, collapse = "\n"), perl = TRUE)
  pieces <- strsplit(html, "<table", fixed = TRUE)[[1L]][-1L]
  align_of <- function(tag) {
    style <- regmatches(tag, regexpr("text-align:\\s*[a-z]+", tag))
    if (length(style)) return(sub("text-align:\\s*", "", style))
    attr <- regmatches(tag, regexpr("align=\"[a-z]+\"", tag))
    if (startsWith(tag, "<td") && length(attr)) return(sub("align=\"([a-z]+)\"", "\\1", attr))
    "left"
  }
  lapply(pieces, function(p) {
    p <- sub("(?s)</table>.*$", "", p, perl = TRUE)
    rows <- regmatches(p, gregexpr("(?s)<tr[^>]*>.*?</tr>", p, perl = TRUE))[[1L]]
    tags <- lapply(rows, function(r) regmatches(r, gregexpr("<t[dh][^>]*>", r))[[1L]])
    is_head <- vapply(tags, function(t) length(t) > 0L && all(startsWith(t, "<th")), logical(1L))
    list(header = vapply(tags[[which(is_head)[1L]]], align_of, character(1L), USE.NAMES = FALSE),
         body = do.call(rbind, lapply(tags[!is_head], function(t) vapply(t, align_of, character(1L), USE.NAMES = FALSE))))
  })
}

# Every header cell of every table is aligned as the body cells of its
# column (and these agree with each other).
expect_aligned_tables <- function(page, min_tables = 1L) {
  al <- html_alignments(page)
  expect_gte(length(al), min_tables)
  for (t in al) {
    expect_identical(ncol(t$body), length(t$header))
    for (j in seq_along(t$header)) {
      expect_identical(unique(t$body[, j]), t$header[[j]])
    }
  }
}
