#!/usr/bin/env bash
# Runs tools/valgrind-script.R (every exported function, normal and error
# paths) under valgrind's memcheck, then tools/valgrind-panic.R (a
# deliberate Rust panic) in a second run.
#   bash tools/valgrind.sh [LIBDIR]
#   bash tools/valgrind.sh --installed LIBDIR
# Installs valgrind if missing (apt-get; idempotent, like install-deps.sh),
# installs fwdprop into LIBDIR (default: a new temporary folder) with
# tools/dev-install.sh (with --installed: uses the fwdprop already in
# LIBDIR, as the test command does), runs R under valgrind with that
# library first on R_LIBS, and prints valgrind's ERROR SUMMARY and LEAK
# SUMMARY of each run (the first one's valgrind exit status is 0 when all
# is well).
#
# Exit status 1 when valgrind reports a memory error or a "definitely lost"
# block whose stack involves fwdprop (its shared library or symbols), or
# when a script fails; 0 otherwise. The blocks leaked by the deliberate
# panic (fwdprop:::panic_impl(), a test hook: extendr 0.9 longjmps out of
# its wrapper with the panic payload still allocated) are listed as
# expected. R's own "possibly lost" and "still reachable" blocks are normal
# and ignored; memory errors or definite leaks with no fwdprop frame are
# printed but do not fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
  echo "installing: valgrind"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq valgrind >/dev/null
else
  echo "valgrind: $(valgrind --version)"
fi

installed=0
if [ "${1:-}" = "--installed" ]; then
  installed=1
  shift
  [ -n "${1:-}" ] || { echo "usage: valgrind.sh --installed LIBDIR" >&2; exit 2; }
fi
lib=${1:-}
if [ -z "$lib" ]; then
  lib=$(mktemp -d "${TMPDIR:-/tmp}/fwdprop-valgrind-lib.XXXXXX")
fi
mkdir -p "$lib"
work=$(mktemp -d "${TMPDIR:-/tmp}/fwdprop-valgrind.XXXXXX")
if [ "$installed" -eq 1 ]; then
  [ -d "$lib/fwdprop" ] || { echo "fwdprop is not installed in $lib" >&2; exit 1; }
  echo "using fwdprop installed in $lib"
else
  echo "installing fwdprop into $lib"
  bash tools/dev-install.sh "$lib" valgrind >"$work/install.log" 2>&1 || {
    cat "$work/install.log" >&2
    echo "fwdprop failed to install" >&2
    exit 1
  }
fi

echo "running R under valgrind (slow: a minute or two); logs in $work"
# run_valgrind NAME SCRIPT: R under valgrind on SCRIPT, logs $work/NAME.*;
# sets script_ok=0 if the script did not run to its end
script_ok=1
run_valgrind() {
  set +e
  R_LIBS="$lib${R_LIBS:+:$R_LIBS}" R -d "valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --num-callers=30 --log-file=$work/$1.valgrind.log" \
    --vanilla -f "$2" >"$work/$1.R.out" 2>&1
  echo "$1: valgrind exit status $?"
  set -e
  if ! grep -q "valgrind-script: all calls done" "$work/$1.R.out"; then
    script_ok=0
    echo "---- R output of $2 (it did not finish) ----"
    tail -n 40 "$work/$1.R.out"
  fi
}
# every function, normal and error paths: must be clean
run_valgrind main tools/valgrind-script.R
# the deliberate panic: no memory error; its known leak is listed as expected
run_valgrind panic tools/valgrind-panic.R
# Split valgrind's log into records (separated by "==PID== " lines) and
# classify them: memory errors and definite leaks, with or without a
# fwdprop frame.
counts=$(awk '
  function flush() {
    if (first == "") return
    is_leak = (first ~ /definitely lost in loss record/)
    is_err = (first ~ /^(Invalid |Conditional jump|Use of uninitialised|Syscall param|Mismatched |Source and destination|Argument .* of function|Process terminating)/)
    ours = (rec ~ /fwdprop/)
    # the deliberate panic: extendr 0.9 longjmps out of its wrapper with the
    # panic payload and message still allocated (extendr/extendr#549). The
    # installed library exports only R_init_fwdprop, so its frames are
    # mostly unnamed: a definite leak in the panic run counts as the panic
    # (the same calls leak nothing in the main run, and the panic run
    # total is bounded below)
    panic = is_leak && (rec ~ /wrap__panic_impl/ || recfile ~ /panic\.valgrind\.log$/)
    if (is_leak || is_err) {
      kind = is_leak ? "DEFINITE LEAK" : "MEMORY ERROR"
      entry = "?"
      if (match(rec, /wrap__[A-Za-z0-9_]+/)) entry = substr(rec, RSTART, RLENGTH)
      tag = panic ? " (expected: deliberate panic)" : (ours ? " (fwdprop, via " entry ")" : " (not fwdprop)")
      print "---- " kind tag " ----" rec > "/dev/stderr"
      if (is_leak && panic) expected++
      else if (is_leak) { leaks++; if (ours) leaks_ours++ }
      if (is_err) { errs++; if (ours) errs_ours++ }
      if (ours && !panic) entries[kind " via " entry]++
    }
    first = ""; rec = ""
  }
  /^==[0-9]+== *$/ { flush(); next }
  /^==[0-9]+== / { line = $0; sub(/^==[0-9]+== /, "", line); if (first == "") { first = line; recfile = FILENAME }; rec = rec "\n" line; next }
  END {
    flush()
    for (e in entries) printf "  %s: %d record(s)\n", e, entries[e] > "/dev/stderr"
    printf "%d %d %d %d %d\n", errs + 0, errs_ours + 0, leaks + 0, leaks_ours + 0, expected + 0
  }
' "$work/main.valgrind.log" "$work/panic.valgrind.log")
read -r errs errs_ours leaks leaks_ours expected <<<"$counts"

for part in main panic; do
  echo "---- valgrind summary: $part ----"
  grep -E "ERROR SUMMARY" "$work/$part.valgrind.log" | sed -E 's/^==[0-9]+== //'
  sed -n '/LEAK SUMMARY:/,/suppressed:/p' "$work/$part.valgrind.log" | sed -E 's/^==[0-9]+== //'
done
echo "memory errors: $errs ($errs_ours involving fwdprop); definite leak records: $leaks ($leaks_ours involving fwdprop), plus $expected from the deliberate panic"

if [ "$script_ok" -ne 1 ]; then
  echo "FAIL: the script did not run to the end"
  exit 1
fi
# the deliberate panic leaks about 50 bytes per panic (3 panics): more than
# 1 KB definitely lost in that run is something else
panic_lost=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$work/panic.valgrind.log" | tr -d , | head -n 1)
if [ "${panic_lost:-0}" -gt 1024 ]; then
  echo "FAIL: the panic run lost ${panic_lost} bytes, more than the deliberate panic's payloads"
  exit 1
fi
if [ "$errs_ours" -gt 0 ] || [ "$leaks_ours" -gt 0 ]; then
  echo "FAIL: valgrind found problems in fwdprop (details above)"
  exit 1
fi
echo "OK: no memory errors or definite leaks in fwdprop"
