#!/usr/bin/env bash
# Server callbacks ingested per second; runs inside scripts/with-sim.sh (a
# simulator at LIVEID_SIM_URL that trusts LIVEID_TEST_CA for https
# callbacks, and a throwaway cluster with liveid):
#   scripts/with-sim.sh bench/callbacks.sh
#
# Two ways of doing the same work, in the same run, each on N fresh closed
# calls (BENCH_CALLBACKS, default 2000) of the DEMO organization, first one
# at a time, then K at once (BENCH_CALLBACK_THREADS, default 4):
#   e = end to end: the simulator posts each call's callback over HTTPS
#       (K delivery threads, each keeping its connection alive) to
#       receiver/liveid-receiver, which runs liveid.receive_callback() over
#       libpq and answers 200 after the commit; callbacks/s from the moment
#       the N callbacks are waiting to be delivered until the receiver has
#       answered the last;
#   p = pgbench, K clients, the extended protocol as the receiver uses it,
#       running the same statement on the same kind of bodies (each
#       transaction a new call's callback, read from a table):
#       SELECT liveid.receive_callback($1)
# Each receive_callback authenticates the body, asks the simulator about
# the call (getAsyncRequestInfo), stores the event and updates the ledger.
# e/p is reported (target >= 0.7), and the CPU per callback of the
# receiver and of its database backends (from /proc).  The script starts a
# simulator of its own for each K (--callback-threads K) and points the
# cluster's liveid.url at it for the run (ALTER SYSTEM, reset at the end).
set -euo pipefail
cd "$(dirname "$0")/.."

n=${BENCH_CALLBACKS:-2000}
: "${LIVEID_SIM_URL:?run inside scripts/with-sim.sh}" "${PGHOST:?}"
cert=${LIVEID_TEST_CERT:?} key=${LIVEID_TEST_KEY:?}
bin=${LIVEID_RECEIVER_BIN:-receiver/liveid-receiver}
[ -x "$bin" ] || make -s -C receiver >/dev/null

