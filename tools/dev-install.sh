#!/usr/bin/env bash
# Development install: copies the working tree to a private build folder
# (so parallel builds never share src/*.o or src/rust/target) and installs
# fwdprop into a library folder, reusing a cargo target cache.
#   bash tools/dev-install.sh [LIBDIR] [NAME]
# LIBDIR defaults to R's default library; NAME (default "dev") names the
# build folder /tmp/fwdprop-build-NAME and the cache ~/.cache/fwdprop-target-NAME.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:-}
name=${2:-dev}
build="/tmp/fwdprop-build-$name"
mkdir -p "$build"
tar --exclude=.git --exclude=src/rust/target -cf - . | (cd "$build" && rm -rf ./* && tar -xf -)
export FWDPROP_TARGET_DIR="${FWDPROP_TARGET_DIR:-$HOME/.cache/fwdprop-target-$name}"
if [ -n "$lib" ]; then
  mkdir -p "$lib"
  R CMD INSTALL --no-multiarch --library="$lib" "$build"
else
  R CMD INSTALL --no-multiarch "$build"
fi
