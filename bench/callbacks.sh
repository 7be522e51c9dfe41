#!/usr/bin/env bash
# Server callbacks ingested per second; runs inside scripts/with-sim.sh (a
# simulator at LIVEID_SIM_URL that trusts LIVEID_TEST_CA for https
# callbacks, and a throwaway cluster with liveid):
#   scripts/with-sim.sh bench/callbacks.sh
#
# Two ways of doing the same work, in the same run, each on N fresh closed
# calls (BENCH_CALLBACKS, default 2000) of the DEMO organization:
#   e = end to end: the simulator posts each call's callback over HTTPS
#       (its one delivery thread, a connection kept alive) to
#       receiver/liveid-receiver, which runs liveid.receive_callback() over
#       libpq and answers 200 after the commit; callbacks/s from the first
#       close until every event is stored;
#   p = pgbench, one client, the extended protocol as the receiver uses it,
#       running the same statement on the same kind of bodies (each
#       transaction a new call's callback, read from a table):
#       SELECT liveid.receive_callback($1)
# Each receive_callback authenticates the body, asks the simulator about
# the call (getAsyncRequestInfo), stores the event and updates the ledger.
# e/p is reported (target >= 0.7), and the CPU per callback of the
# receiver and of its database backends (from /proc).
set -euo pipefail
cd "$(dirname "$0")/.."

n=${BENCH_CALLBACKS:-2000}
: "${LIVEID_SIM_URL:?run inside scripts/with-sim.sh}" "${PGHOST:?}"
cert=${LIVEID_TEST_CERT:?} key=${LIVEID_TEST_KEY:?}
bin=${LIVEID_RECEIVER_BIN:-receiver/liveid-receiver}
[ -x "$bin" ] || make -s -C receiver >/dev/null

work=$(mktemp -d /tmp/liveid-bench-cb.XXXXXX)
rpid=
trap '[ -n "$rpid" ] && kill "$rpid" 2>/dev/null; rm -rf "$work"' EXIT
process=6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS liveid;
DROP ROLE IF EXISTS bench_hook;
CREATE ROLE bench_hook LOGIN IN ROLE liveid_receiver;
ALTER ROLE bench_hook SET log_statement = 'none';
ALTER ROLE bench_hook SET log_parameter_max_length = 0;
SQL

# the receiver, its port on its first line of output
"$bin" --listen 127.0.0.1:0 --dsn "host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=bench_hook" \
  --tls-cert "$cert" --tls-key "$key" --pool 4 >"$work/port" 2>"$work/receiver.log" &
rpid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
rport=$(head -n1 "$work/port")
cb_url="https://127.0.0.1:$rport/liveid/callback"

