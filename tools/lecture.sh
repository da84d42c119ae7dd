#!/usr/bin/env bash
# The main job, from a fresh Debian/Ubuntu machine with Rust: installs what
# is missing, builds and installs fwdprop, and runs the lecture's example
# (inst/examples/lecture-05.R), printing its results.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
export PATH="$PATH:$HOME/.cargo/bin"
lib="${FWDPROP_LIB:-$HOME/.local/lib/R/fwdprop-library}"
mkdir -p "$lib"
echo "installing fwdprop into $lib"
R CMD INSTALL --no-multiarch --library="$lib" . > /tmp/fwdprop-install.log 2>&1 ||
  { cat /tmp/fwdprop-install.log; exit 1; }
R_LIBS="$lib${R_LIBS:+:$R_LIBS}" Rscript inst/examples/lecture-05.R
