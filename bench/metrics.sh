#!/usr/bin/env bash
# collect_metrics() against the same requests made one after another; runs
# inside scripts/with-sim.sh (a throwaway cluster with liveid):
#   scripts/with-sim.sh bench/metrics.sh
#
# Starts its own simulator with --latency-ms BENCH_LATENCY_MS (default 20),
# so that every API answer takes a round trip's time, and points the
# sessions here at it (SET liveid.url).  The simulator gets a copy of
# sim/config.json whose DEMO has 64 more processes (ids
# 6f1c2a9e-0000-4000-8000-0000000000NN): real processes of the
# organization, answered like the configured ones.  (Fault processes would
# do too, but the only distinct ones that answer normally are delay faults,
# whose ids add their own delay; and collect_metrics removes duplicates, so
# the same few ids repeated would not make more requests.)
#
# For 1, 8, 14, 16 and 64 processes, BENCH_METRICS_REPEAT times each (default 20),
# one session each:
#   serial   = available_operators, daily_waiting_times and queue() of each
#              process, one statement each (the same n + 2 requests),
#   snapshot = one SELECT liveid.collect_metrics('DEMO', <the processes>),
#              liveid.max_concurrency at its default (16), which also writes
#              the n + 1 rows;
# reported: elapsed per snapshot, round trips (elapsed / latency) and the
# backend's CPU time per request (user + system, from /proc).  The figures
# go to docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${PGHOST:?run inside scripts/with-sim.sh}"
latency=${BENCH_LATENCY_MS:-20}
repeat=${BENCH_METRICS_REPEAT:-20}

work=$(mktemp -d /tmp/liveid-bench-metrics.XXXXXX)
sim_pid=
trap '[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"' EXIT
procs() { for i in $(seq "$1"); do printf '6f1c2a9e-0000-4000-8000-%012d\n' "$i"; done; }
procs 64 | jq -R '{id: ., name: "Bench queue", self: false, videoRecording: false}' | jq -s . >"$work/procs.json"
jq --slurpfile p "$work/procs.json" \
  '.organizations |= map(if .code == "DEMO" then .processes += $p[0] else . end)' \
  sim/config.json >"$work/config.json"
sim/liveid-sim --port 0 --quiet --config "$work/config.json" --latency-ms "$latency" \
  >"$work/port" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || { echo "metrics.sh: the simulator did not start" >&2; cat "$work/sim.log" >&2; exit 1; }
url="http://127.0.0.1:$(head -n1 "$work/port")"
export PGOPTIONS="-c liveid.url=$url"

psql -X -q -v ON_ERROR_STOP=1 <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS liveid;
TRUNCATE liveid.metrics;
SQL

tick=$(getconf CLK_TCK)
# elapsed seconds per repetition and backend CPU per request (us) of the
# statements in $1 (one repetition, $2 requests), run $repeat times in one
# session
measure() {
  local body=$1 requests=$2 out=$work/measure.sql
  {
    echo "SELECT pg_backend_pid() AS bpid \\gset"
    echo "\\setenv BPID :bpid"
    echo "\\! cat /proc/\$BPID/stat >$work/cpu.before; date +%s.%N >$work/t.before"
    for _ in $(seq "$repeat"); do cat "$body"; done
    echo "\\! date +%s.%N >$work/t.after; cat /proc/\$BPID/stat >$work/cpu.after"
  } >"$out"
  psql -X -q -At -v ON_ERROR_STOP=1 -f "$out" >/dev/null
  awk -v n="$((requests * repeat))" -v r="$repeat" -v tick="$tick" \
    'FNR == 1 && FILENAME ~ /cpu/ { t[FILENAME] = $14 + $15 }
    FILENAME ~ /t\.before/ { tb = $1 } FILENAME ~ /t\.after/ { ta = $1 }
    END { for (f in t) if (f ~ /before/) b = t[f]; else a = t[f];
          printf "%.3f %.0f", (ta - tb) / r, (a - b) / tick * 1e6 / n }' \
    "$work/cpu.before" "$work/cpu.after" "$work/t.before" "$work/t.after"
}

conc=$(psql -X -q -At -c 'SHOW liveid.max_concurrency')
report=()
echo "== collect_metrics vs the same requests serially, simulator latency $latency ms, $repeat runs each"
for n in 1 8 14 16 64; do
  array="ARRAY[$(procs "$n" | sed "s/.*/'&'/" | paste -sd,)]::uuid[]"
  {
    echo "SELECT count(*) FROM liveid.available_operators('DEMO');"
    echo "SELECT count(*) FROM liveid.daily_waiting_times('DEMO');"
    procs "$n" | sed "s/.*/SELECT count(*) FROM liveid.queue('&');/"
  } >"$work/serial.sql"
  echo "SELECT liveid.collect_metrics('DEMO', $array);" >"$work/snapshot.sql"
  read -r s_el s_cpu <<<"$(measure "$work/serial.sql" $((n + 2)))"
  read -r c_el c_cpu <<<"$(measure "$work/snapshot.sql" $((n + 2)))"
  rows=$(psql -X -q -At -c "SELECT count(*) FROM liveid.metrics")
  [ "$rows" = "$((repeat * (n + 1)))" ] || { echo "metrics.sh: $rows rows written, not $((repeat * (n + 1)))" >&2; exit 1; }
  psql -X -q -c 'TRUNCATE liveid.metrics'
  rt() { awk -v e="$1" -v l="$latency" 'BEGIN {printf "%.2f", e * 1000 / l}'; }
  echo "$n processes ($((n + 2)) requests): serial ${s_el} s ($(rt "$s_el") round trips, CPU ${s_cpu} us/request)," \
       "collect_metrics ${c_el} s ($(rt "$c_el") round trips, CPU ${c_cpu} us/request)"
  report+=("$(printf '  %-3s %-4s   serial %-8s %6s rt  %5s us   collect_metrics %-8s %5s rt  %5s us' \
    "$n" "$((n + 2))" "${s_el} s" "$(rt "$s_el")" "$s_cpu" "${c_el} s" "$(rt "$c_el")" "$c_cpu")")
done
cat <<EOF2

================================ collect_metrics ($(date -u +%Y-%m-%d), latency $latency ms, max_concurrency $conc, $repeat runs)
  processes, requests  elapsed per snapshot, round trips (elapsed / latency), backend CPU per request
$(printf '%s\n' "${report[@]}")
EOF2
