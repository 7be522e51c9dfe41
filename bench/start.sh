#!/usr/bin/env bash
# The cost of starting a call through liveid; runs inside scripts/with-sim.sh
# (one simulator, LIVEID_SIM_URL, and a throwaway cluster with liveid):
#   scripts/with-sim.sh bench/start.sh
#
# With one client, for each query protocol (simple, prepared):
#   b   = pgbench TPS of
#         SELECT liveid.service_start(liveid.customer('it','a@b.it','Mario','Rossi'),
#                   process => '6f1c2a9e-…-0d5e8f7a1b01', organization => 'DEMO');
#         (the checks, one pushAsyncCall, one INSERT into liveid.calls, commit)
#   a   = pgbench TPS of SELECT 1,
#   c   = calls/s of a raw libcurl keep-alive loop (bench/curl_loop.c) posting
#         the same pushAsyncCall body to the same simulator,
#   L   = 1/(1/a + 1/c): the rate if PostgreSQL and the HTTP call simply
#         added up.  b/L is reported, but L is no ceiling on a 2-core
#         machine: the client, the backend and the simulator overlap, so
#         liveid's own utility calls reach 1.2-1.3 L there.
# To show where the time goes, the script also measures
#   r   = pgbench TPS of liveid.request() posting the same pushAsyncCall body
#         (the transport alone: checks, HTTP, no ledger),
# and, because L has no write in it while every start writes the ledger and
# commits,
#   a_w = pgbench TPS of the same ledger row INSERTed in plain SQL (into a
#         copy of liveid.calls with its indexes),
#   L_w = 1/(1/a_w + 1/c), and b/L_w (target >= 0.75): what the extension
#         adds to the work any implementation must do;
#   s   = pgbench TPS of that HTTP call and that INSERT composed in one SQL
#         statement (a CTE around liveid.request()): what a user of a general
#         HTTP extension would write, with none of service_start's checks and
#         its body built in advance; b/s compares the two (target > 1).
# Then the backend's CPU time per call (user + system, from /proc) of each
# statement, run BENCH_CPU_CALLS times (default 20000) in one psql session,
# simple and prepared: a figure that process placement does not move.
# Each figure is the best of BENCH_RUNS interleaved runs (default 3) of
# BENCH_SECONDS each (default 10).  (with-sim.sh's cluster runs with fsync
# off, so commits do not wait for the disk.)  `make bench` runs it
# after bench/pg.sh and bench/payload.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

d=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-3}
url=${LIVEID_SIM_URL:?run inside scripts/with-sim.sh}
: "${PGHOST:?run inside scripts/with-sim.sh}"

work=$(mktemp -d /tmp/liveid-bench-start.XXXXXX)
trap 'rm -rf "$work"' EXIT

# shellcheck disable=SC2046  # curl-config prints several flags
gcc -O2 -Wall -o "$work/curl_loop" bench/curl_loop.c $(curl-config --cflags) $(curl-config --libs)

process=6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01
start_sql="SELECT liveid.service_start(liveid.customer('it','a@b.it','Mario','Rossi'), process => '$process', organization => 'DEMO');"
psql -X -q -v ON_ERROR_STOP=1 <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS liveid;
DROP TABLE IF EXISTS bench_calls;
CREATE TABLE bench_calls (LIKE liveid.calls INCLUDING ALL);
SQL
echo 'SELECT 1;' >"$work/select1.sql"
echo "$start_sql" >"$work/start.sql"
# The ledger row of a start, INSERTed in plain SQL: $1 is the FROM list that
# yields its uid as u, $2 an optional WITH clause in front.
ledger_insert() {
  cat <<SQL
${2:-}INSERT INTO bench_calls (uid, organization, process, launch_url, created_by, method)
SELECT u, 'DEMO', '$process', '$url/app/service-asyncall?uId=' || u, current_user, 'start'
  FROM $1;
SQL
}
ledger_insert "CAST(gen_random_uuid() AS text) AS u" >"$work/insert.sql"

# the call answers at all (a failure here stops the run with its error)
psql -X -q -At -v ON_ERROR_STOP=1 -c "$start_sql" >/dev/null

# The pushAsyncCall body the extension sends for that start, built here the
# same way (b64Data: id_organization, id_process, json = Base64 of the
# customer as jsonb prints it), and checked against the simulator once.
customer=$(psql -X -q -At -v ON_ERROR_STOP=1 \
  -c "SELECT liveid.customer('it','a@b.it','Mario','Rossi')")
