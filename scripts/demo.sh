#!/usr/bin/env bash
# An example session of what liveid can do so far (demo/session.sql),
# against the LiveID+ simulator in a throwaway cluster (scripts/with-sim.sh).
# `make demo` builds and installs first, its output in a log shown only on
# failure; run alone, this builds the simulator and the receiver if they are missing (the same
# way) and uses the liveid installed in ${PG_CONFIG:-pg_config}'s server.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--inside" ]; then
  log=$(mktemp /tmp/liveid-demo-sim.XXXXXX.log)
  if ! { make -C sim && make -C receiver; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "demo.sh: the simulator or the receiver does not build (log above, kept in $log)" >&2
    exit 1
  fi
  rm -f "$log"
  LIVEID_WITH_PG_CRON=1 LIVEID_WORKER_DATABASE=postgres exec scripts/with-sim.sh "$0" --inside
fi
# the callback receiver, over TLS with the certificate the simulator trusts;
# it logs in as the role demo/session.sql creates (Step 10)
receiver_log=$(mktemp /tmp/liveid-demo-receiver.XXXXXX.log)
receiver/liveid-receiver --listen 127.0.0.1:0 \
  --dsn "host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=demo_receiver" \
  --tls-cert "$LIVEID_TEST_CERT" --tls-key "$LIVEID_TEST_KEY" >"$receiver_log.port" 2>"$receiver_log" &
receiver_pid=$!
trap 'kill $receiver_pid 2>/dev/null; wait $receiver_pid 2>/dev/null; rm -f "$receiver_log" "$receiver_log.port"' EXIT
for _ in $(seq 100); do [ -s "$receiver_log.port" ] && break; sleep 0.05; done
receiver_url="https://127.0.0.1:$(head -n1 "$receiver_log.port")/liveid/callback"

echo "The LiveID+ simulator is at $LIVEID_SIM_URL; a throwaway cluster runs liveid;"
echo "liveid-receiver takes the simulator's server callbacks at $receiver_url."
echo "Each step below is titled; under it, each SQL statement, then its result."
# from stdin rather than -f: no "psql:file:line:" before each error
psql -X --echo-queries -v ON_ERROR_STOP=0 -v receiver_url="$receiver_url" <demo/session.sql
echo
[ -s /tmp/liveid-report.html ] && echo "The report of Step 12 is in /tmp/liveid-report.html: open it in a browser."
echo
echo "The receiver's log (one line per request, never a token):"
sed 's/^/    /' "$receiver_log"