# N calls opened and answered, with the given callback URL; prefix their
# external ids.  (The simulator is driven through liveid.request.)
prepare() {
  local prefix=$1 url=$2
  psql -X -q -v ON_ERROR_STOP=1 <<SQL
SELECT count(liveid.service_start(
         liveid.customer('it', 'a@b.it', 'Mario', 'Rossi', callback_url => '$url'),
         process => '$process', organization => 'DEMO', external_id => '$prefix-' || i,
         redirect_url => 'https://bank.example/done'))
  FROM generate_series(1, $n) i;
CREATE TEMP TABLE opened AS
SELECT uid, liveid.request('POST', '/sim/open', jsonb_build_object('uId', uid)) ->> 'idConference' AS conf
  FROM liveid.calls WHERE external_id LIKE '$prefix-%';
SELECT count(liveid.request('POST', '/sim/answer', jsonb_build_object('idConference', conf))) FROM opened;
CREATE TABLE bench_conf_$prefix AS SELECT * FROM opened;
SQL
}
close_all() {
  psql -X -q -At -v ON_ERROR_STOP=1 -c "SELECT count(liveid.request('POST', '/sim/close',
      jsonb_build_object('idConference', conf, 'closeStatus', 'N'))) FROM bench_conf_$1" >/dev/null
}
events() { psql -X -q -At -c "SELECT count(*) FROM liveid.call_events e JOIN liveid.calls c USING (uid) WHERE c.external_id LIKE '$1-%'"; }
# user + system CPU seconds of a process
cpu() { awk '{print ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$1/stat" 2>/dev/null || echo 0; }
backends_cpu() {
  local t=0 p
  for p in $(psql -X -q -At -c "SELECT pid FROM pg_stat_activity WHERE usename = 'bench_hook'"); do
    t=$(awk -v a="$t" -v b="$(cpu "$p")" 'BEGIN {print a + b}')
  done
  echo "$t"
}

# ---------------------------------------------------------------- end to end
prepare E "$cb_url"
r_cpu0=$(cpu "$rpid"); b_cpu0=$(backends_cpu)
t0=$(date +%s.%N)
close_all E
while [ "$(events E)" -lt "$n" ]; do sleep 0.05; done
t1=$(date +%s.%N)
r_cpu1=$(cpu "$rpid"); b_cpu1=$(backends_cpu)
e_rate=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN {print n / (b - a)}')

# ---------------------------------------------------------------- pgbench
# the same work for pgbench: N more calls whose callbacks the simulator
# cannot deliver (a closed port), their bodies taken from the redirect
# result, which carries the same envelope
prepare P "https://127.0.0.1:9/nobody"
close_all P
psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE bench_bodies (id serial PRIMARY KEY, body jsonb NOT NULL);
CREATE FUNCTION pg_temp.url_decode(s text) RETURNS text LANGUAGE sql IMMUTABLE AS \$\$
SELECT convert_from(string_agg(CASE WHEN m[1] IS NOT NULL THEN decode(substr(m[1], 2), 'hex')
                                    ELSE convert_to(m[2], 'UTF8') END, ''::bytea ORDER BY k), 'UTF8')
  FROM regexp_matches(replace(s, '+', ' '), '(%[0-9A-Fa-f]{2})|([^%]+)', 'g') WITH ORDINALITY AS r(m, k)
\$\$;
INSERT INTO bench_bodies (body)
SELECT pg_temp.url_decode(liveid.request('GET', '/sim/requests/' || uid) -> 'redirect' ->> 'LiveIDPlusResult')::jsonb
  FROM bench_conf_P ORDER BY uid;
CREATE SEQUENCE bench_body_seq;
GRANT SELECT ON bench_bodies TO bench_hook;
GRANT USAGE ON SEQUENCE bench_body_seq TO bench_hook;
SQL
cat >"$work/cb.sql" <<'SQL'
WITH n AS MATERIALIZED (SELECT nextval('bench_body_seq') AS i)
SELECT liveid.receive_callback(b.body) FROM n JOIN bench_bodies b ON b.id = n.i;
SQL
p_rate=$(pgbench -n -M extended -c 1 -t "$n" -U bench_hook -f "$work/cb.sql" 2>&1 |
         awk '/^tps/ {print $3; exit}')
[ "$(events P)" -eq "$n" ] || { echo "callbacks.sh: pgbench stored $(events P) events of $n" >&2; exit 1; }

kill "$rpid"; wait "$rpid" 2>/dev/null || true; rpid=
printf '== server callbacks, %d each way\n' "$n"
printf 'e (simulator -> receiver -> database): %.0f callbacks/s\n' "$e_rate"
printf 'p (pgbench, 1 client, the same statement): %.0f callbacks/s\n' "$p_rate"
printf 'e/p = %.2f (target >= 0.7)\n' "$(awk -v e="$e_rate" -v p="$p_rate" 'BEGIN {print e / p}')"
printf 'CPU per callback, end to end: receiver %.0f us, its backends %.0f us\n' \
  "$(awk -v a="$r_cpu0" -v b="$r_cpu1" -v n="$n" 'BEGIN {print (b - a) * 1e6 / n}')" \
  "$(awk -v a="$b_cpu0" -v b="$b_cpu1" -v n="$n" 'BEGIN {print (b - a) * 1e6 / n}')"
psql -X -q -c "DROP TABLE bench_bodies, bench_conf_E, bench_conf_P; DROP SEQUENCE bench_body_seq;" 2>/dev/null || true
