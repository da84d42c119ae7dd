# Argument checks and the package's error condition: every user-facing
# message is built here, so the wording stays consistent.

#' Signal an error of class `fwdprop_error`
#'
#' @param message The message (already formatted).
#' @param call The call to report, by default the caller of the function
#'   that detected the problem.
#' @param ... Further named fields of the condition (e.g. `score()`'s
#'   `chunk`, `rows` and `parent`).
#' @noRd
fwdprop_error <- function(message, call = sys.call(-1), ...) {
  cnd <- structure(
    class = c("fwdprop_error", "error", "condition"),
    c(list(message = message, call = call), list(...))
  )
  stop(cnd)
}

# "a character vector", "an integer matrix", "a data frame", "NULL", ...
describe_object <- function(x) {
  if (is.null(x)) {
    return("NULL")
  }
  if (is.data.frame(x)) {
    return("a data frame")
  }
  if (is.factor(x)) {
    return("a factor")
  }
  if (is.function(x)) {
    return("a function")
  }
  if (is.environment(x)) {
    return("an environment")
  }
  if (isS4(x)) {
    return("an S4 object")
  }
  # objects that are not vectors: no "vector" or "matrix" after the type
  other <- switch(typeof(x),
    symbol = "a symbol",
    language = "a call",
    expression = "an expression",
    externalptr = "an external pointer",
    pairlist = "a pairlist",
    NULL
  )
  if (!is.null(other)) {
    return(other)
  }
  type <- switch(typeof(x),
    double = "numeric",
    integer = "integer",
    logical = "logical",
    character = "character",
    complex = "complex",
    list = "list",
    raw = "raw",
    typeof(x)
  )
  if (is.list(x) && !is.array(x)) {
    return("a list")
  }
  shape <- if (is.matrix(x)) {
    "matrix"
  } else if (is.array(x)) {
    "array"
  } else {
    "vector"
  }
  article <- if (substr(type, 1L, 1L) %in% c("a", "e", "i", "o", "u")) "an" else "a"
  paste(article, type, shape)
}

# "3x2"
shape_string <- function(x) paste(dim(x), collapse = "x")

is_numeric_storage <- function(x) {
  typeof(x) %in% c("double", "integer", "logical") && !is.factor(x)
}

# Checks that `x` is a numeric (double, integer or logical) matrix and
# returns it with double storage; errors name `arg`.
as_double_matrix <- function(x, arg, call = sys.call(-1)) {
  if (!is.matrix(x) || !is_numeric_storage(x)) {
    hint <- if (is.null(dim(x)) && is.atomic(x) && is_numeric_storage(x)) {
      " Use `matrix()` or `as.matrix()` to make one."
    } else if (is.data.frame(x)) {
      " Use `as.matrix()` to convert it."
    } else {
      ""
    }
    fwdprop_error(
      sprintf("`%s` must be a numeric matrix, not %s.%s", arg, describe_object(x), hint),
      call = call
    )
  }
  check_dim_length(x, arg, call = call)
  if (typeof(x) != "double") {
    storage.mode(x) <- "double"
  }
  x
}

# R keeps a matrix's dim and length consistent, but unserialize() of a
# damaged or crafted file does not check: refuse such objects.
check_dim_length <- function(x, arg, call = sys.call(-1)) {
  d <- dim(x)
  if (length(x) != prod(as.double(d))) {
    fwdprop_error(sprintf(
      "`%s` is damaged: its dimensions say %s but it holds %.0f value%s.",
      arg, paste(d, collapse = "x"), as.double(length(x)), if (length(x) == 1L) "" else "s"
    ), call = call)
  }
  invisible(x)
}


# Checks that `x` is a numeric (double, integer or logical) vector, matrix
# or array.
check_numeric <- function(x, arg, call = sys.call(-1)) {
  if (!is.atomic(x) || is.null(x) || !is_numeric_storage(x)) {
    fwdprop_error(
      sprintf("`%s` must be a numeric vector, matrix or array, not %s.", arg, describe_object(x)),
      call = call
    )
  }
  invisible(x)
}

# A short description of a (usually scalar) value for messages: `-1`,
# `NA`, `"abc"`, or the object's description for anything else.
describe_value <- function(x) {
  if (is.atomic(x) && !is.null(x) && length(x) == 1L && is.null(dim(x)) && !is.factor(x)) {
    if (is.character(x)) {
      return(if (is.na(x)) "NA" else sprintf("\"%s\"", x))
    }
    if (is.numeric(x) || is.logical(x)) {
      return(format(x, digits = 15L))
    }
  }
  d <- describe_object(x)
  if (is.atomic(x) && !is.null(x) && is.null(dim(x)) && !is.factor(x)) {
    d <- sprintf("%s of length %d", d, length(x))
  }
  d
}

