# Removes entries for deleted files from every vendored crate's
# .cargo-checksum.json (tools/vendor.sh prunes tests/benches/examples).
args <- commandArgs(trailingOnly = TRUE)
for (crate in list.dirs(args[[1]], recursive = FALSE)) {
  f <- file.path(crate, ".cargo-checksum.json")
  if (!file.exists(f)) next
  j <- jsonlite::fromJSON(f, simplifyVector = FALSE)
  keep <- file.exists(file.path(crate, names(j$files)))
  j$files <- j$files[keep]
  if (length(j$files) == 0L) j$files <- structure(list(), names = character(0))
  writeLines(jsonlite::toJSON(j, auto_unbox = TRUE), f)
}