json_b64=$(printf '%s' "$customer" | base64 -w0)
b64data=$(printf '{"id_organization":"DEMO","id_process":"%s","json":"%s"}' "$process" "$json_b64" | base64 -w0)
push_body=$(printf '{"b64Data":"%s","method":"start"}' "$b64data")
"$work/curl_loop" "$url" 0.2 /api/service/pushAsyncCall "$push_body" >/dev/null
echo "SELECT liveid.request('POST', '/api/service/pushAsyncCall', '$push_body');" >"$work/request.sql"
ledger_insert "r, CAST(j ->> 'uId' AS text) AS u" \
  "WITH r AS (SELECT liveid.request('POST', '/api/service/pushAsyncCall', '$push_body') AS j)
" >"$work/composed.sql"
# the composed statement stores one row per call (checked once)
[ "$(psql -X -q -At -v ON_ERROR_STOP=1 -f "$work/composed.sql" -c "SELECT count(*) FROM bench_calls WHERE uid ~ '^[0-9a-f-]{36}$'")" = 1 ] ||
  { echo "the composed request() + INSERT did not store its row" >&2; exit 1; }

# pgbench TPS of one script (1 client); fails the run if the client aborted.
pgbench_tps() {
  local script=$1 mode=$2 out=$work/pgbench.out tps
  if ! pgbench -n -M "$mode" -c 1 -j 1 -T "$d" -f "$script" >"$out" 2>&1; then
    echo "pgbench failed on $(cat "$script"):" >&2; tail -n 20 "$out" >&2; exit 1
  fi
  tps=$(awk '/^tps = / {print $3; exit}' "$out")
  [ -n "$tps" ] || { echo "pgbench printed no tps:" >&2; cat "$out" >&2; exit 1; }
  printf '%.1f\n' "$tps"
}
max() { awk -v x="$1" -v y="${2:-0}" 'BEGIN {print (x > y ? x : y)}'; }

echo "== starting calls, 1 client, best of $runs runs of ${d}s"
declare -A A AW B RQ S
c=0
for r in $(seq "$runs"); do
  x=$("$work/curl_loop" "$url" "$d" /api/service/pushAsyncCall "$push_body")
  echo "run $r  c  raw libcurl loop, pushAsyncCall: $x calls/s"
  c=$(max "$x" "$c")
  for m in simple prepared; do
    x=$(pgbench_tps "$work/select1.sql" "$m"); A[$m]=$(max "$x" "${A[$m]:-0}")
    echo "run $r  a  -M $m SELECT 1: $x tps"
    x=$(pgbench_tps "$work/insert.sql" "$m"); AW[$m]=$(max "$x" "${AW[$m]:-0}")
    echo "run $r  a_w -M $m ledger INSERT: $x tps"
    x=$(pgbench_tps "$work/request.sql" "$m"); RQ[$m]=$(max "$x" "${RQ[$m]:-0}")
    echo "run $r  r  -M $m request(pushAsyncCall): $x tps"
    x=$(pgbench_tps "$work/composed.sql" "$m"); S[$m]=$(max "$x" "${S[$m]:-0}")
    echo "run $r  s  -M $m request() + INSERT in SQL: $x tps"
    x=$(pgbench_tps "$work/start.sql" "$m"); B[$m]=$(max "$x" "${B[$m]:-0}")
    echo "run $r  b  -M $m service_start: $x tps"
  done
done
# The backend's CPU time per call (user + system, microseconds) of one
# statement file in mode simple or prepared: one psql session runs it
# BENCH_CPU_CALLS times after a warm-up and reads its backend's
# /proc/<pid>/stat before and after.
cpu_calls=${BENCH_CPU_CALLS:-20000}
tick=$(getconf CLK_TCK)
cpu_us() {
  local script=$1 mode=$2 stmt call
  stmt=$(sed -e 's/;[[:space:]]*$//' "$script")
  if [ "$mode" = prepared ]; then
    call='EXECUTE q;'
  else
    call=$(printf '%s;' "$stmt" | tr '\n' ' ')
  fi
  {
    echo "SELECT pg_backend_pid() AS bpid \\gset"
    echo "\\setenv BPID :bpid"
    [ "$mode" = prepared ] && printf 'PREPARE q AS %s;\n' "$stmt"
    for _ in $(seq 200); do echo "$call"; done
    echo "\\! cat /proc/\$BPID/stat >$work/cpu.before"
    for _ in $(seq "$cpu_calls"); do echo "$call"; done
    echo "\\! cat /proc/\$BPID/stat >$work/cpu.after"
  } >"$work/cpu.sql"
  psql -X -q -At -v ON_ERROR_STOP=1 -f "$work/cpu.sql" >/dev/null
  awk -v n="$cpu_calls" -v tick="$tick" 'FNR == 1 { t[FILENAME] = $14 + $15 }
    END { for (f in t) if (f ~ /before/) b = t[f]; else a = t[f];
          printf "%.0f", (a - b) / tick * 1e6 / n }' "$work/cpu.before" "$work/cpu.after"
}
declare -A CPU
echo "== backend CPU per call, $cpu_calls calls in one session"
for m in simple prepared; do
  for k in select1 insert request composed start; do
    CPU[$k$m]=$(cpu_us "$work/$k.sql" "$m")
    echo "cpu  -M $m $k: ${CPU[$k$m]} us per call"
  done