# A whole number >= 1 that fits an R integer; returns it as integer.
check_count <- function(x, arg, call = sys.call(-1L)) {
  ok <- is.numeric(x) && length(x) == 1L && !is.na(x) && is.finite(x) &&
    x >= 1 && x == floor(x) && x <= .Machine$integer.max
  if (!ok && is.numeric(x) && length(x) == 1L && !is.na(x) && is.finite(x) &&
      x == floor(x) && x > .Machine$integer.max) {
    fwdprop_error(sprintf(
      "`%s` must be a whole number from 1 to 2^31 - 1 (%d), not %s.",
      arg, .Machine$integer.max, format(x, scientific = FALSE)
    ), call = call)
  }
  if (!ok) {
    fwdprop_error(
      sprintf("`%s` must be a whole number >= 1, not %s.", arg, describe_value(x)),
      call = call
    )
  }
  as.integer(x)
}

# One string out of `choices`; the whole `choices` vector (an unchanged
# default argument) means its first element.
check_choice <- function(x, arg, choices, call = sys.call(-1L)) {
  if (identical(x, choices)) {
    return(choices[[1L]])
  }
  if (!is.character(x) || length(x) != 1L || is.na(x) || !(x %in% choices)) {
    fwdprop_error(sprintf(
      "`%s` must be one of %s, not %s.",
      arg, paste0("\"", choices, "\"", collapse = ", "), describe_value(x)
    ), call = call)
  }
  x
}

# Refuses matrices beyond what an R matrix of doubles can hold here, before
# anything is allocated.
check_matrix_size <- function(nrow, ncol, what, call = sys.call(-1L)) {
  n <- as.double(nrow) * as.double(ncol)
  if (n > .Machine$integer.max) {
    fwdprop_error(sprintf(
      "%s would be %sx%s (%s elements, %s GB); fwdprop supports at most 2^31 - 1 elements per matrix.",
      what, format(nrow, scientific = FALSE), format(ncol, scientific = FALSE),
      format(n, big.mark = ",", scientific = FALSE), format(n * 8 / 1e9, digits = 3L)
    ), call = call)
  }
  invisible(n)
}

# Checks a logical flag (TRUE or FALSE).
check_flag <- function(x, arg, call = sys.call(-1L)) {
  if (!is.logical(x) || length(x) != 1L || is.na(x)) {
    fwdprop_error(
      sprintf("`%s` must be TRUE or FALSE, not %s.", arg, describe_value(x)),
      call = call
    )
  }
  x
}

# A file path: one string, neither NA nor empty; returned with `~` expanded,
# in UTF-8 (as the Rust side reads strings).
check_path <- function(x, arg, call = sys.call(-1L)) {
  if (!is.character(x) || length(x) != 1L || is.na(x) || !nzchar(x) || !is.null(dim(x))) {
    fwdprop_error(sprintf("`%s` must be a file path (a single string), not %s.", arg, describe_value(x)),
                  call = call)
  }
  as_utf8(path.expand(x), sprintf("`%s`", arg), call = call)
}

# Character vectors (and the names and elements of lists) in UTF-8, for the
# Rust side, which takes R's strings as UTF-8; strings that are not valid
# text in any encoding are an error naming `what`.
as_utf8 <- function(x, what, call = sys.call(-1L)) {
  if (!is.null(names(x))) names(x) <- as_utf8(names(x), what, call)
  if (is.character(x)) {
    a <- attributes(x)
    x <- enc2utf8(x)
    if (!all(validUTF8(x))) {
      fwdprop_error(sprintf("%s holds a string that is not valid text (%s).", what,
                            encodeString(x[!validUTF8(x)][[1L]], quote = "\"")), call = call)
    }
    attributes(x) <- a
  } else if (is.list(x)) {
    for (i in seq_along(x)) if (!is.null(x[[i]])) x[[i]] <- as_utf8(x[[i]], what, call)
  }
  x
}

# Runs `expr`, a call into Rust, and reports its errors (a buffer that could
# not be allocated, an internal error) as fwdprop_errors of `call`.
in_rust <- function(expr, call) {
  tryCatch(expr, error = function(e) {
    if (inherits(e, "fwdprop_error")) stop(e)
    msg <- conditionMessage(e)
    if (grepl("cannot allocate vector", msg, fixed = TRUE)) {
      msg <- sprintf("not enough memory (%s).", sub("^\\s+|\\s+$", "", msg))
    }
    fwdprop_error(msg, call = call)
  })
}

