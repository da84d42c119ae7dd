# Package state computed once per session.
the <- new.env(parent = emptyenv())

.onLoad <- function(libname, pkgname) {
  # the enclosure of tensor objects made in Rust (see new_tensor_obj())
  autograd_state$ns <- topenv()
  # parallel::detectCores() runs a shell command on some platforms: ask once
  cores <- tryCatch(parallel::detectCores(logical = TRUE), error = function(e) NA_integer_)
  the$cores <- if (is.na(cores) || cores < 1L) 1L else as.integer(cores)
}
