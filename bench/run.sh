#!/usr/bin/env bash
# The benchmarks, in one run on this machine; prints the figures that go to
# docs/performance.md.  Everything runs on loopback and stops by itself.
#
# Builds the raw libcurl loop (bench/curl_loop.c) into a temporary directory,
# then runs bench/pg.sh inside scripts/with-sim.sh: one simulator and a
# throwaway cluster with liveid, against which every figure is measured
# (wrk on the simulator alone, pgbench, the curl loop, the memory run).
#   BENCH_SECONDS   length of each wrk, pgbench and curl-loop run (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/liveid-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export BENCH_WORK=$work
export BENCH_SECONDS=${BENCH_SECONDS:-10}

# shellcheck disable=SC2046  # curl-config prints several flags
gcc -O2 -Wall -o "$work/curl_loop" bench/curl_loop.c $(curl-config --cflags) $(curl-config --libs)

# the foundation (pg.sh), the payload builders, service_start, the memory
# of large answers and server callbacks end to end, each in the same
# cluster against the same simulator; then refresh_calls() against serial
# calls (its own simulator, with a latency), and collect_metrics() against
# the same requests made serially (the same); then the outbox drained by the
# background worker against serial service_start (bench/outbox.sh)
scripts/with-sim.sh bash -c 'bench/pg.sh && bench/payload.sh && bench/start.sh && bench/answer.sh && bench/callbacks.sh && bench/refresh.sh && bench/metrics.sh'
# the outbox: its own cluster (fsync on, a background worker, an immediate
# restart) and its own simulator with a latency
bench/outbox.sh
