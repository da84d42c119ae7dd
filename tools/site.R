# Builds the documentation site into docs/ with pkgdown, from the installed
# fwdprop (run by tools/site.sh, which cuts the network off first):
#   1. pkgdown's own check of _pkgdown.yml (every topic and article indexed),
#      a check that every exported function is in exactly one group of the
#      reference index, and one that the user documentation (README,
#      vignettes, man, the report template) cites no issue-tracker numbers;
#   2. pkgdown::build_site() without installing the package (the examples
#      and articles run the fwdprop found on .libPaths());
#   3. formulas made MathML: pkgdown leaves them as TeX for MathJax, which
#      it loads from a CDN, so offline they would show as raw TeX. Each
#      \(...\) and \[...\] outside code is converted by pandoc (--mathml,
#      as rmarkdown's math_method = "mathml" does for the vignettes).
#   Rscript tools/site.R
options(warn = 1)

# --- 1. checks ------------------------------------------------------------

# The exported functions and, for each, the reference groups (titles, or the
# group's subtitle) that list a topic documenting it.
export_groups <- function(meta, rd_aliases) {
  exports <- sort(getNamespaceExports("fwdprop"))
  title <- NA_character_
  found <- setNames(vector("list", length(exports)), exports)
  for (section in meta$reference) {
    if (!is.null(section$title)) title <- section$title
    label <- if (!is.null(section$subtitle)) paste0(title, " / ", section$subtitle) else title
    for (topic in unlist(section$contents)) {
      if (!topic %in% names(rd_aliases)) {
        stop(sprintf("_pkgdown.yml: the reference group \"%s\" lists \"%s\", which is not a topic in man/ (give topic names, not selectors)",
                     label, topic), call. = FALSE)
      }
      for (f in intersect(rd_aliases[[topic]], exports)) found[[f]] <- c(found[[f]], label)
    }
  }
  found
}

rd_aliases <- function(man = "man") {
  files <- list.files(man, pattern = "\\.Rd$", full.names = TRUE)
  aliases <- lapply(files, function(f) {
    rd <- tools::parse_Rd(f)
    tags <- vapply(rd, function(x) attr(x, "Rd_tag"), character(1L))
    vapply(rd[tags == "\\alias"], function(x) as.character(x[[1L]]), character(1L))
  })
  setNames(aliases, sub("\\.Rd$", "", basename(files)))
}

cat("== pkgdown's check of _pkgdown.yml\n")
pkg <- pkgdown::as_pkgdown(".")
pkgdown::check_pkgdown(pkg)

cat("== every exported function in exactly one reference group\n")
found <- export_groups(pkg$meta, rd_aliases())
n_groups <- lengths(found)
if (any(n_groups != 1L)) {
  for (f in names(found)[n_groups == 0L]) message(sprintf("  %s: in no group of _pkgdown.yml's reference index", f))
  for (f in names(found)[n_groups > 1L]) {
    message(sprintf("  %s: in %d groups (%s)", f, n_groups[[f]], paste(found[[f]], collapse = "; ")))
  }
  stop("every exported function must be in exactly one reference group", call. = FALSE)
}
cat(sprintf("%d exported functions, each in one group\n", length(found)))

cat("== user documentation speaks to users: no issue-tracker numbers\n")
user_docs <- c("README.md", list.files("vignettes", pattern = "\\.Rmd$", recursive = TRUE, full.names = TRUE),
               list.files("man", pattern = "\\.Rd$", full.names = TRUE),
               list.files("inst/rmarkdown", recursive = TRUE, full.names = TRUE))
tracker <- "(?i)\\bissues?\\s*#?\\d+|(^|[\\s(])#\\d+\\b"
hits <- unlist(lapply(user_docs, function(f) {
  text <- readLines(f, warn = FALSE, encoding = "UTF-8")
  i <- grep(tracker, text, perl = TRUE)
  if (length(i)) sprintf("  %s:%d: %s", f, i, trimws(text[i]))
}))
if (length(hits)) {
  message(paste(hits, collapse = "\n"))
  stop("the user documentation refers to the issue tracker (say what is meant instead)", call. = FALSE)
}

# --- 2. build ---------------------------------------------------------------

lib <- dirname(find.package("fwdprop"))
cat(sprintf("== building the site from fwdprop %s installed in %s\n", packageVersion("fwdprop"), lib))
pkgdown::build_site(pkg = ".", install = FALSE, new_process = FALSE, preview = FALSE)

# pkgdown 2.0.7 writes an empty logo, <img src="" class="logo">, at the top
# of every page but the home page when the package has no logo: remove it.
for (path in list.files("docs", pattern = "\\.html$", recursive = TRUE, full.names = TRUE)) {
  text <- readLines(path, warn = FALSE, encoding = "UTF-8")
  empty_logo <- grepl('<img src="" class="logo" alt="" ?>', text)
  if (any(empty_logo)) {
    writeLines(sub('<img src="" class="logo" alt="" ?>', "", text), path, useBytes = TRUE)
  }
}

