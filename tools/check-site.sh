#!/usr/bin/env bash
# Checks the documentation site that tools/site.sh built into docs/, as a
# reader sees it: opens every page in headless Chromium, with the network
# cut off, and fails unless each page loads, every image is a file of the
# site, formulas are rendered (MathML, no TeX left in the visible text),
# the Korean lecture articles hold Hangul, reference pages show their
# examples' output, every article is in the navbar menu (the Korean
# lectures first) and the offline stand-ins built each article's table of
# contents (tools/check-site.R has the details). Saves screenshots of the
# home page, the Korean lecture article and a reference page (sigmoid(),
# with a formula and its examples' output) in SHOTS.
#   bash tools/check-site.sh [DOCS] [SHOTS]
# DOCS defaults to docs/, SHOTS to check/site/. The same checks are made on
# the HTML files first; when Chromium is not installed only those run, and
# the browser part is skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
docs=${1:-docs}
shots=${2:-check/site}
[ -f "$docs/index.html" ] || { echo "no site in $docs: run tools/site.sh first" >&2; exit 1; }
docs=$(cd "$docs" && pwd)

browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
done
if [ -z "$browser" ]; then
  echo "== SKIPPED: the browser part of the site check (Chromium is not installed;"
  echo "   tools/install-deps.sh installs it); checking the HTML files only"
  Rscript tools/check-site.R "$docs"
  exit $?
fi

# Hangul needs a Korean font, or the screenshots show empty boxes
if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=ko family 2>/dev/null | head -n 1)" ]; then
  echo "FAIL no font with Hangul is installed (fonts-noto-cjk): the Korean articles would not render" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fwdprop-site-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/dom" "$shots"
offline=()
if unshare -n true 2>/dev/null; then
  offline=(unshare -n)
elif unshare -rn true 2>/dev/null; then
  offline=(unshare -rn)
fi
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --disable-default-apps --no-default-browser-check --mute-audio
  --proxy-server=http://127.0.0.1:9 --user-data-dir="$work/profile")
chrome() { timeout 60 "${offline[@]}" "$browser" "${flags[@]}" "$@" 2>>"$work/chromium.log"; }

echo "== opening every page in $($browser --version 2>/dev/null || echo "$browser")${offline:+ (network cut off)}"
n=0
failed_loads=0
while IFS= read -r page; do
  mkdir -p "$work/dom/$(dirname "$page")"
  if ! chrome --dump-dom "file://$docs/$page" >"$work/dom/$page"; then
    echo "FAIL $page: the browser did not load it"
    failed_loads=$((failed_loads + 1))
  fi
  n=$((n + 1))
done < <(cd "$docs" && find . -name '*.html' | sed 's|^\./||' | sort)
echo "$n pages opened"

echo "== screenshots in $shots"
shot() { # shot NAME PAGE HEIGHT
  rm -f "$shots/$1.png"
  chrome --hide-scrollbars --window-size=1280,"$3" --screenshot="$shots/$1.png" "file://$docs/$2" >/dev/null || true
  if [ -s "$shots/$1.png" ] && [ "$(stat -c %s "$shots/$1.png")" -gt 20000 ]; then
    echo "$shots/$1.png ($2)"
  else
    echo "FAIL $2: no screenshot (or an empty one)"
    failed_loads=$((failed_loads + 1))
  fi
}
shot home index.html 1400
lecture=$(cd "$docs" && ls articles/lecture-*.html | head -n 1)
shot lecture "$lecture" 2400
shot reference reference/sigmoid.html 1500

echo "== checks"
status=0
Rscript tools/check-site.R "$docs" "$work/dom" || status=1
[ "$failed_loads" -eq 0 ] || status=1
exit "$status"
