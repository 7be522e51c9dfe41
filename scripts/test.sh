#!/usr/bin/env bash
# Runs every test suite and ends with one line: "N passed, N failed".
# Each suite prints a last line "<suite>: N passed, N failed".
#
# The unit of every count is one check: in the TAP suites one assertion (a
# leaf ok / not ok, subtests not counted themselves; t/run-tap.pl), in the
# pg_regress suites one test file (sql/NAME.sql against expected/NAME.out;
# pg_regress compares whole files).  A suite that fails without saying what
# (no result line, a non-zero exit with nothing failed, a sanitizer report)
# counts one more failed check.
#
#   tap           the simulator's TAP tests (sim/t/)
#   regress       pg_regress (sql/, expected/) in a throwaway cluster
#   tap-ext       the extension's TAP tests (t/), real clusters
#   receiver      liveid-receiver's TAP tests (receiver/t/), a real cluster
#   regress-asan  regress, and
#   tap-asan      tap-ext, against liveid built with ASan + UBSan
#                 (scripts/sanitize.sh); any sanitizer report fails them
#
# The normal suites use ${PG_CONFIG:-pg_config}'s server and the liveid
# installed there; the sanitized ones a private copy of PostgreSQL made
# from it for this run (removed at the end).  LIVEID_NO_SANITIZE=1 skips
# them.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0 status=0
pg_config=$(command -v "${PG_CONFIG:-pg_config}")

