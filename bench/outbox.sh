#!/usr/bin/env bash
# The outbox drained by the background worker, against the limit
# max_concurrency / latency and against serial service_start in the same
# run; then the same 10,000 starts across an immediate restart.
#   bench/outbox.sh          (bench/run.sh runs it; needs the build installed)
#
# Makes its own cluster (initdb and pg_ctl of pg_config's server, as the
# postgres user when run as root), with fsync and synchronous_commit at
# their defaults: the worker's claims and records are real commits.  Its
# own simulator answers after --latency-ms BENCH_LATENCY_MS (default 20).
# liveid is preloaded with liveid.worker_database = 'postgres' and
# liveid.max_concurrency = BENCH_CONCURRENCY (default 16).
#   serial  = one session calling service_start BENCH_SERIAL times (default
#             500: at 20 ms that is 10 s) one statement each;
#   drain   = one statement enqueuing BENCH_OUTBOX starts (default 10,000),
#             committed; timed from the commit to the last sent_at;
#   restart = BENCH_OUTBOX more enqueued, pg_ctl restart -m immediate once
#             a fifth is sent, then drained: lost = queued - (sent + failed),
#             duplicates = pushAsyncCall requests beyond one per start.
# Reported: rates, the ratio to the limit, CPU per start of the enqueuing
# backend and of the worker (user + system, from /proc).
set -euo pipefail
cd "$(dirname "$0")/.."

latency=${BENCH_LATENCY_MS:-20}
conc=${BENCH_CONCURRENCY:-16}
nserial=${BENCH_SERIAL:-500}
n=${BENCH_OUTBOX:-10000}
process=6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01
key=demo-key-5f2b9c

