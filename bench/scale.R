# Scoring a 5,000,000-row, 20-column SQLite table: peak memory and time of
# score() (sequential and on 2 multisession workers) against the plain
# dbGetQuery() + predict(), each case in a fresh R process (the peak
# resident memory, VmHWM from /proc/self/status, of that process; for
# workers also their own peaks).
#   Rscript bench/scale.R [REPEATS]            # all cases, REPEATS times each (default 3)
#   FWDPROP_SCALE_DB=/path/big.sqlite Rscript bench/scale.R
#   FWDPROP_SCALE_ONLY=plain,seq Rscript bench/scale.R
# The table (an integer id and x01..x20 ~ N(0, 1), about 1 GB) is made
# once in FWDPROP_SCALE_DB (default: big.sqlite in tempdir(), which R removes
# at exit: set FWDPROP_SCALE_DB to keep it between runs).
# Networks: "small" 20-32-1 (reading the rows is most of the work) and
# "large" 20-256-256-1 (scoring a chunk costs about as much as reading it), both
# with input names x01..x20, so columns are picked by name.
# Cases:
#   plain        dbGetQuery() of the whole table, predict(), dbWriteTable() of
#                the scores (id and pred) to another SQLite file
#   seq          score() into a table on another SQLite file, sequential
#   same         score() into a table on the same connection (paging)
#   par2         as seq, future::plan(multisession, workers = 2)
#   seq_large, par2_large   as seq and par2 with the large network
args <- commandArgs(trailingOnly = TRUE)

