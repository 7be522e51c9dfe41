#!/usr/bin/env bash
# The benchmarks proper; bench/run.sh runs this inside scripts/with-sim.sh,
# which provides one simulator (LIVEID_SIM_URL) and a throwaway cluster
# (pg_virtualenv's PG* variables) with liveid preloaded and configured.
# BENCH_WORK holds the compiled curl loop; BENCH_SECONDS is each run's length.
#
# Prints, all against that one simulator:
#   the simulator alone (wrk, 1/8/32 connections);
#   a = pgbench TPS of SELECT 1,  b = pgbench TPS of available_operators('DEMO'),
#   c = calls/s of a raw libcurl keep-alive loop (bench/curl_loop.c) on the
#       same endpoint; L = 1/(1/a + 1/c) and b/L, for 1 and 2 clients;
#   the RSS growth of one backend over 100,000 calls with failures mixed in;
# and a summary block at the end.
set -euo pipefail

d=${BENCH_SECONDS:-10}
work=${BENCH_WORK:?run bench/run.sh}
url=${LIVEID_SIM_URL:?run inside scripts/with-sim.sh}
rss_warmup=${BENCH_RSS_WARMUP:-5000}
rss_calls=${BENCH_RSS_CALLS:-100000}

psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION IF NOT EXISTS liveid'
# the function answers at all (a failure here stops the run with its error)
psql -X -q -At -v ON_ERROR_STOP=1 \
  -c "SELECT * FROM liveid.available_operators('DEMO')" >/dev/null

# ---------------------------------------------------------------- simulator
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body   = '{"orgCode":"DEMO"}'
wrk.headers["apikey"] = "demo-key-5f2b9c"
wrk.headers["Content-Type"] = "application/json"
LUA

declare -A wrk_rps
echo "== simulator: utility calls per second (wrk, keep-alive, ${d}s each)"
for conns in 1 8 32; do
  rps=$(wrk -t"$([ "$conns" -eq 1 ] && echo 1 || echo 2)" -c"$conns" -d"${d}s" \
          -s "$work/post.lua" "$url/api/service/getAvailableOperators" |
        awk '/Requests\/sec/ {print $2}')
  wrk_rps[$conns]=${rps:-0}
  printf 'sim getAvailableOperators, %2d connections: %s req/s (target >= 20000)\n' "$conns" "${rps:-?}"
done

# ---------------------------------------------------------------- extension
echo 'SELECT 1;' >"$work/select1.sql"
echo "SELECT * FROM liveid.available_operators('DEMO');" >"$work/operators.sql"

# pgbench TPS of one script with N clients (N threads); fails the run if a
# client aborted (an error in the function) or no tps line came out.
pgbench_tps() {
  local clients=$1 script=$2 mode=$3 out=$work/pgbench.out tps
  if ! pgbench -n -M "$mode" -c "$clients" -j "$clients" -T "$d" -f "$script" >"$out" 2>&1; then
    echo "pgbench failed on $(cat "$script"):" >&2; tail -n 20 "$out" >&2; exit 1
  fi
  tps=$(awk '/^tps = / {print $3; exit}' "$out")
  [ -n "$tps" ] || { echo "pgbench printed no tps:" >&2; cat "$out" >&2; exit 1; }
  printf '%.1f\n' "$tps"
}

# Calls per second of N curl loops running at the same time, summed.
curl_cps() {
  local n=$1 pids=() i sum
  for i in $(seq "$n"); do
    "$work/curl_loop" "$url" "$d" >"$work/curl.$i" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || { echo "curl_loop failed" >&2; exit 1; }; done
  sum=$(cat "$work"/curl.[0-9]* | awk '{s += $1} END {printf "%.1f", s}')
  rm -f "$work"/curl.[0-9]*
  echo "$sum"
}

# Both query protocols: "simple" parses and plans every statement;
# "prepared" (what most drivers do for a repeated statement) does not, so it
# shows the extension's own cost with less of PostgreSQL's per-statement work.
modes="simple prepared"
declare -A A B C LIM RATIO
for n in 1 2; do
  echo "== extension, $n client(s) (pgbench -c$n -j$n, $n curl loop(s)), ${d}s each"
  C[$n]=$(curl_cps "$n")
  echo "c  raw libcurl keep-alive loop:                  ${C[$n]} calls/s"
  for m in $modes; do
    A[$m$n]=$(pgbench_tps "$n" "$work/select1.sql" "$m")
    echo "a  pgbench -M $m SELECT 1:                 ${A[$m$n]} tps"
    B[$m$n]=$(pgbench_tps "$n" "$work/operators.sql" "$m")
    echo "b  pgbench -M $m available_operators('DEMO'): ${B[$m$n]} tps"
    LIM[$m$n]=$(awk -v a="${A[$m$n]}" -v c="${C[$n]}" 'BEGIN {printf "%.1f", 1 / (1 / a + 1 / c)}')
    RATIO[$m$n]=$(awk -v b="${B[$m$n]}" -v l="${LIM[$m$n]}" 'BEGIN {printf "%.2f", b / l}')
    echo "L  = 1/(1/a + 1/c) ($m):                     ${LIM[$m$n]} /s;  b/L = ${RATIO[$m$n]}"
  done
done