# --- 3. MathML --------------------------------------------------------------

# TeX formulas, `inline` or display, as MathML strings, by one pandoc call.
# NA for a formula pandoc could not convert.
tex_to_mathml <- function(tex, display) {
  src <- tempfile(fileext = ".tex")
  out <- tempfile(fileext = ".html")
  on.exit(unlink(c(src, out)))
  wrapped <- ifelse(display, paste0("\\[", tex, "\\]"), paste0("\\(", tex, "\\)"))
  writeLines(enc2utf8(paste(wrapped, collapse = "\n\n\\par\n\n")), src, useBytes = TRUE)
  status <- system2(rmarkdown::pandoc_exec(), c("-f", "latex", "-t", "html", "--mathml", "-o", shQuote(out), shQuote(src)))
  if (status != 0L) return(rep(NA_character_, length(tex)))
  html <- xml2::read_html(out, encoding = "UTF-8")
  maths <- xml2::xml_find_all(html, "//math")
  if (length(maths) == length(tex)) return(vapply(maths, as.character, character(1L)))
  # one formula failed (pandoc left it as text): convert them one at a time
  if (length(tex) == 1L) return(NA_character_)
  vapply(seq_along(tex), function(i) tex_to_mathml(tex[[i]], display[[i]]), character(1L))
}

escape_text <- function(x) {
  x <- gsub("&", "&amp;", x, fixed = TRUE)
  x <- gsub("<", "&lt;", x, fixed = TRUE)
  gsub(">", "&gt;", x, fixed = TRUE)
}

# Converts the formulas of one page; returns the number converted and the
# number left as TeX (which tools/check-site.sh reports).
mathml_page <- function(path) {
  text <- readLines(path, warn = FALSE, encoding = "UTF-8")
  if (!any(grepl("\\(", text, fixed = TRUE) | grepl("\\[", text, fixed = TRUE))) return(c(0L, 0L))
  html <- xml2::read_html(path, encoding = "UTF-8")
  nodes <- xml2::xml_find_all(html, paste0(
    "//body//text()[(contains(., '\\(') or contains(., '\\['))",
    " and not(ancestor::pre or ancestor::code or ancestor::script or ancestor::style",
    " or ancestor::textarea or ancestor::math)]"
  ))
  if (!length(nodes)) return(c(0L, 0L))
  pattern <- "(?s)\\\\\\((.+?)\\\\\\)|\\\\\\[(.+?)\\\\\\]"
  pieces <- lapply(nodes, function(node) {
    s <- xml2::xml_text(node)
    m <- gregexpr(pattern, s, perl = TRUE)[[1L]]
    if (m[[1L]] == -1L) return(NULL)
    starts <- as.integer(m)
    ends <- starts + attr(m, "match.length") - 1L
    formulas <- substring(s, starts, ends)
    display <- startsWith(formulas, "\\[")
    list(node = node, text = s, starts = starts, ends = ends,
         tex = substring(formulas, 3L, nchar(formulas) - 2L), display = display)
  })
  pieces <- Filter(Negate(is.null), pieces)
  if (!length(pieces)) return(c(0L, 0L))
  tex <- unlist(lapply(pieces, `[[`, "tex"))
  display <- unlist(lapply(pieces, `[[`, "display"))
  mathml <- tex_to_mathml(tex, display)
  k <- 0L
  for (p in pieces) {
    n <- length(p$tex)
    ml <- mathml[k + seq_len(n)]
    k <- k + n
    # the text between the formulas, escaped, and the MathML of each
    # formula (the formula's TeX where it could not be converted)
    gaps_from <- c(1L, p$ends + 1L)
    gaps_to <- c(p$starts - 1L, nchar(p$text))
    gaps <- escape_text(substring(p$text, gaps_from, gaps_to))
    formulas <- ifelse(is.na(ml), escape_text(substring(p$text, p$starts, p$ends)), ml)
    inner <- paste0(c(rbind(gaps[-length(gaps)], formulas), gaps[[length(gaps)]]), collapse = "")
    span <- xml2::read_xml(paste0('<span class="fwdprop-math">', inner, "</span>"))
    xml2::xml_replace(p$node, span)
  }
  xml2::write_html(html, path, format = FALSE)
  c(sum(!is.na(mathml)), sum(is.na(mathml)))
}

cat("== formulas as MathML\n")
pages <- list.files("docs", pattern = "\\.html$", recursive = TRUE, full.names = TRUE)
counts <- vapply(pages, mathml_page, integer(2L))
for (p in pages[counts[1L, ] + counts[2L, ] > 0L]) {
  cat(sprintf("  %s: %d formulas%s\n", p, counts[1L, p],
              if (counts[2L, p] > 0L) sprintf(", %d left as TeX (pandoc could not read them)", counts[2L, p]) else ""))
}
cat(sprintf("site built in docs/: %d pages, %d formulas as MathML\n", length(pages), sum(counts[1L, ])))
