#!/usr/bin/env bash
# Builds the documentation site (pkgdown) into docs/, offline, from the
# installed fwdprop: the reference examples and the articles run the
# package found in LIBDIR (or R's default library), not the source tree.
#   bash tools/site.sh [LIBDIR]
# Needs pkgdown, xml2 and pandoc (tools/install-deps.sh installs them).
#
# No request reaches the network: where the system allows it (root, or
# unprivileged user namespaces) the build runs in a network namespace of
# its own, and in any case every HTTP(S) proxy variable points to a closed
# local port, so a lookup fails at once instead of waiting. _pkgdown.yml is
# set up so that pkgdown does not need any (a local home sidebar instead
# of the CRAN lookup, no CRAN dates in the changelog). See tools/site.R for
# the steps.
set -euo pipefail
cd "$(dirname "$0")/.."

lib=${1:-}
if [ -n "$lib" ]; then
  [ -d "$lib/fwdprop" ] || { echo "fwdprop is not installed in $lib" >&2; exit 1; }
  export R_LIBS="$lib${R_LIBS:+:$R_LIBS}"
fi
Rscript -e 'for (p in c("fwdprop", "pkgdown", "xml2", "rmarkdown")) if (!requireNamespace(p, quietly = TRUE)) stop("the R package ", p, " is not installed", call. = FALSE)
            if (!rmarkdown::pandoc_available("2.0")) stop("pandoc is not installed", call. = FALSE)' || exit 1

for v in http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy; do
  export "$v=http://127.0.0.1:9"
done
unset no_proxy NO_PROXY
offline=()
if unshare -n true 2>/dev/null; then
  offline=(unshare -n)
elif unshare -rn true 2>/dev/null; then
  offline=(unshare -rn)
else
  echo "note: no network namespace available; requests are sent to a closed local proxy instead"
fi

rm -rf docs
start=$(date +%s)
"${offline[@]}" Rscript tools/site.R
echo "built in $(( $(date +%s) - start )) s${offline:+ with the network cut off}"