# ---------------------------------------------------------------- memory
# One psql session, one backend, one statement per call (autocommit, so an
# error aborts only its own transaction: no subtransactions pile up).  Every
# 10th call names a fault organization (HTTP 500, a body that is not JSON, a
# JSON answer of the wrong shape) and fails.  The script itself records the
# backend's /proc status, after the warm-up and at the end, via \! (psql runs
# as this script's user, root).
echo "== memory: one backend, $rss_warmup warm-up calls, then $rss_calls calls (every 10th fails)"
awk -v warm="$rss_warmup" -v calls="$rss_calls" -v work="$work" '
  function call(i) {
    org = (i % 10 == 0) ? fault[int(i / 10) % 3] : "DEMO"
    printf "SELECT * FROM liveid.available_operators(%c%s%c);\n", 39, org, 39
  }
  BEGIN {
    fault[0] = "FAULT-STATUS-500"; fault[1] = "FAULT-NOTJSON"; fault[2] = "FAULT-SHAPE-1"
    print "\\set VERBOSITY terse"
    print "SELECT pg_backend_pid() AS bpid \\gset"
    print "\\setenv BPID :bpid"
    print "\\! echo $BPID >" work "/rss.pid"
    for (i = 1; i <= warm; i++) call(i)
    print "\\! cat /proc/$BPID/status >" work "/rss.before"
    for (i = 1; i <= calls; i++) call(warm + i)
    print "\\! cat /proc/$BPID/status >" work "/rss.after"
  }' >"$work/rss.sql"
start=$(date +%s.%N)
psql -X -q -At -f "$work/rss.sql" >"$work/rss.out" 2>"$work/rss.err" || true
secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
total=$((rss_warmup + rss_calls))
ok_rows=$(wc -l <"$work/rss.out")
errors=$(grep -c ': ERROR: ' "$work/rss.err" || true)
want_errors=$((total / 10))
if [ ! -s "$work/rss.before" ] || [ ! -s "$work/rss.after" ] ||
   [ "$ok_rows" -ne $((total - want_errors)) ] || [ "$errors" -ne "$want_errors" ]; then
  echo "memory run went wrong: $ok_rows answers, $errors errors (want $((total - want_errors)), $want_errors)" >&2
  grep -v ': ERROR: ' "$work/rss.err" | head -n 20 >&2
  exit 1
fi
kb() { awk -v k="$1:" '$1 == k {print $2}' "$2"; }
rss0=$(kb VmRSS "$work/rss.before"); rss1=$(kb VmRSS "$work/rss.after")
anon0=$(kb RssAnon "$work/rss.before"); anon1=$(kb RssAnon "$work/rss.after")
growth=$((rss1 - rss0))
echo "backend $(cat "$work/rss.pid"): $total calls in ${secs}s, $ok_rows answered, $errors failed as planned"
grep ': ERROR: ' "$work/rss.err" | sed -E 's/^psql:[^:]*:[0-9]+: //' | sort | uniq -c | sed 's/^/  /'
echo "VmRSS after warm-up $rss0 kB, at the end $rss1 kB: growth $growth kB (RssAnon $anon0 -> $anon1 kB)"

# ---------------------------------------------------------------- summary
yn() { awk -v x="$1" -v op="$2" -v t="$3" 'BEGIN {
  ok = (op == ">=") ? (x >= t) : (x < t); print (ok ? "met" : "NOT met") }'; }
cat <<EOF

================================ summary ($(date -u +%Y-%m-%d), ${d}s per run)
simulator alone (wrk, keep-alive), requests/s:
  1 connection    ${wrk_rps[1]}   target >= 20000: $(yn "${wrk_rps[1]}" ">=" 20000)
  8 connections   ${wrk_rps[8]}   target >= 20000: $(yn "${wrk_rps[8]}" ">=" 20000)
  32 connections  ${wrk_rps[32]}   target >= 20000: $(yn "${wrk_rps[32]}" ">=" 20000)
extension (per second)          1 client     2 clients
  c  raw libcurl loop           $(printf '%-12s %s' "${C[1]}" "${C[2]}")
$(for m in $modes; do
  printf '  -M %s\n' "$m"
  printf '  a  SELECT 1 (pgbench tps)     %-12s %s\n' "${A[${m}1]}" "${A[${m}2]}"
  printf '  b  available_operators        %-12s %s\n' "${B[${m}1]}" "${B[${m}2]}"
  printf '  L  1/(1/a + 1/c)              %-12s %s\n' "${LIM[${m}1]}" "${LIM[${m}2]}"
  printf '  b/L                           %-12s %s\n' "${RATIO[${m}1]}" "${RATIO[${m}2]}"
done)
  target b/L >= 0.85 with 1 client: simple protocol $(yn "${RATIO[simple1]}" ">=" 0.85), prepared $(yn "${RATIO[prepared1]}" ">=" 0.85)   (2 clients: reported, no target)
memory, one backend, $rss_calls calls after $rss_warmup warm-up (every 10th fails):
  VmRSS after warm-up  $rss0 kB
  VmRSS at the end     $rss1 kB
  (RssAnon             $anon0 -> $anon1 kB)
  growth               $growth kB ($(awk -v g="$growth" 'BEGIN {printf "%.2f", g / 1024}') MB)
  target growth < 2 MB: $(yn "$growth" "<" 2048)
EOF
