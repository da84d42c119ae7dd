#!/usr/bin/env bash
# Installs what fwdprop needs on a Debian/Ubuntu machine, from the OS
# packages: R, the R packages used to build, test and document it, pandoc.
# Idempotent: packages already installed are skipped, and apt is not run at
# all when nothing is missing. Rust (cargo, rustc) must already be there
# (https://rustup.rs); this script checks for it.
set -euo pipefail

pkgs=(
  r-base-dev
  r-cran-testthat
  r-cran-knitr
  r-cran-rmarkdown
  r-cran-roxygen2
  r-cran-bench
  r-cran-rcmdcheck
  r-cran-jsonlite
  r-cran-cli
  r-cran-generics
  r-cran-nnet
  r-cran-dbi
  r-cran-rsqlite
  r-cran-future
  r-cran-future.apply
  r-cran-progressr
  r-cran-pkgdown
  r-cran-xml2
  r-cran-recipes # mlp() with a recipe (apt brings hardhat, dplyr, ...)
  r-cran-caret # caret_mlp() (apt brings ggplot2, lattice, ...)
  r-cran-rsample # lecture 9's split (tests)
  r-cran-processx # tests in child processes
  r-cran-callr # a saved model predicts in a new session (tests)
  pandoc
  xz-utils
  util-linux
  qpdf
  valgrind
)
# installed without their recommended packages (which are many)
pkgs_norec=(
  devscripts # checkbashisms, which R CMD check --as-cran runs on configure
  chromium # the documentation site's check in a real browser
  fonts-noto-cjk # Hangul in the browser's rendering of the Korean articles
  fonts-dejavu-extra # a math font (DejaVu Math TeX Gyre): browsers stretch MathML brackets with it
)

not_installed() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
missing=($(not_installed "${pkgs[@]}"))
missing_norec=($(not_installed "${pkgs_norec[@]}"))

if [ $((${#missing[@]} + ${#missing_norec[@]})) -gt 0 ]; then
  echo "installing: ${missing[*]} ${missing_norec[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ${#missing_norec[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${missing_norec[@]}" >/dev/null
  fi
else
  echo "system packages: all present"
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$PATH:$HOME/.cargo/bin"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "Rust is missing: install it with rustup (https://rustup.rs) or 'apt-get install cargo rustc', then run this again." >&2
  exit 1
fi
echo "R: $(R --version | head -n 1)"
echo "Rust: $(cargo --version), $(rustc --version)"