work=$(mktemp -d /tmp/liveid-bench-outbox.XXXXXX)
chmod 755 "$work"
bindir=$(pg_config --bindir)
as_server=()
if [ "$(id -u)" -eq 0 ]; then as_server=(runuser -u postgres --); chown postgres "$work"; fi
sim_pid=
cleanup() {
  "${as_server[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate -w -s stop 2>/dev/null || true
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

sim/liveid-sim --port 0 --quiet --latency-ms "$latency" >"$work/port" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || { echo "outbox.sh: the simulator did not start" >&2; exit 1; }
url="http://127.0.0.1:$(head -n1 "$work/port")"

"${as_server[@]}" "$bindir/initdb" -D "$work/data" -U postgres -A trust -E UTF8 --locale=C >"$work/initdb.log" 2>&1 \
  || { cat "$work/initdb.log" >&2; exit 1; }
cat >>"$work/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$work'
shared_preload_libraries = 'liveid'
liveid.url = '$url'
liveid.api_key = '$key'
liveid.worker_database = 'postgres'
liveid.max_concurrency = $conc
${BENCH_EXTRA_CONF:-}
CONF
"${as_server[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w -s start
export PGHOST=$work PGUSER=postgres PGDATABASE=postgres
psql -X -q -c 'CREATE EXTENSION liveid'

tick=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now() { date +%s.%N; }
worker_pid() { psql -X -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'liveid worker'"; }
pushes() { curl -s "$url/sim/stats" | jq -r '.pushes // empty'; }
customer="liveid.customer('it', 'a@example.com', 'A', 'B')"
start_args="organization => 'DEMO', process => '$process'"

# serial service_start, one statement each, one session
{
  echo "SELECT pg_backend_pid() AS bpid \\gset"
  echo "\\setenv BPID :bpid"
  echo "\\! awk '{print \$14 + \$15}' /proc/\$BPID/stat >$work/cpu.before; date +%s.%N >$work/t.before"
  for i in $(seq "$nserial"); do echo "SELECT liveid.service_start($customer, $start_args) IS NOT NULL;"; done
  echo "\\! date +%s.%N >$work/t.after; awk '{print \$14 + \$15}' /proc/\$BPID/stat >$work/cpu.after"
} >"$work/serial.sql"
psql -X -q -At -v ON_ERROR_STOP=1 -f "$work/serial.sql" >/dev/null
s_el=$(awk '{a=$1} END {print a}' "$work/t.after"); s_el=$(awk -v a="$s_el" -v b="$(cat "$work/t.before")" 'BEGIN {print a - b}')
s_rate=$(awk -v n="$nserial" -v e="$s_el" 'BEGIN {printf "%.0f", n / e}')
s_cpu=$(awk -v a="$(cat "$work/cpu.after")" -v b="$(cat "$work/cpu.before")" -v t="$tick" -v n="$nserial" 'BEGIN {printf "%.0f", (a - b) / t * 1e6 / n}')

# enqueues $1 starts in one statement; sets e_el, e_cpu (the backend's) and t_commit
enqueue() {
  local count=$1 tag=$2
  {
    echo "SELECT pg_backend_pid() AS bpid \\gset"
    echo "\\setenv BPID :bpid"
    echo "\\! awk '{print \$14 + \$15}' /proc/\$BPID/stat >$work/cpu.before; date +%s.%N >$work/t.before"
    echo "SELECT count(liveid.enqueue_start($customer, $start_args, external_id => '$tag-' || i)) FROM generate_series(1, $count) i;"
    echo "\\! date +%s.%N >$work/t.after; awk '{print \$14 + \$15}' /proc/\$BPID/stat >$work/cpu.after"
  } >"$work/enqueue.sql"
  psql -X -q -At -v ON_ERROR_STOP=1 -f "$work/enqueue.sql" >/dev/null
  t_commit=$(cat "$work/t.after")
  e_el=$(awk -v a="$t_commit" -v b="$(cat "$work/t.before")" 'BEGIN {printf "%.2f", a - b}')
  e_cpu=$(awk -v a="$(cat "$work/cpu.after")" -v b="$(cat "$work/cpu.before")" -v t="$tick" -v n="$count" 'BEGIN {printf "%.0f", (a - b) / t * 1e6 / n}')
}
# waits until no start of tag is queued or sending (at most 10 minutes)
drained() {
  local tag=$1
  for _ in $(seq 6000); do
    left=$(psql -X -At -c "SELECT count(*) FROM liveid.outbox WHERE state IN ('queued', 'sending') AND external_id LIKE '$tag-%'" 2>/dev/null || echo x)
    [ "$left" = 0 ] && return 0
    sleep 0.1
  done
  echo "outbox.sh: the outbox of $tag did not drain" >&2; exit 1
}

# the drain
wpid=$(worker_pid)
w_before=$(cpu "$wpid")
p_before=$(pushes)
enqueue "$n" drain
drained drain
w_after=$(cpu "$wpid")
p_after=$(pushes)
read -r d_sent d_failed d_last <<<"$(psql -X -At -F ' ' -c "SELECT count(*) FILTER (WHERE state = 'sent'), count(*) FILTER (WHERE state = 'failed'), extract(epoch FROM max(sent_at)) FROM liveid.outbox WHERE external_id LIKE 'drain-%'")"
d_el=$(awk -v a="$d_last" -v b="$t_commit" 'BEGIN {printf "%.2f", a - b}')
d_rate=$(awk -v n="$d_sent" -v e="$d_el" 'BEGIN {printf "%.0f", n / e}')
limit=$(awk -v c="$conc" -v l="$latency" 'BEGIN {printf "%.0f", c * 1000 / l}')
ratio=$(awk -v r="$d_rate" -v l="$limit" 'BEGIN {printf "%.2f", r / l}')
w_cpu=$(awk -v a="$w_after" -v b="$w_before" -v t="$tick" -v n="$n" 'BEGIN {printf "%.0f", (a - b) / t * 1e6 / n}')
d_enq_el=$e_el d_enq_cpu=$e_cpu
d_dup=$(( p_after - p_before - n ))

# the immediate restart
p_before=$(pushes)
enqueue "$n" crash
for _ in $(seq 600); do
  sent=$(psql -X -At -c "SELECT count(*) FROM liveid.outbox WHERE state = 'sent' AND external_id LIKE 'crash-%'")
  [ "$sent" -ge $(( n / 5 )) ] && break
  sleep 0.05
done
"${as_server[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -m immediate -w -s restart
drained crash
p_after=$(pushes)
read -r c_sent c_failed c_total <<<"$(psql -X -At -F ' ' -c "SELECT count(*) FILTER (WHERE state = 'sent'), count(*) FILTER (WHERE state = 'failed'), count(*) FROM liveid.outbox WHERE external_id LIKE 'crash-%'")"
c_lost=$(( n - c_sent - c_failed ))
c_dup=$(( p_after - p_before - n ))
inflight=$(grep -o '[0-9]* starts were in flight' "$work/server.log" | tail -n1 | awk '{print $1}')

cat <<EOF

================================ outbox ($(date -u +%Y-%m-%d), latency $latency ms, max_concurrency $conc, fsync on)
  serial service_start ($nserial, 1 session)   $s_rate starts/s   backend CPU $s_cpu us per start
  enqueue_start ($n, one statement)      ${d_enq_el} s to commit   backend CPU $d_enq_cpu us per start
  worker drain of $n queued starts       ${d_el} s: $d_rate starts/s = $ratio of the limit $limit/s
                                         worker CPU $w_cpu us per start; sent $d_sent, failed $d_failed, duplicates $d_dup
  drain against serial service_start     $(awk -v a="$d_rate" -v b="$s_rate" 'BEGIN {printf "%.1f", a / b}')x
  immediate restart at ${sent} sent         lost $c_lost, sent $c_sent, failed $c_failed, duplicates $c_dup (in flight at the crash: ${inflight:-0})
EOF
