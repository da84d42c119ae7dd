# Checks the documentation site built by tools/site.sh (run by
# tools/check-site.sh):
#   Rscript tools/check-site.R DOCS [DOMS]
# DOCS is the site (docs/); DOMS, when given, holds each page's rendered
# DOM as headless Chromium dumped it (same relative paths), and every check
# is then also made on what the browser shows after the pages' scripts ran.
# Prints one line per problem and exits with status 1 if there is any.
args <- commandArgs(trailingOnly = TRUE)
docs <- normalizePath(args[[1L]], mustWork = TRUE)
doms <- if (length(args) >= 2L) normalizePath(args[[2L]], mustWork = TRUE) else NULL

problems <- character()
problem <- function(page, fmt, ...) {
  problems <<- c(problems, sprintf("%s: %s", page, sprintf(fmt, ...)))
}

pages <- sort(list.files(docs, pattern = "\\.html$", recursive = TRUE))
if (!length(pages)) stop("no pages in ", docs, call. = FALSE)

# --- what a page's source says --------------------------------------------

# Whether the source of a page has formulas: an article's R Markdown file
# (TeX between dollars or \( \[ outside code) or a topic's Rd file
# (\eqn, \deqn).
source_has_math <- function(page) {
  name <- sub("\\.html$", "", basename(page))
  if (startsWith(page, "articles/")) {
    rmd <- c(file.path("vignettes", paste0(name, ".Rmd")), file.path("vignettes", "articles", paste0(name, ".Rmd")))
    rmd <- rmd[file.exists(rmd)]
    if (!length(rmd)) return(FALSE)
    text <- paste(readLines(rmd[[1L]], warn = FALSE, encoding = "UTF-8"), collapse = "\n")
    text <- gsub("(?s)```.*?```", "", text, perl = TRUE) # code chunks
    text <- gsub("`[^`]*`", "", text) # inline code
    return(grepl("\\$\\$|\\\\\\(|\\\\\\[|\\$[^$\\s][^$]*\\$", text, perl = TRUE))
  }
  if (startsWith(page, "reference/")) {
    rd <- file.path("man", paste0(name, ".Rd"))
    return(file.exists(rd) && any(grepl("\\\\d?eqn\\{", readLines(rd, warn = FALSE))))
  }
  FALSE
}

# Rd topics with examples (and not internal): their pages must show output.
topics_with_examples <- function() {
  files <- list.files("man", pattern = "\\.Rd$", full.names = TRUE)
  keep <- vapply(files, function(f) {
    text <- readLines(f, warn = FALSE)
    any(grepl("^\\\\examples\\{", text)) && !any(grepl("\\\\keyword\\{internal\\}", text))
  }, logical(1L))
  sub("\\.Rd$", "", basename(files[keep]))
}

# --- what a page shows ----------------------------------------------------

read_page <- function(path) {
  tryCatch(xml2::read_html(path, encoding = "UTF-8"), error = function(e) NULL)
}

# The text a reader sees: the body without scripts, styles, code and the TeX
# annotations that MathML keeps for copying (browsers do not show them).
visible_text <- function(html) {
  body <- xml2::xml_find_first(html, "//body")
  if (inherits(body, "xml_missing")) return("")
  copy <- xml2::read_html(as.character(body), encoding = "UTF-8")
  hidden <- xml2::xml_find_all(copy, paste(
    "//script", "//style", "//noscript", "//template", "//pre", "//code",
    "//*[local-name()='annotation']", "//*[local-name()='annotation-xml']", sep = " | "
  ))
  xml2::xml_remove(hidden)
  xml2::xml_text(copy)
}

local_target <- function(page, ref) {
  ref <- sub("[#?].*$", "", ref)
  if (!nzchar(ref)) return(NULL)
  ref <- utils::URLdecode(ref)
  if (startsWith(ref, "file://")) return(sub("^file://", "", ref))
  if (startsWith(ref, "/")) return(ref)
  file.path(docs, dirname(page), ref)
}
is_external <- function(ref) grepl("^[a-zA-Z][a-zA-Z0-9+.-]*:", ref) && !startsWith(ref, "file:")

