# The house's rules, checked (run by tools/test.sh):
#  1. no circle among the R files: a file's functions calling another
#     file's functions, followed around, never come back to it;
#  2. no function longer than 150 lines, in R/ or in src/rust;
#  3. a test file tests/testthat/test-<file>.R for every R/<file>.R
#     (except the generated wrappers and the package's documentation);
#  4. no module of the binding crate uses an item of its lib.rs, and no
#     circle among the core crate's modules.
# Prints what breaks a rule and exits 1, or prints a summary.
#   Rscript tools/check-structure.R
args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args)) args[[1]] else "."
problems <- character()
problem <- function(...) problems <<- c(problems, sprintf(...))

# Strongly connected components (Tarjan) of a graph given as a named list
# of character vectors (edges from each name); the cycles are the
# components of more than one node (or a node with an edge to itself).
cycles_of <- function(g) {
  index <- new.env(); low <- new.env(); on <- new.env()
  stack <- character(); i <- 0L; out <- list()
  visit <- function(v) {
    i <<- i + 1L
    index[[v]] <- i; low[[v]] <- i
    stack <<- c(stack, v); on[[v]] <- TRUE
    for (w in g[[v]]) {
      if (is.null(index[[w]])) {
        visit(w)
        low[[v]] <- min(low[[v]], low[[w]])
      } else if (isTRUE(on[[w]])) {
        low[[v]] <- min(low[[v]], index[[w]])
      }
    }
    if (low[[v]] == index[[v]]) {
      comp <- character()
      repeat {
        w <- stack[length(stack)]
        stack <<- stack[-length(stack)]
        on[[w]] <- FALSE
        comp <- c(comp, w)
        if (w == v) break
      }
      if (length(comp) > 1L || v %in% g[[v]]) out[[length(out) + 1L]] <<- comp
    }
  }
  for (v in names(g)) if (is.null(index[[v]])) visit(v)
  out
}

# ---- R files ----
r_files <- list.files(file.path(root, "R"), pattern = "[.]R$", full.names = TRUE)
defs <- list()      # function name -> file
exprs <- list()     # file -> its top-level expressions
for (f in r_files) {
  ex <- parse(f, keep.source = TRUE)
  exprs[[basename(f)]] <- ex
  refs <- attr(ex, "srcref")
  for (k in seq_along(ex)) {
    e <- ex[[k]]
    if (is.call(e) && (identical(e[[1]], as.name("<-")) || identical(e[[1]], as.name("="))) &&
        is.name(e[[2]]) && is.call(e[[3]]) && identical(e[[3]][[1]], as.name("function"))) {
      defs[[as.character(e[[2]])]] <- basename(f)
      src <- refs[[k]]
      if (!is.null(src)) {
        n <- src[[3]] - src[[1]] + 1L
        if (n > 150L) problem("R/%s: %s() is %d lines long (at most 150)", basename(f), as.character(e[[2]]), n)
      }
    }
  }
}
generated <- c("extendr-wrappers.R")
calls_in <- function(e) {
  out <- character()
  walk <- function(x) {
    if (is.call(x)) {
      if (is.name(x[[1]])) out <<- c(out, as.character(x[[1]]))
      for (a in as.list(x)) if (!missing(a)) walk(a)
    } else if (is.name(x)) {
      # functions passed by name (lapply(x, f), do.call(f, ...))
      out <<- c(out, as.character(x))
    }
  }
  walk(e)
  unique(out)
}
graph <- list()
for (f in setdiff(names(exprs), generated)) {
  used <- unique(unlist(lapply(exprs[[f]], calls_in)))
  targets <- unique(unlist(defs[intersect(used, names(defs))]))
  graph[[f]] <- setdiff(setdiff(targets, generated), f)
}
for (cyc in cycles_of(graph)) {
  problem("R files in a circle (each calls functions of the next): %s", paste(sort(cyc), collapse = ", "))
}

# ---- a test file per R file ----
exempt <- c("extendr-wrappers.R", "fwdprop-package.R", "zzz.R")
for (f in setdiff(basename(r_files), exempt)) {
  t <- file.path(root, "tests", "testthat", paste0("test-", f))
  if (!file.exists(t)) problem("R/%s has no test file tests/testthat/test-%s", f, f)
}

# ---- Rust ----
rust_fn_lengths <- function(file) {
  lines <- readLines(file, warn = FALSE)
  starts <- grep("^\\s*(pub(\\([a-z]+\\))? )?(unsafe )?(extern \"C\" )?fn [a-z_0-9]+", lines)
  for (s in starts) {
    indent <- nchar(sub("^(\\s*).*", "\\1", lines[[s]]))
    # the function ends at the first later line that closes at its indent
    close <- which(seq_along(lines) > s & grepl(sprintf("^\\s{%d}\\}\\s*$", indent), lines))
    if (!length(close) || grepl(";\\s*$", lines[[s]])) next
    n <- close[[1]] - s + 1L
    name <- sub(".*fn ([a-z_0-9]+).*", "\\1", lines[[s]])
    if (n > 150L) problem("%s: fn %s is %d lines long (at most 150)", sub(paste0(root, "/"), "", file), name, n)
  }
}
rs_files <- list.files(file.path(root, "src", "rust"), pattern = "[.]rs$", recursive = TRUE, full.names = TRUE)
rs_files <- rs_files[!grepl("/(target|vendor)/", rs_files)]
for (f in rs_files) rust_fn_lengths(f)

glue <- file.path(root, "src", "rust", "glue", "src")
lib_items <- local({
  l <- readLines(file.path(glue, "lib.rs"), warn = FALSE)
  m <- regmatches(l, regexpr("^(pub(\\(crate\\))? )?(fn|struct|enum|const|static|type) [A-Za-z_0-9]+", l))
  sub(".* ", "", m)
})
for (f in setdiff(list.files(glue, pattern = "[.]rs$", full.names = TRUE), file.path(glue, "lib.rs"))) {
  txt <- readLines(f, warn = FALSE)
  for (item in lib_items) {
    if (any(grepl(sprintf("crate::%s\\b", item), txt))) {
      problem("src/rust/glue/src/%s uses `%s` of lib.rs (lib.rs should only register)", basename(f), item)
    }
  }
}
core <- file.path(root, "src", "rust", "core", "src")
mods <- sub("[.]rs$", "", list.files(core, pattern = "[.]rs$"))
mods <- setdiff(mods, "lib")
cg <- list()
for (m in mods) {
  txt <- readLines(file.path(core, paste0(m, ".rs")), warn = FALSE)
  # the module's own tests may use anything
  tests_at <- grep("^#\\[cfg\\(test\\)\\]", txt)
  if (length(tests_at)) txt <- txt[seq_len(tests_at[[1]] - 1L)]
  txt <- txt[!grepl("^\\s*//", txt)] # comments (doc links) use nothing
  used <- unique(unlist(regmatches(txt, gregexpr("crate::[a-z_]+", txt))))
  cg[[m]] <- setdiff(intersect(sub("crate::", "", used), mods), m)
}
for (cyc in cycles_of(cg)) {
  problem("core modules in a circle: %s", paste(sort(cyc), collapse = ", "))
}

if (length(problems)) {
  cat(problems, sep = "\n")
  cat(sprintf("\n%d problem(s) with the package's structure\n", length(problems)))
  quit(status = 1L)
}
cat(sprintf("structure: %d R files without a circle, a test file each; %d Rust files; no function over 150 lines; %d core modules without a circle\n",
            length(r_files), length(rs_files), length(mods)))
