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
#' [score()] under a parallel future plan gives each of its workers
#' `fwdprop_threads() %/% workers` threads (at least 1), so that workers and
#' threads together do not ask for more cores than this.
#'
#' @section Huge pages:
#' Large results (8 MB and more) are written into memory with the
#' system's ordinary pages. `options(fwdprop.huge_pages = TRUE)` asks Linux
#' for transparent huge pages for them instead: far fewer page faults, so
#' faster when the kernel has free huge pages at hand, but on virtual
#' machines whose free memory is handed back to the host it can be much
#' slower (the same `sigmoid()` of 1e7 values took 20 ms or 185 ms by that
#' chance, against a steady 21-26 ms with ordinary pages). Time your own
#' large calls several times before setting it.
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

# A threshold of the Rust core that the R side decides by (see
# core_limits_impl(): the sigmoid's chunk, the rows of a small forward
# pass), read from Rust once per session, never copied here by value.
core_limit <- function(name) {
  if (is.null(the$limits)) the$limits <- core_limits_impl()
  the$limits[[name]]
}