check_page <- function(page, html, where) {
  what <- sprintf("%s (%s)", page, where)
  if (is.null(html)) {
    problem(what, "could not be read")
    return(invisible())
  }
  title <- xml2::xml_text(xml2::xml_find_first(html, "//title"))
  main <- xml2::xml_find_first(html, "//main")
  if (is.na(title) || !nzchar(trimws(title)) || inherits(main, "xml_missing") ||
      nchar(trimws(xml2::xml_text(main))) < 20L) {
    problem(what, "did not load (no title or no content in <main>)")
    return(invisible())
  }
  if (grepl("ERR_FILE_NOT_FOUND|This site can.t be reached", xml2::xml_text(html))) {
    problem(what, "the browser shows an error page")
  }

  # images: each <img> shows a file of the site or an embedded image
  for (src in xml2::xml_attr(xml2::xml_find_all(html, "//img"), "src")) {
    if (is.na(src) || !nzchar(src)) {
      problem(what, "an <img> without a src")
    } else if (startsWith(src, "data:")) {
      if (!grepl("^data:image/[a-z+]+;base64,.{100}", src)) problem(what, "an embedded image is empty or not an image")
    } else if (is_external(src)) {
      problem(what, "the image %s is not part of the site (not available offline)", src)
    } else {
      target <- local_target(page, src)
      if (is.null(target) || !file.exists(target) || file.size(target) == 0L) {
        problem(what, "the image %s does not exist", src)
      }
    }
  }

  # links, stylesheets and scripts of the site itself resolve
  refs <- c(xml2::xml_attr(xml2::xml_find_all(html, "//a[@href]"), "href"),
            xml2::xml_attr(xml2::xml_find_all(html, "//link[@href]"), "href"),
            xml2::xml_attr(xml2::xml_find_all(html, "//script[@src]"), "src"))
  for (ref in unique(refs)) {
    if (is_external(ref) || startsWith(ref, "#") || !nzchar(ref)) next
    target <- local_target(page, ref)
    if (!is.null(target) && !file.exists(target)) problem(what, "the link %s leads nowhere", ref)
  }

  # formulas: MathML where the source has math, and no TeX left in sight
  text <- visible_text(html)
  n_math <- length(xml2::xml_find_all(html, "//*[local-name()='math']"))
  if (source_has_math(page) && n_math == 0L) {
    problem(what, "its source has formulas but the page has no MathML <math> element")
  }
  raw <- regmatches(text, gregexpr("\\\\begin\\{|\\\\end\\{|\\\\frac|\\\\\\[|\\\\\\]|\\\\\\(|\\\\\\)|\\$\\$", text))[[1L]]
  if (length(raw)) {
    problem(what, "raw TeX in the visible text (%s): formulas were not rendered", paste(unique(raw), collapse = " "))
  }

  # the Korean lecture articles are in Korean
  if (grepl("^articles/(lecture-|backprop-by-hand)", page)) {
    n_hangul <- nchar(gsub("[^\uAC00-\uD7A3]", "", text))
    if (n_hangul < 100L) problem(what, "only %d Hangul syllables: the Korean text is missing", n_hangul)
  }

  # reference pages show their examples' output
  if (startsWith(page, "reference/") && sub("\\.html$", "", basename(page)) %in% with_examples) {
    ex <- xml2::xml_find_first(html, "//*[@id='ref-examples']/..")
    if (inherits(ex, "xml_missing")) {
      problem(what, "no Examples section")
    } else {
      n_out <- length(xml2::xml_find_all(ex, ".//*[contains(@class, 'r-out') or contains(@class, 'r-plt')]"))
      if (n_out == 0L) problem(what, "the examples show no output")
    }
  }
  invisible()
}

with_examples <- topics_with_examples()
for (t in with_examples) {
  if (!file.exists(file.path(docs, "reference", paste0(t, ".html")))) problem(sprintf("reference/%s.html", t), "missing")
}

sources <- list(site = function(p) file.path(docs, p))
if (!is.null(doms)) sources$browser <- function(p) file.path(doms, p)
for (where in names(sources)) {
  for (page in pages) {
    path <- sources[[where]](page)
    check_page(page, if (file.exists(path) && file.size(path) > 0L) read_page(path) else NULL, where)
  }
}

# --- the site as a whole ----------------------------------------------------

home <- read_page(file.path(if (!is.null(doms)) doms else docs, "index.html"))
if (!is.null(home)) {
  # home from the README
  readme_heads <- sub("^#+ +", "", grep("^## ", readLines("README.md", warn = FALSE, encoding = "UTF-8"), value = TRUE))
  home_heads <- trimws(xml2::xml_text(xml2::xml_find_all(home, "//main//h2")))
  missing <- setdiff(readme_heads, home_heads)
  if (length(missing)) problem("index.html", "the README's sections %s are missing", paste(missing, collapse = ", "))
  # every article in the navbar's menu, the Korean lectures first
  menu <- xml2::xml_attr(xml2::xml_find_all(home, "//nav//*[contains(@class, 'dropdown-menu')]//a[@href]"), "href")
  menu_articles <- basename(menu[grepl("^articles/", menu) & !grepl("articles/index\\.html$", menu)])
  articles <- setdiff(basename(pages[startsWith(pages, "articles/")]), "index.html")
  absent <- setdiff(articles, menu_articles)
  if (length(absent)) problem("index.html", "articles missing from the navbar menu: %s", paste(absent, collapse = ", "))
  lectures <- grepl("^lecture-", menu_articles)
  if (any(lectures) && !all(lectures[seq_len(sum(lectures))])) {
    problem("index.html", "the Korean lecture articles do not come first in the navbar menu")
  }
}
if (!is.null(doms)) {
  # the offline stand-ins built each article's table of contents
  for (page in pages[grepl("^articles/", pages) & basename(pages) != "index.html"]) {
    dom <- read_page(file.path(doms, page))
    if (is.null(dom)) next
    n_toc <- length(xml2::xml_find_all(dom, "//nav[@id='toc']//a"))
    if (n_toc < 2L) problem(sprintf("%s (browser)", page), "no table of contents (%d links)", n_toc)
  }
}
news <- read_page(file.path(docs, "news", "index.html"))
if (is.null(news) || !grepl("fwdprop 0", xml2::xml_text(news))) problem("news/index.html", "no changelog")

if (length(problems)) {
  cat(sprintf("FAIL %s\n", problems), sep = "")
  cat(sprintf("%d problem%s in %d pages\n", length(problems), if (length(problems) == 1L) "" else "s", length(pages)))
  quit(status = 1L)
}
cat(sprintf("site check passed: %d pages%s\n", length(pages),
            if (is.null(doms)) " (the files only)" else ", as files and as rendered by the browser"))