status_kb <- function(field) {
  line <- grep(paste0("^", field, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", line))
}

make_net <- function(size) {
  set.seed(7)
  sizes <- if (size == "large") c(20, 256, 256, 1) else c(20, 32, 1)
  W <- lapply(seq_len(length(sizes) - 1L), function(l) {
    matrix(rnorm(sizes[l] * sizes[l + 1L], sd = 1 / sqrt(sizes[l])), sizes[l])
  })
  rownames(W[[1]]) <- sprintf("x%02d", 1:20)
  fwdprop::network(weights = W, activation = "relu", output = "sigmoid")
}

# --- one case, in this (fresh) process ---------------------------------------
if (length(args) >= 2 && args[[1]] == "--case") {
  case <- args[[2]]
  db <- args[[3]]
  suppressPackageStartupMessages({
    library(fwdprop)
    library(DBI)
  })
  net <- make_net(if (grepl("large", case)) "large" else "small")
  con <- dbConnect(RSQLite::SQLite(), db)
  out_db <- tempfile(fileext = ".sqlite")
  workers_peak <- NA
  t0 <- proc.time()[["elapsed"]]
  if (case == "plain") {
    df <- dbGetQuery(con, "SELECT * FROM customers")
    p <- predict(net, df)
    res <- data.frame(id = df$id, pred = p[, 1])
    out <- dbConnect(RSQLite::SQLite(), out_db)
    dbWriteTable(out, "scores", res)
    rows <- nrow(res)
  } else {
    if (grepl("par2", case)) {
      future::plan(future::multisession, workers = 2)
    }
    to <- if (case == "same") {
      dbExecute(con, "DROP TABLE IF EXISTS scores")
      "scores"
    } else {
      list(dbConnect(RSQLite::SQLite(), out_db), "scores")
    }
    s <- score(net, con, query = "SELECT * FROM customers", to = to, keep = "id",
               chunk_rows = 100000)
    rows <- s$rows
    if (grepl("par2", case)) {
      # the workers' own peaks
      peaks <- vapply(1:2, function(i) {
        f <- future::future(
          as.numeric(gsub("[^0-9]", "", grep("^VmHWM:", readLines("/proc/self/status"), value = TRUE))),
          seed = FALSE
        )
        future::value(f)
      }, numeric(1))
      workers_peak <- max(peaks) / 1024
    }
  }
  secs <- proc.time()[["elapsed"]] - t0
  cat(sprintf("RESULT %s rows=%d seconds=%.2f peak_mb=%.0f worker_peak_mb=%s\n", case, rows, secs,
              status_kb("VmHWM") / 1024, if (is.na(workers_peak)) "NA" else sprintf("%.0f", workers_peak)))
  quit(save = "no")
}

# --- the driver ---------------------------------------------------------------
repeats <- if (length(args)) as.integer(args[[1]]) else 3L
db <- Sys.getenv("FWDPROP_SCALE_DB", file.path(tempdir(), "big.sqlite"))
only <- strsplit(Sys.getenv("FWDPROP_SCALE_ONLY"), ",", fixed = TRUE)[[1]]
cases <- c("plain", "seq", "same", "par2", "seq_large", "par2_large")
if (length(only)) cases <- intersect(cases, only)

if (!file.exists(db)) {
  message("making the 5,000,000-row table in ", db)
  con <- DBI::dbConnect(RSQLite::SQLite(), db)
  set.seed(42)
  step <- 500000
  for (s in seq(1, 5e6, by = step)) {
    m <- matrix(rnorm(step * 20), step)
    colnames(m) <- sprintf("x%02d", 1:20)
    DBI::dbWriteTable(con, "customers", data.frame(id = as.integer(s:(s + step - 1)), m), append = TRUE)
  }
  DBI::dbDisconnect(con)
}

script <- normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
rscript <- file.path(R.home("bin"), "Rscript")
results <- list()
for (r in seq_len(repeats)) {
  for (case in cases) {
    load <- readLines("/proc/loadavg")
    out <- system2(rscript, c(shQuote(script), "--case", case, shQuote(db)), stdout = TRUE, stderr = TRUE)
    line <- grep("^RESULT", out, value = TRUE)
    if (!length(line)) {
      cat(out, sep = "\n")
      stop("case ", case, " failed")
    }
    val <- function(key) sub(paste0(".*(^| )", key, "=([^ ]+).*"), "\\2", line)
    results[[length(results) + 1L]] <- data.frame(
      case = case, round = r, seconds = as.numeric(val("seconds")), peak_mb = as.numeric(val("peak_mb")),
      worker_peak_mb = suppressWarnings(as.numeric(val("worker_peak_mb"))),
      load = strsplit(load, " ")[[1]][1]
    )
    message(sprintf("%s round %d: %s s, peak %s MB (load average %s)", case, r, val("seconds"),
                    val("peak_mb"), strsplit(load, " ")[[1]][1]))
  }
}
tab <- do.call(rbind, results)
summ <- do.call(rbind, lapply(split(tab, factor(tab$case, levels = cases)), function(d) {
  data.frame(case = d$case[1], runs = nrow(d),
             seconds_median = median(d$seconds), seconds_max = max(d$seconds),
             peak_mb_median = median(d$peak_mb), peak_mb_max = max(d$peak_mb),
             worker_peak_mb_max = if (all(is.na(d$worker_peak_mb))) NA else max(d$worker_peak_mb, na.rm = TRUE))
}))
cat(sprintf("\n%s, %d cores, R %s, fwdprop %s, fwdprop_threads() %d\n\n",
            sub("^model name\\s*:\\s*", "", grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)[1]),
            parallel::detectCores(), getRversion(), utils::packageVersion("fwdprop"),
            fwdprop::fwdprop_threads()))
cat("| case | runs | time median (s) | time max (s) | peak RSS median (MB) | peak RSS max (MB) | worker peak max (MB) |\n")
cat("|---|---|---|---|---|---|---|\n")
cat(sprintf("| %s | %d | %.1f | %.1f | %.0f | %.0f | %s |\n", summ$case, summ$runs, summ$seconds_median,
            summ$seconds_max, summ$peak_mb_median, summ$peak_mb_max,
            ifelse(is.na(summ$worker_peak_mb_max), "", sprintf("%.0f", summ$worker_peak_mb_max))), sep = "")
cat("\nAll runs:\n")
print(tab, row.names = FALSE)