work=$(mktemp -d /tmp/liveid-bench-cb.XXXXXX)
rpid= spid=
cleanup() {
  [ -n "$rpid" ] && kill "$rpid" 2>/dev/null
  [ -n "$spid" ] && kill "$spid" 2>/dev/null
  psql -X -q -c "ALTER SYSTEM RESET liveid.url" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
process=6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01
k=${BENCH_CALLBACK_THREADS:-4}

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS liveid;
DROP ROLE IF EXISTS bench_hook;
CREATE ROLE bench_hook LOGIN IN ROLE liveid_receiver;
ALTER ROLE bench_hook SET log_statement = 'none';
ALTER ROLE bench_hook SET log_parameter_max_length = 0;
SQL

# A simulator posting callbacks from $1 threads, trusting the test CA, and
# the cluster pointed at it.
start_sim() {
  sim/liveid-sim --port 0 --quiet --callback-ca "$LIVEID_TEST_CA" --callback-threads "$1" \
    >"$work/sim.port" 2>"$work/sim.log" &
  spid=$!
  for _ in $(seq 100); do [ -s "$work/sim.port" ] && break; sleep 0.05; done
  psql -X -q -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET liveid.url = 'http://127.0.0.1:$(head -n1 "$work/sim.port")'" \
    -c "SELECT pg_reload_conf()" >/dev/null
  sleep 0.2
}
# The receiver, its port on its first line of output; a pool of $1.
start_receiver() {
  : >"$work/receiver.log"
  "$bin" --listen 127.0.0.1:0 --dsn "host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=bench_hook" \
    --tls-cert "$cert" --tls-key "$key" --pool "$1" >"$work/port" 2>"$work/receiver.log" &
  rpid=$!
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
  cb_url="https://127.0.0.1:$(head -n1 "$work/port")/liveid/callback"
}
stop_all() {
  kill "$rpid" "$spid" 2>/dev/null || true
  wait "$rpid" "$spid" 2>/dev/null || true
  rpid= spid=
}

# N calls opened and answered, with the given callback URL; prefix their
# external ids.  (The simulator is driven through liveid.request.)
prepare() {
  local prefix=$1 url=$2
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
SELECT count(liveid.service_start(
         liveid.customer('it', 'a@b.it', 'Mario', 'Rossi', callback_url => '$url'),
         process => '$process', organization => 'DEMO', external_id => '$prefix-' || i,
         redirect_url => 'https://bank.example/done'))
  FROM generate_series(1, $n) i;
CREATE TEMP TABLE opened AS
SELECT uid, liveid.request('POST', '/sim/open', jsonb_build_object('uId', uid)) ->> 'idConference' AS conf
  FROM liveid.calls WHERE external_id LIKE '$prefix-%';
SELECT count(liveid.request('POST', '/sim/answer', jsonb_build_object('idConference', conf))) FROM opened;
DROP TABLE IF EXISTS bench_conf_$prefix;
CREATE TABLE bench_conf_$prefix AS SELECT * FROM opened;
SQL
}
close_all() {
  psql -X -q -At -v ON_ERROR_STOP=1 -c "SELECT count(liveid.request('POST', '/sim/close',
      jsonb_build_object('idConference', conf, 'closeStatus', 'N'))) FROM bench_conf_$1" >/dev/null
}
events() { psql -X -q -At -c "SELECT count(*) FROM liveid.call_events e JOIN liveid.calls c USING (uid) WHERE c.external_id LIKE '$1-%'"; }
delivered() { grep -c ' POST /liveid/callback 200 ' "$work/receiver.log" || true; }
# user + system CPU seconds of a process
cpu() { awk '{print ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$1/stat" 2>/dev/null || echo 0; }
backends_cpu() {
  local t=0 p
  for p in $(psql -X -q -At -c "SELECT pid FROM pg_stat_activity WHERE usename = 'bench_hook'"); do
    t=$(awk -v a="$t" -v b="$(cpu "$p")" 'BEGIN {print a + b}')
  done
  echo "$t"
}

# run K: both ways with K at once; prints one line of figures
run() {
  local kk=$1 tag="E$1" ptag="P$1"
  start_sim "$kk"
  start_receiver "$kk"
  # ---- end to end.  The calls are closed while the receiver is stopped
  # (SIGSTOP): the simulator's first deliveries wait on it, the others
  # queue behind.  The clock starts when the receiver goes on (SIGCONT), so
  # that closing the calls is not measured, and stops when the receiver has
  # answered the last of them (its log, which costs nothing to read; the
  # events are counted after).
  prepare "$tag" "$cb_url"
  kill -STOP "$rpid"
  close_all "$tag"
  local r0 b0 t0 t1 r1 b1
  r0=$(cpu "$rpid"); b0=$(backends_cpu)
  t0=$(date +%s.%N)
  kill -CONT "$rpid"
  while [ "$(delivered)" -lt "$n" ]; do sleep 0.02; done
  t1=$(date +%s.%N)
  r1=$(cpu "$rpid"); b1=$(backends_cpu)
  [ "$(events "$tag")" -eq "$n" ] || { echo "callbacks.sh: $(events "$tag") events stored of $n" >&2; exit 1; }
  local e_rate
  e_rate=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN {print n / (b - a)}')
  # ---- pgbench: N more calls whose callbacks the simulator cannot deliver
  # (a closed port), their bodies taken from the redirect result, which
  # carries the same envelope
  prepare "$ptag" "https://127.0.0.1:9/nobody"
  close_all "$ptag"
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_bodies;
DROP SEQUENCE IF EXISTS bench_body_seq;
CREATE TABLE bench_bodies (id serial PRIMARY KEY, body jsonb NOT NULL);
CREATE FUNCTION pg_temp.url_decode(s text) RETURNS text LANGUAGE sql IMMUTABLE AS \$\$
SELECT convert_from(string_agg(CASE WHEN m[1] IS NOT NULL THEN decode(substr(m[1], 2), 'hex')
                                    ELSE convert_to(m[2], 'UTF8') END, ''::bytea ORDER BY k), 'UTF8')
  FROM regexp_matches(replace(s, '+', ' '), '(%[0-9A-Fa-f]{2})|([^%]+)', 'g') WITH ORDINALITY AS r(m, k)
\$\$;
INSERT INTO bench_bodies (body)
SELECT pg_temp.url_decode(liveid.request('GET', '/sim/requests/' || uid) -> 'redirect' ->> 'LiveIDPlusResult')::jsonb
  FROM bench_conf_$ptag ORDER BY uid;
CREATE SEQUENCE bench_body_seq;
GRANT SELECT ON bench_bodies TO bench_hook;
GRANT USAGE ON SEQUENCE bench_body_seq TO bench_hook;
SQL
  local p_rate
  p_rate=$(pgbench -n -M extended -c "$kk" -j "$kk" -t "$((n / kk))" -U bench_hook -f "$work/cb.sql" 2>&1 |
           awk '/^tps/ {print $3; exit}')
  [ "$(events "$ptag")" -eq "$((n / kk * kk))" ] ||
    { echo "callbacks.sh: pgbench stored $(events "$ptag") events of $n" >&2; exit 1; }
  stop_all
  printf '%d at once: e %.0f callbacks/s, p %.0f callbacks/s, e/p = %.2f (target >= 0.7); CPU per callback end to end: receiver %.0f us, its backends %.0f us\n' \
    "$kk" "$e_rate" "$p_rate" "$(awk -v e="$e_rate" -v p="$p_rate" 'BEGIN {print e / p}')" \
    "$(awk -v a="$r0" -v b="$r1" -v n="$n" 'BEGIN {print (b - a) * 1e6 / n}')" \
    "$(awk -v a="$b0" -v b="$b1" -v n="$n" 'BEGIN {print (b - a) * 1e6 / n}')"
  psql -X -q -c "DROP TABLE bench_bodies, bench_conf_$tag, bench_conf_$ptag; DROP SEQUENCE bench_body_seq;" >/dev/null 2>&1 || true
}

cat >"$work/cb.sql" <<'SQL'
WITH n AS MATERIALIZED (SELECT nextval('bench_body_seq') AS i)
SELECT liveid.receive_callback(b.body) FROM n JOIN bench_bodies b ON b.id = n.i;
SQL
printf '== server callbacks, %d each way: e = simulator -> liveid-receiver -> database, p = pgbench\n' "$n"
run 1
run "$k"
