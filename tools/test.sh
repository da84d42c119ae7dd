#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine with Rust:
# installs what is missing, runs the Rust tests, checks the generated R
# wrappers and the package's structure (tools/check-structure.R), vendors
# the crates and builds the source tarball, installs it with the network
# cut off (proving the offline build), runs the testthat
# suite against that installation, builds the documentation site from it
# offline and checks the site in a browser (tools/site.sh,
# tools/check-site.sh), checks memory (valgrind, and a loop of 100,000
# calls) and runs R CMD check --as-cran on the tarball. Ends with one line
# "N passed, N failed" counting cargo and testthat tests and the two site
# steps (a failing step outside them counts as one failure).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash tools/install-deps.sh || exit 1
export PATH="$PATH:$HOME/.cargo/bin"
export NOT_CRAN=true

work=$(mktemp -d "${TMPDIR:-/tmp}/fwdprop-test.XXXXXX")
trap 'rm -rf "$work" "$root/src/rust/vendor.tar.xz"' EXIT
# one cargo cache for the builds of this run (wrappers, install, check)
export FWDPROP_TARGET_DIR="$work/cargo-target"
status=0
cargo_passed=0
cargo_failed=0

section() { printf '\n==== %s ====\n' "$1"; }

section "cargo test"
if (cd src/rust && cargo test --workspace -j 2 2>&1) | tee "$work/cargo.log"; then :; else status=1; fi
read -r cargo_passed cargo_failed < <(
  sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$work/cargo.log" |
    awk '{p += $1; f += $2} END {print p + 0, f + 0}')
if ! grep -q '^test result:' "$work/cargo.log"; then cargo_failed=$((cargo_failed + 1)); status=1; fi

section "generated R wrappers are up to date"
bash tools/update-wrappers.sh --check || status=1

section "the house's rules: no circle among R files or core modules, short functions, a test file per R file"
Rscript tools/check-structure.R || status=1

section "vendor the Rust crates (offline build) and regenerate inst/AUTHORS"
bash tools/vendor.sh || { echo "vendoring failed"; exit 1; }
git diff --quiet -- inst/AUTHORS 2>/dev/null || echo "note: inst/AUTHORS changed; commit it"

section "R CMD build"
(cd "$work" && R CMD build --no-manual "$root") || { echo "R CMD build failed"; exit 1; }
tarball=$(ls "$work"/fwdprop_*.tar.gz)

section "install the built package with the network cut off"
mkdir -p "$work/lib"
if [ "$(id -u)" -eq 0 ]; then offline=(unshare -n); else offline=(unshare -rn); fi
# no shared cargo cache here: every crate is compiled from the vendored sources
if env -u FWDPROP_TARGET_DIR "${offline[@]}" R CMD INSTALL --library="$work/lib" "$tarball" \
    > "$work/install.log" 2>&1; then
  grep -E "^using (cargo|rustc)" "$work/install.log"
  tail -n 1 "$work/install.log"
else
  cat "$work/install.log"; echo "offline install failed"; exit 1
fi

section "testthat"
Rscript tools/run-testthat.R "$work/lib" "$work/testthat-counts" || status=1
read -r tt_passed tt_failed tt_skipped < "$work/testthat-counts" || { tt_passed=0; tt_failed=1; tt_skipped=0; }
[ "${tt_failed:-1}" -eq 0 ] || status=1

section "documentation site: built offline from this installation, checked in a browser"
# tools/site.sh builds docs/ with pkgdown (network cut off), then
# tools/check-site.sh opens every page in headless Chromium (or checks the
# HTML files only, with a message, when Chromium is not installed); each
# counts as one test
site_passed=0
site_failed=0
if bash tools/site.sh "$work/lib" >"$work/site.log" 2>&1; then
  grep -E "^(site built|built in)" "$work/site.log"
  site_passed=$((site_passed + 1))
  if bash tools/check-site.sh docs check/site; then
    site_passed=$((site_passed + 1))
  else
    echo "the site check failed"
    site_failed=$((site_failed + 1))
    status=1
  fi
else
  tail -n 40 "$work/site.log"
  echo "the site build failed (full log above); the browser check did not run"
  site_failed=$((site_failed + 2))
  status=1
fi

section "memory: valgrind on every function (normal and error paths)"
bash tools/valgrind.sh --installed "$work/lib" 2>"$work/valgrind-records.log" ||
  { cat "$work/valgrind-records.log"; status=1; }

section "memory: 100,000 calls of mm() and forward() in a loop"
R_LIBS="$work/lib" Rscript tools/memory-loop.R 100000 || status=1

section "R CMD check --as-cran"
# --no-manual: the PDF manual needs LaTeX, which is not installed; the remote
# parts of the CRAN incoming checks need CRAN, which may not be reachable:
# they are switched off, and the CRAN package list that --as-cran reads to
# look for orphaned dependencies is replaced by an empty local one. The
# clock check asks a time server (unreachable here), and TZ spares R asking
# timedatectl, which prints an error on machines without systemd.
mkdir -p "$work/cranweb/web/packages"
Rscript -e 'saveRDS(matrix(character(0), 0, 2, dimnames = list(NULL, c("Package", "Maintainer"))), commandArgs(TRUE)[1])' \
  "$work/cranweb/web/packages/packages.rds"
(cd "$work" && R_CRAN_WEB="file://$work/cranweb" \
  _R_CHECK_FORCE_SUGGESTS_=false _R_CHECK_CRAN_INCOMING_REMOTE_=false \
  _R_CHECK_FUTURE_FILE_TIMESTAMPS_=false _R_CHECK_SYSTEM_CLOCK_=0 TZ=UTC \
  R CMD check --as-cran --no-manual "$tarball") 2>&1 | tee "$work/check.log"
if grep -Eq '^Status: .*(ERROR|WARNING)' "$work/check.log" || ! grep -q '^Status: ' "$work/check.log"; then
  echo "R CMD check reported errors or warnings"
  for f in "$work"/fwdprop.Rcheck/00install.out "$work"/fwdprop.Rcheck/tests/testthat.Rout.fail; do
    [ -f "$f" ] && tail -n 40 "$f"
  done
  status=1
fi

section "summary"
echo "cargo: $cargo_passed passed, $cargo_failed failed"
echo "testthat: $tt_passed passed, $tt_failed failed, $tt_skipped skipped"
echo "site (build, browser check): $site_passed passed, $site_failed failed"
echo "R CMD check: $(grep '^Status: ' "$work/check.log" || echo 'did not finish')"
grep -B1 -A4 -E '\.\.\. (NOTE|WARNING|ERROR)$' "$work/check.log" | sed 's/^/  /'
failed=$((cargo_failed + tt_failed + site_failed))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # a step outside the counted tests (wrappers, build, check) failed: count it
  echo "a step other than the counted tests failed (see above)"
  failed=1
fi
echo "$((cargo_passed + tt_passed + site_passed)) passed, $failed failed"
exit "$status"
