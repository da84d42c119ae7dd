#' Number of threads used by fwdprop
#'
#' Large forward passes are split over threads inside the Rust core (small
#' ones always run on the calling thread; R itself is only ever called from
#' the main thread). `fwdprop_threads()` returns the number in use;
#' `fwdprop_threads(n)` sets it for the session.
#'
#' The default is, in order: `getOption("fwdprop.threads")`, the environment
#' variable `FWDPROP_THREADS`, or the number of cores. It is never more than
#' `OMP_THREAD_LIMIT` when that is set, and never more than 2 while
#' `R CMD check` limits cores (`_R_CHECK_LIMIT_CORES_`), as CRAN asks.
#'
#' @param n `NULL` to query, or a whole number >= 1 to set (stored in
#'   `options(fwdprop.threads = n)`).
#' @return The number of threads (an integer). When setting, the previous
#'   value, invisibly.
#' @export
#' @examples
#' fwdprop_threads()
#' old <- fwdprop_threads(1)
#' fwdprop_threads()
#' fwdprop_threads(old)
fwdprop_threads <- function(n = NULL) {
  if (!is.null(n)) {
    n <- check_count(n, "n")
    old <- fwdprop_threads()
    options(fwdprop.threads = n)
    return(invisible(old))
  }
  n <- getOption("fwdprop.threads")
  if (is.null(n)) {
    env <- Sys.getenv("FWDPROP_THREADS")
    n <- if (nzchar(env)) suppressWarnings(as.integer(env)) else NA_integer_
    if (is.na(n) || n < 1L) {
      n <- if (is.null(the$cores)) 1L else the$cores
    }
  }
  n <- as.integer(n)
  if (is.na(n) || n < 1L) n <- 1L
  omp <- suppressWarnings(as.integer(Sys.getenv("OMP_THREAD_LIMIT")))
  if (!is.na(omp) && omp >= 1L) n <- min(n, omp)
  limit <- tolower(Sys.getenv("_R_CHECK_LIMIT_CORES_"))
  if (nzchar(limit) && limit != "false") n <- min(n, 2L)
  n
}
