#!/usr/bin/env bash
# refresh_calls() against the same work done serially; runs inside
# scripts/with-sim.sh (a throwaway cluster with liveid):
#   scripts/with-sim.sh bench/refresh.sh
#
# Starts its own simulator with --latency-ms BENCH_LATENCY_MS (default 20),
# so that every API answer takes a round trip's time, and points the
# sessions here at it (SET liveid.url).  BENCH_REFRESH_CALLS calls (default
# 1000) are started and opened; then, in the same run, against the same
# simulator:
#   serial  = one session calling liveid.async_request_info(uid) for each
#             call, one statement each (the same getAsyncRequestInfo and the
#             same ledger update per call),
#   refresh = one SELECT liveid.refresh_calls(n) with liveid.max_concurrency
#             at its default (16);
# before each, the ledger rows are put back to 'created' (as the owner), so
# both change every row.  Reported: the elapsed time of each, the speed-up,
# and the backend's CPU time per call (user + system, from /proc).  The
# figures go to docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${PGHOST:?run inside scripts/with-sim.sh}"
n=${BENCH_REFRESH_CALLS:-1000}
latency=${BENCH_LATENCY_MS:-20}
process=6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01

work=$(mktemp -d /tmp/liveid-bench-refresh.XXXXXX)
sim_pid=
trap '[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"' EXIT
sim/liveid-sim --port 0 --quiet --latency-ms "$latency" >"$work/port" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || { echo "refresh.sh: the simulator did not start" >&2; cat "$work/sim.log" >&2; exit 1; }
url="http://127.0.0.1:$(head -n1 "$work/port")"
export PGOPTIONS="-c liveid.url=$url"

psql -X -q -v ON_ERROR_STOP=1 <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS liveid;
TRUNCATE liveid.calls CASCADE;
SQL

# the calls, started and opened by 8 sessions at once (setup, not measured)
per=$(( (n + 7) / 8 ))
setup=()
for s in $(seq 8); do
  psql -X -q -At -v ON_ERROR_STOP=1 >/dev/null -c "
    SELECT count(liveid.request('POST', '/sim/open', jsonb_build_object('uId',
             substring(liveid.service_start(liveid.customer('it','a@b.it','Mario','Rossi'),
                       process => '$process', organization => 'DEMO') FROM 'uId=(.*)\$'))))
      FROM generate_series(1, LEAST($per, $n - ($s - 1) * $per))" &
  setup+=($!)
done
for p in "${setup[@]}"; do wait "$p" || { echo "refresh.sh: starting the calls failed" >&2; exit 1; }; done
rows=$(psql -X -q -At -c "SELECT count(*) FROM liveid.calls WHERE status = 'created'")
[ "$rows" = "$n" ] || { echo "refresh.sh: $rows calls started, not $n" >&2; exit 1; }

reset_sql="UPDATE liveid.calls SET status = 'created', id_conference = NULL, closed_at = NULL;"
tick=$(getconf CLK_TCK)
# elapsed seconds and backend CPU per call (us) of the statements in $1,
# run in one session after the ledger is reset
measure() {
  local body=$1 out=$work/measure.sql
  {
    echo "$reset_sql"
    echo "SELECT pg_backend_pid() AS bpid \\gset"
    echo "\\setenv BPID :bpid"
    echo "\\! cat /proc/\$BPID/stat >$work/cpu.before; date +%s.%N >$work/t.before"
    cat "$body"
    echo "\\! date +%s.%N >$work/t.after; cat /proc/\$BPID/stat >$work/cpu.after"
    echo "SELECT count(*) FROM liveid.calls WHERE status = 'waiting' \\g $work/changed"
  } >"$out"
  psql -X -q -At -v ON_ERROR_STOP=1 -f "$out" >/dev/null
  [ "$(cat "$work/changed")" = "$n" ] || { echo "refresh.sh: $(cat "$work/changed") rows refreshed, not $n" >&2; exit 1; }
  awk -v n="$n" -v tick="$tick" 'FNR == 1 && FILENAME ~ /cpu/ { t[FILENAME] = $14 + $15 }
    FILENAME ~ /t\.before/ { tb = $1 } FILENAME ~ /t\.after/ { ta = $1 }
    END { for (f in t) if (f ~ /before/) b = t[f]; else a = t[f];
          printf "%.2f %.0f", ta - tb, (a - b) / tick * 1e6 / n }' \
    "$work/cpu.before" "$work/cpu.after" "$work/t.before" "$work/t.after"
}

psql -X -q -At -c "SELECT 'SELECT count(*) FROM liveid.async_request_info(' || quote_literal(uid) || ');' FROM liveid.calls ORDER BY created_at, uid" >"$work/serial.sql"
echo "SELECT liveid.refresh_calls($n);" >"$work/refresh.sql"

echo "== refresh_calls vs serial async_request_info: $n open calls, simulator latency $latency ms"
read -r s_el s_cpu <<<"$(measure "$work/serial.sql")"
echo "serial   $n x async_request_info: ${s_el} s, backend CPU ${s_cpu} us per call"
read -r r_el r_cpu <<<"$(measure "$work/refresh.sql")"
conc=$(psql -X -q -At -c 'SHOW liveid.max_concurrency')
echo "refresh  refresh_calls($n), max_concurrency $conc: ${r_el} s, backend CPU ${r_cpu} us per call"
speedup=$(awk -v s="$s_el" -v r="$r_el" 'BEGIN {printf "%.1f", s / r}')
ideal=$(awk -v n="$n" -v c="$conc" -v l="$latency" 'BEGIN {printf "%.2f", (n / c) * l / 1000}')
cat <<EOF2

================================ refresh_calls ($(date -u +%Y-%m-%d), $n open calls, latency $latency ms)
                                      elapsed     backend CPU per call
  serial async_request_info (1 session) $(printf '%-11s %s' "${s_el} s" "${s_cpu} us")
  refresh_calls($n), $conc in flight   $(printf '%-11s %s' "${r_el} s" "${r_cpu} us")
  speed-up                            ${speedup}x   (round trips alone: serial $(awk -v n="$n" -v l="$latency" 'BEGIN {printf "%.2f", n * l / 1000}') s, $conc at once ${ideal} s)
EOF2
