# score()'s CSV source when the file is not what it should be: rows with
# the wrong number of fields, line ends, compression, line breaks in kept
# text. Every result is compared with predict() on the whole data.

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
