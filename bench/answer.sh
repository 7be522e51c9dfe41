#!/usr/bin/env bash
# The memory a large answer costs one backend; runs inside scripts/with-sim.sh
# (a simulator, LIVEID_SIM_URL, and a throwaway cluster with liveid):
#   scripts/with-sim.sh bench/answer.sh
#
# For each 7.9 MB answer shape of the simulator (FAULT-ZEROS and the large
# FAULT-ANSWER shapes), a fresh session reads its backend's peak resident
# size (VmHWM, /proc) before and after one liveid.request() of it, and the
# same for PostgreSQL's own jsonb_in on the same text (cast from a text
# value built in the session beforehand): the growth in kB, and as a
# multiple of the answer's size.  Also the time one parse takes.
# `make bench` runs it after bench/start.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LIVEID_SIM_URL:?run inside scripts/with-sim.sh}"

psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION IF NOT EXISTS liveid' 2>/dev/null

# What one statement needs beyond what a fresh backend holds after a setup
# statement: its peak resident size (VmHWM) after it, less the resident
# size (VmRSS) before it, in kB.
hwm_growth() {
  local setup=$1 stmt=$2
  psql -X -q -At -v ON_ERROR_STOP=1 <<SQL
$setup
SELECT substring(pg_read_file('/proc/self/status') FROM 'VmRSS:\s+(\d+)')::bigint AS r0 \gset
$stmt
SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s+(\d+)')::bigint - :r0;
SQL
}

# milliseconds of one statement, best of 3 in one session
ms() {
  local stmt=$1
  psql -X -q -At -v ON_ERROR_STOP=1 <<SQL | sort -n | head -n 1
$stmt
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
$stmt
SELECT round((extract(epoch FROM clock_timestamp()) - :t0) * 1000);
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
$stmt
SELECT round((extract(epoch FROM clock_timestamp()) - :t0) * 1000);
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
$stmt
SELECT round((extract(epoch FROM clock_timestamp()) - :t0) * 1000);
SQL
}

echo "== memory of one 7.9 MB answer, one fresh backend each"
printf '%-34s %12s %8s %12s %8s %8s\n' "answer" "liveid kB" "x size" "jsonb_in kB" "x size" "ms"
for org in FAULT-ZEROS-7900000 FAULT-ANSWER-19 FAULT-ANSWER-20 FAULT-ANSWER-21; do
  body="{\"orgCode\": \"$org\"}"
  size=$(curl -s -o /dev/null -w '%{size_download}' -H 'apikey: demo-key-5f2b9c' \
           -H 'Content-Type: application/json' -d "$body" \
           "$LIVEID_SIM_URL/api/service/getAvailableOperators")
  call="SELECT jsonb_typeof(liveid.request('POST', '/api/service/getAvailableOperators', '$body')) AS t \\gset"
  ours=$(hwm_growth "SELECT 1 AS warm \\gset" "$call")
  # jsonb_in: the text is fetched as text first (not counted), then cast
  theirs=$(hwm_growth \
    "CREATE TEMP TABLE answer AS SELECT liveid.request('POST', '/api/service/getAvailableOperators', '$body')::text AS t;" \
    "SELECT jsonb_typeof(t::jsonb) AS t FROM answer \\gset")
  took=$(ms "$call")
  printf '%-34s %12s %8s %12s %8s %8s\n' "$org ($size bytes)" "$ours" \
    "$(awk -v k="$ours" -v s="$size" 'BEGIN {printf "%.1f", k * 1024 / s}')" "$theirs" \
    "$(awk -v k="$theirs" -v s="$size" 'BEGIN {printf "%.1f", k * 1024 / s}')" "$took"
done
echo "(target: liveid's growth at most about 10x the answer's size)"
