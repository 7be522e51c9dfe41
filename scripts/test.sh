#!/usr/bin/env bash
# Runs every test suite and ends with one line: "N passed, N failed".
# Each suite prints a last line "<suite>: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0 status=0

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

# pg_regress (sql/, expected/) against the simulator, in a throwaway cluster.
regress() {
  local out rc
  out=$(scripts/with-sim.sh make -s installcheck 2>&1); rc=$?
  echo "$out"
  [ -f regression.diffs ] && cat regression.diffs
  local total failed
  total=$(echo "$out" | grep -cE '^(ok|not ok) |^test [a-z_]+ +\.\.\. ' || true)
  failed=$(echo "$out" | grep -cE '^not ok |^test [a-z_]+ +\.\.\. FAILED' || true)
  if [ "$total" -eq 0 ]; then failed=1; fi
  echo "regress: $((total - failed)) passed, $failed failed"
  return $rc
}

run_suite tap perl t/run-tap.pl sim/t/*.t t/*.t
run_suite regress regress

echo "$passed passed, $failed failed"
exit $status
