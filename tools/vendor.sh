#!/usr/bin/env bash
# Release step: vendors the Rust crates for an offline build (as CRAN
# requires) and regenerates inst/AUTHORS from their manifests.
#   bash tools/vendor.sh
# writes src/rust/vendor.tar.xz (not committed; .gitignore'd), built
# reproducibly: sorted names, fixed mtime, numeric owner 0, no xattrs.
# src/Makevars builds from it with --offline whenever it is present.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$HOME/.cargo/bin"
rust=src/rust
rm -rf "$rust/vendor" "$rust/vendor.tar.xz"
cargo vendor --locked --manifest-path "$rust/Cargo.toml" "$rust/vendor" > /dev/null
# vendored crates keep their own tests, benches and examples out: they are
# not needed to build and make the tarball larger
find "$rust/vendor" -mindepth 2 -maxdepth 2 -type d \
  \( -name tests -o -name benches -o -name examples \) -prune -exec rm -rf {} +
# cargo checks vendored files against .cargo-checksum.json: drop the
# entries of the files just removed
Rscript tools/fix-checksums.R "$rust/vendor"
(cd "$rust" && tar --sort=name --mtime='2026-01-01 00:00:00Z' --owner=0 --group=0 \
  --numeric-owner --no-xattrs --format=gnu -cf - vendor | xz -9e -T1 > vendor.tar.xz)
Rscript tools/write-authors.R "$rust"
rm -rf "$rust/vendor"
echo "wrote $rust/vendor.tar.xz ($(du -h "$rust/vendor.tar.xz" | cut -f1)) and inst/AUTHORS"
