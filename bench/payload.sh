#!/usr/bin/env bash
# The cost of liveid.row_to_data against to_jsonb over the same rows; runs
# inside scripts/with-sim.sh (a throwaway cluster with liveid; the simulator
# is not used):
#   scripts/with-sim.sh bench/payload.sh
#
# Builds a six-column table (integer, text, date, boolean, numeric and an
# e-mail text column) of BENCH_PAYLOAD_ROWS rows (default 1000000), then
# times   SELECT count(liveid.row_to_data(t6)) FROM t6
# against SELECT count(to_jsonb(t6)) FROM t6
# BENCH_PAYLOAD_RUNS times each (default 5, interleaved, best run kept),
# without parallel workers so that the figure is the cost per row.  Prints
# both times and the ratio; the target is a ratio of at most 2.
set -euo pipefail

rows=${BENCH_PAYLOAD_ROWS:-1000000}
runs=${BENCH_PAYLOAD_RUNS:-5}
: "${PGHOST:?run inside scripts/with-sim.sh}"
export PGOPTIONS="${PGOPTIONS:-} -c max_parallel_workers_per_gather=0"

psql -X -q -v ON_ERROR_STOP=1 <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS liveid;
DROP TABLE IF EXISTS bench_t6;
CREATE TABLE bench_t6 AS
SELECT i AS id, 'name ' || i AS name, current_date - (i % 10000) AS birth,
       (i % 2 = 0) AS active, i * 1.5 AS amount, 'x' || i || '@example.com' AS email
  FROM generate_series(1, $rows) i;
VACUUM ANALYZE bench_t6;
SQL

# milliseconds of one run of a query (psql's \timing)
time_ms() {
  psql -X -q -At -v ON_ERROR_STOP=1 <<SQL | awk '/^Time: / {print $2}'
\timing on
$1
SQL
}

# the smaller of two numbers
min() { awk -v a="$1" -v b="$2" 'BEGIN {print (b == "" || a + 0 < b + 0) ? a : b}'; }

q_data='SELECT count(liveid.row_to_data(t6)) FROM bench_t6 t6;'
q_jsonb='SELECT count(to_jsonb(t6)) FROM bench_t6 t6;'
# warm up: the table in shared buffers, the library loaded
time_ms "$q_jsonb" >/dev/null
time_ms "$q_data" >/dev/null

best_data='' best_jsonb=''
for _ in $(seq "$runs"); do
  best_jsonb=$(min "$(time_ms "$q_jsonb")" "$best_jsonb")
  best_data=$(min "$(time_ms "$q_data")" "$best_data")
done

psql -X -q -v ON_ERROR_STOP=1 -c 'DROP TABLE bench_t6'

echo "== payload: liveid.row_to_data vs to_jsonb, $rows rows of 6 columns, best of $runs, no parallel workers"
printf 'to_jsonb(row):           %10.1f ms\n' "$best_jsonb"
printf 'liveid.row_to_data(row): %10.1f ms\n' "$best_data"
awk -v d="$best_data" -v j="$best_jsonb" \
  'BEGIN {printf "ratio row_to_data / to_jsonb: %.2f (target <= 2)\n", d / j}'
