# Writes inst/AUTHORS from the metadata of every crate fwdprop's Rust code
# depends on (cargo metadata; the crates must be available locally, as
# after `cargo vendor` or a build).
args <- commandArgs(trailingOnly = TRUE)
rust <- args[[1]]
json <- system2("cargo", c("metadata", "--format-version", "1", "--locked", "--offline",
                           "--manifest-path", file.path(rust, "Cargo.toml")), stdout = TRUE)
meta <- jsonlite::fromJSON(paste(json, collapse = "\n"), simplifyVector = FALSE)
own <- c("fwdprop", "fwdprop-core")
pk <- Filter(function(p) !(p$name %in% own), meta$packages)
pk <- pk[order(vapply(pk, function(p) p$name, ""))]
lines <- c(
  "The fwdprop package includes, in its source tarball, the source code of",
  "the following Rust crates (vendored for an offline build). Their",
  "authors and licences:",
  ""
)
for (p in pk) {
  authors <- unlist(p$authors)
  if (!length(authors)) authors <- "(authors not listed in the crate's manifest)"
  lines <- c(lines,
    sprintf("%s %s (license: %s)%s", p$name, p$version,
            if (is.null(p$license)) "see crate" else p$license,
            if (is.null(p$repository)) "" else paste0(", ", p$repository)),
    paste0("  ", authors),
    "")
}
writeLines(lines, "inst/AUTHORS")