# The memory this machine has free for new allocations, in bytes (Linux's
# MemAvailable); NA where that cannot be read.
available_memory <- function() {
  lines <- tryCatch(suppressWarnings(readLines("/proc/meminfo", n = 10L)), error = function(e) character(0))
  line <- grep("^MemAvailable:", lines, value = TRUE)
  if (length(line) != 1L) return(NA_real_)
  kb <- suppressWarnings(as.numeric(gsub("[^0-9]", "", line)))
  if (is.na(kb)) NA_real_ else kb * 1024
}

# "400.4 MB", as the Rust side writes sizes.
format_bytes <- function(bytes) {
  if (bytes < 1e3) return(sprintf("%d bytes", as.integer(bytes)))
  units <- c(kB = 1e3, MB = 1e6, GB = 1e9, TB = 1e12)
  u <- max(which(bytes >= units))
  sprintf("%.1f %s", bytes / units[[u]], names(units)[[u]])
}

# Refuses, before anything is allocated, work that needs more memory than
# the machine has free: `bytes` for `what`. (An allocation beyond it would
# either fail part-way or, with the system's overcommit, make the kernel
# kill R once the memory is written.)
# `copies`: how many times over the memory must be there (R copies a value
# it modifies, so a network needs room for its weights twice).
check_memory <- function(bytes, what, copies = 1, call = sys.call(-1L)) {
  avail <- available_memory()
  if (!is.na(avail) && bytes * copies > avail) {
    fwdprop_error(sprintf("%s needs %s of memory%s, more than the %s this machine has free.",
                          what, format_bytes(bytes), if (copies > 1) sprintf(" %d times over (R copies what it modifies)", copies) else "",
                          format_bytes(avail)), call = call)
  }
  invisible(bytes)
}

# `...` of a method that takes none: a misspelt argument is an error,
# with the nearest argument of `choices` suggested.
check_no_dots <- function(..., fun, call, choices = NULL) {
  if (...length() > 0L) {
    dots <- names(list(...))
    if (is.null(dots) || !nzchar(dots[[1L]])) {
      fwdprop_error(sprintf("%s has no argument `..1` (unnamed).", fun), call = call)
    }
    bad <- dots[[1L]]
    hint <- ""
    if (length(choices)) {
      d <- utils::adist(bad, choices, ignore.case = TRUE)[1L, ]
      if (min(d) <= max(3L, nchar(bad) %/% 3L)) {
        hint <- sprintf(" Did you mean `%s`?", choices[[which.min(d)]])
      }
    }
    fwdprop_error(sprintf("%s has no argument `%s`.%s", fun, bad, hint), call = call)
  }
}

fwdprop_warning <- function(message, call = sys.call(-1L)) {
  structure(class = c("fwdprop_warning", "warning", "condition"),
            list(message = message, call = call))
}

check_digits <- function(digits, call = sys.call(-1L)) {
  ok <- is.numeric(digits) && length(digits) == 1L && !is.na(digits) &&
    digits >= 0 && digits <= 15 && digits == floor(digits)
  if (!ok) {
    fwdprop_error(sprintf("`digits` must be a whole number from 0 to 15, not %s.",
                          describe_value(digits)), call = call)
  }
  as.integer(digits)
}

check_fraction <- function(x, arg, call) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || x < 0 || x >= 1) {
    fwdprop_error(sprintf("`%s` must be a single number in [0, 1), not %s.", arg, describe_value(x)),
                  call = call)
  }
  as.double(x)
}

check_positive <- function(x, arg, call) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) || x <= 0) {
    fwdprop_error(sprintf("`%s` must be a single number > 0, not %s.", arg, describe_value(x)),
                  call = call)
  }
  as.double(x)
}

big <- function(x) format(x, big.mark = ",", scientific = FALSE, trim = TRUE)

# SQLite connections wait up to 10 s for a lock another connection holds
# on the database (a reader, or another run refused by the lock), instead
# of failing at once ("database is locked"), as RSQLite's connections do by
# default; returns a function that puts the connections' setting back.
score_sqlite_wait <- function(cons, ms = 10000L) {
  undo <- list()
  for (con in cons) {
    if (!inherits(con, "SQLiteConnection") || !DBI::dbIsValid(con)) next
    old <- tryCatch(DBI::dbGetQuery(con, "PRAGMA busy_timeout")[[1L]], error = function(e) NULL)
    if (length(old) != 1L || is.na(old) || old >= ms) next
    if (inherits(try(DBI::dbExecute(con, sprintf("PRAGMA busy_timeout = %d", ms)), silent = TRUE), "try-error")) next
    undo[[length(undo) + 1L]] <- local({
      con <- con
      old <- old
      function() try(DBI::dbExecute(con, sprintf("PRAGMA busy_timeout = %d", as.integer(old))), silent = TRUE)
    })
  }
  function() for (f in undo) f()
}
