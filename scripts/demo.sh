#!/usr/bin/env bash
# An example session of what liveid can do so far (demo/session.sql),
# against the LiveID+ simulator in a throwaway cluster (scripts/with-sim.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--inside" ]; then
  exec scripts/with-sim.sh "$0" --inside
fi
echo "The LiveID+ simulator is at $LIVEID_SIM_URL; a throwaway cluster runs liveid."
psql -X --echo-queries -v ON_ERROR_STOP=0 -f demo/session.sql
