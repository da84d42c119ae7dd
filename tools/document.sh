#!/usr/bin/env bash
# Regenerates NAMESPACE and man/ from the roxygen2 comments in R/.
# The R code is sourced (no compilation needed).
set -euo pipefail
cd "$(dirname "$0")/.."
Rscript -e 'roxygen2::roxygenise(load_code = roxygen2::load_source)'