# Runs one suite, echoing its output, and adds its counts to the totals.
run_suite() {
  local name=$1; shift
  local out
  out=$(mktemp)
  echo "== $name"
  "$@" 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed$" "$out" | tail -n 1)
  rm -f "$out"
  if [ -z "$line" ]; then
    echo "$name: no result line (exit $rc); counted as 1 failure"
    failed=$((failed + 1)); status=1; return
  fi
  local p f
  p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
    status=1
    if [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
  fi
}

# regress NAME DIR: pg_regress of the tree in DIR against the simulator, in
# a throwaway cluster of $PG_CONFIG's server.
regress() {
  local name=$1 dir=$2 out rc
  rm -f "$dir/regression.diffs"
  out=$(PG_CONFIG="${PG_CONFIG:-$pg_config}" scripts/with-sim.sh make -s -C "$dir" installcheck 2>&1); rc=$?
  echo "$out"
  [ -f "$dir/regression.diffs" ] && cat "$dir/regression.diffs"
  local total failed
  total=$(echo "$out" | grep -cE '^(ok|not ok) |^test [a-z_]+ +\.\.\. ' || true)
  failed=$(echo "$out" | grep -cE '^not ok |^test [a-z_]+ +\.\.\. FAILED' || true)
  if [ "$total" -eq 0 ]; then failed=1; fi
  echo "$name: $((total - failed)) passed, $failed failed"
  return $rc
}

# cluster_tap NAME FILE...: TAP files that make PostgreSQL clusters
# (PostgreSQL::Test::Cluster) against $PG_CONFIG's server.  That module
# will not run initdb as root, so as root they run as the postgres user,
# from a copy of the files they need (the checkout may be unreadable to
# that user) in a directory it owns; the clusters' logs stay there when
# something failed.  FILE globs are taken in the copy.
cluster_tap() {
  local name=$1 dir rc; shift
  dir=$(mktemp -d /tmp/liveid-tap.XXXXXX)
  chmod 755 "$dir"
  mkdir -p "$dir/tree/sim/t" "$dir/tree/receiver"
  cp -a t scripts contrib README.md "$dir/tree/"
  cp -a sim/t/lib "$dir/tree/sim/t/"
  cp -a sim/liveid-sim sim/config.json "$dir/tree/sim/"
  cp -a receiver/t receiver/liveid-receiver.service "$dir/tree/receiver/"
  [ -x receiver/liveid-receiver ] && cp -a receiver/liveid-receiver "$dir/tree/receiver/"
  local as=()
  if [ "$(id -u)" -eq 0 ]; then
    as=(runuser -u postgres --)
    chown -R postgres "$dir"
  fi
  (cd "$dir/tree" && "${as[@]}" env PG_CONFIG="${PG_CONFIG:-$pg_config}" TESTDIR="$dir" \
    LIVEID_SERVER_ENV="${LIVEID_SERVER_ENV:-}" perl t/run-tap.pl --suite "$name" $*); rc=$?
  if [ -n "${LIVEID_SERVER_LOGS:-}" ]; then cp "$dir"/tmp_check/log/*.log "$LIVEID_SERVER_LOGS/" 2>/dev/null; fi
  if [ "$rc" -eq 0 ]; then rm -rf "$dir"; else echo "$name: the clusters' logs are in $dir/tmp_check/log"; fi
  return $rc
}

# ext_tap NAME: the extension's TAP tests (t/*.t).
ext_tap() { cluster_tap "$1" 't/*.t'; }

# receiver_tap NAME: liveid-receiver's TAP tests (receiver/t/*.t), after
# building it (or finding it up to date).
receiver_tap() {
  if ! make -s -C receiver >/dev/null; then
    echo "the receiver (receiver/) does not build"
    echo "$1: 0 passed, 1 failed"
    return 1
  fi
  cluster_tap "$1" 'receiver/t/*.t'
}

# asan_suite NAME FUNC ARGS...: runs FUNC NAME ARGS (a suite function, as
# regress and ext_tap) against the sanitized build, made on first use; a
# sanitizer report from the server (in its own files, or in a server log
# for UBSan) is shown and counted as one more failure.
asan_dir=
asan_suite() {
  local name=$1 func=$2; shift 2
  if [ ! -f "$asan_dir/built" ]; then
    scripts/sanitize.sh build "$asan_dir" || { echo "$name: the sanitizer build failed"; return 1; }
    touch "$asan_dir/built"
  fi
  local logs="$asan_dir/logs/$name" out rc
  mkdir -p "$logs"
  chmod 1777 "$logs"
  out=$(mktemp)
  # the memory bound of sql/answers.sql: ASan's shadow memory and
  # quarantine count in a backend's RSS
  LIVEID_TEST_MEMORY_FACTOR=30 \
  PG_CONFIG="$(scripts/sanitize.sh pg-config "$asan_dir")" LIVEID_SERVER_LOGS="$logs" \
    LIVEID_SERVER_ENV="$(scripts/sanitize.sh server-env "$asan_dir" "$logs")" \
    "$func" "$name" "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  if ! scripts/sanitize.sh reports "$logs"; then
    local line p f
    line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed$" "$out" | tail -n 1)
    if [ -n "$line" ]; then
      p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
      f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
      echo "$name: sanitizer reports (above) count as one more failure"
      echo "$name: $p passed, $((f + 1)) failed"
    fi
    rc=1
  fi
  rm -f "$out"
  return $rc
}

# The simulator every suite runs against: `make test` builds it with the
# extension; this builds it (or finds it up to date) when the script runs alone.
make -s -C sim >/dev/null || { echo "the simulator (sim/) does not build"; echo "0 passed, 1 failed"; exit 1; }
# and the receiver, which the extension's end-to-end tests (t/callbacks.t) run
make -s -C receiver >/dev/null || { echo "the receiver (receiver/) does not build"; echo "0 passed, 1 failed"; exit 1; }

run_suite tap perl t/run-tap.pl sim/t/*.t
run_suite regress regress regress "$PWD"
run_suite tap-ext ext_tap tap-ext
run_suite receiver receiver_tap receiver

if [ "${LIVEID_NO_SANITIZE:-}" != 1 ]; then
  asan_dir=$(mktemp -d /tmp/liveid-asan.XXXXXX)
  chmod 755 "$asan_dir"
  trap 'rm -rf "$asan_dir"' EXIT
  run_suite regress-asan asan_suite regress-asan regress "$asan_dir/src"
  run_suite tap-asan asan_suite tap-asan ext_tap
fi

echo "(checks: TAP assertions and pg_regress test files)"
echo "$passed passed, $failed failed"
exit $status
