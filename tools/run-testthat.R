# Runs the testthat suite against an installed fwdprop and writes the
# counts (test blocks) to a file: "passed failed skipped".
#   Rscript tools/run-testthat.R LIBDIR COUNTS_FILE
args <- commandArgs(trailingOnly = TRUE)
.libPaths(c(args[[1]], .libPaths()))
res <- testthat::test_dir(
  "tests/testthat",
  package = "fwdprop",
  load_package = "installed",
  reporter = testthat::ProgressReporter$new(show_praise = FALSE, update_interval = Inf),
  stop_on_failure = FALSE
)
df <- as.data.frame(res)
failed <- df$failed > 0 | df$error
skipped <- df$skipped & !failed
passed <- !failed & !skipped
writeLines(paste(sum(passed), sum(failed), sum(skipped)), args[[2]])