done

rows=$(psql -X -q -At -c 'SELECT count(*) FROM liveid.calls')

declare -A L LW R RW RR LEDGER BS
for m in simple prepared; do
  BS[$m]=$(awk -v b="${B[$m]}" -v s="${S[$m]}" 'BEGIN {printf "%.2f", b / s}')
  RR[$m]=$(awk -v x="${RQ[$m]}" -v c="$c" -v a="${A[$m]}" 'BEGIN {printf "%.2f", x * (1 / a + 1 / c)}')
  LEDGER[$m]=$(awk -v b="${B[$m]}" -v x="${RQ[$m]}" 'BEGIN {printf "%.0f", 1e6 / b - 1e6 / x}')
  L[$m]=$(awk -v a="${A[$m]}" -v c="$c" 'BEGIN {printf "%.1f", 1 / (1 / a + 1 / c)}')
  LW[$m]=$(awk -v a="${AW[$m]}" -v c="$c" 'BEGIN {printf "%.1f", 1 / (1 / a + 1 / c)}')
  R[$m]=$(awk -v b="${B[$m]}" -v l="${L[$m]}" 'BEGIN {printf "%.2f", b / l}')
  RW[$m]=$(awk -v b="${B[$m]}" -v l="${LW[$m]}" 'BEGIN {printf "%.2f", b / l}')
done
yn() { awk -v x="$1" -v t="$2" 'BEGIN { print (x >= t ? "met" : "NOT met") }'; }
us() { awk -v t="$1" 'BEGIN {printf "%.0f", 1e6 / t}'; }
cat <<EOF

================================ starting calls ($(date -u +%Y-%m-%d), 1 client, best of $runs x ${d}s)
                                      simple              prepared
  c    raw libcurl loop, pushAsyncCall $(printf '%-19s %s' "$c" "$c")   calls/s
  a    SELECT 1                       $(printf '%-19s %s' "${A[simple]}" "${A[prepared]}")   tps
  a_w  the ledger INSERT, plain SQL   $(printf '%-19s %s' "${AW[simple]}" "${AW[prepared]}")   tps
  r    request(), same body           $(printf '%-19s %s' "${RQ[simple]}" "${RQ[prepared]}")   tps (r/L $(printf '%s / %s' "${RR[simple]}" "${RR[prepared]}"))
  b    service_start                  $(printf '%-19s %s' "${B[simple]}" "${B[prepared]}")   tps ($(us "${B[simple]}") / $(us "${B[prepared]}") us per call)
  s    request() + INSERT, in SQL     $(printf '%-19s %s' "${S[simple]}" "${S[prepared]}")   tps (b/s $(printf '%s / %s' "${BS[simple]}" "${BS[prepared]}"))
  1/b - 1/r  (checks, ledger, commit) $(printf '%-19s %s' "${LEDGER[simple]} us" "${LEDGER[prepared]} us")
  L    1/(1/a + 1/c)                  $(printf '%-19s %s' "${L[simple]}" "${L[prepared]}")
  b/L  (no ceiling on 2 cores)       $(printf '%-19s %s' "${R[simple]}" "${R[prepared]}")
  L_w  1/(1/a_w + 1/c)                $(printf '%-19s %s' "${LW[simple]}" "${LW[prepared]}")
  b/L_w (target >= 0.75)              $(printf '%-19s %s' "${RW[simple]} $(yn "${RW[simple]}" 0.75)" "${RW[prepared]} $(yn "${RW[prepared]}" 0.75)")
  b/s   (target > 1)                  $(printf '%-19s %s' "${BS[simple]} $(yn "${BS[simple]}" 1.001)" "${BS[prepared]} $(yn "${BS[prepared]}" 1.001)")
backend CPU per call (user + system, us; $cpu_calls calls in one session)
  SELECT 1                            $(printf '%-19s %s' "${CPU[select1simple]}" "${CPU[select1prepared]}")
  the ledger INSERT, plain SQL        $(printf '%-19s %s' "${CPU[insertsimple]}" "${CPU[insertprepared]}")
  request(), same body                $(printf '%-19s %s' "${CPU[requestsimple]}" "${CPU[requestprepared]}")
  request() + INSERT, in SQL (s)      $(printf '%-19s %s' "${CPU[composedsimple]}" "${CPU[composedprepared]}")
  service_start (b)                   $(printf '%-19s %s' "${CPU[startsimple]}" "${CPU[startprepared]}")
liveid.calls rows written: $rows
EOF
