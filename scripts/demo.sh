#!/usr/bin/env bash
# An example session of what liveid can do so far (demo/session.sql),
# against the LiveID+ simulator in a throwaway cluster (scripts/with-sim.sh).
# `make demo` builds and installs first, its output in a log shown only on
# failure; run alone, this builds the simulator if it is missing (the same
# way) and uses the liveid installed in ${PG_CONFIG:-pg_config}'s server.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--inside" ]; then
  log=$(mktemp /tmp/liveid-demo-sim.XXXXXX.log)
  if ! make -C sim >"$log" 2>&1; then
    cat "$log" >&2
    echo "demo.sh: the simulator does not build (log above, kept in $log)" >&2
    exit 1
  fi
  rm -f "$log"
  exec scripts/with-sim.sh "$0" --inside
fi
echo "The LiveID+ simulator is at $LIVEID_SIM_URL; a throwaway cluster runs liveid."
echo "Each step below is titled; under it, each SQL statement, then its result."
# from stdin rather than -f: no "psql:file:line:" before each error
psql -X --echo-queries -v ON_ERROR_STOP=0 <demo/session.sql
