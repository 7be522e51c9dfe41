#!/usr/bin/env bash
# The benchmarks, in one run on this machine; prints the figures that go to
# docs/performance.md.  Everything runs on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; rm -rf "$work"' EXIT
duration=${BENCH_SECONDS:-10}

sim/liveid-sim --port 0 --quiet >"$work/port" &
sim_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(head -n1 "$work/port")

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body   = '{"orgCode":"DEMO"}'
wrk.headers["apikey"] = "demo-key-5f2b9c"
wrk.headers["Content-Type"] = "application/json"
LUA

echo "== simulator: utility calls per second (wrk, keep-alive, ${duration}s each)"
for conns in 1 8 32; do
  rps=$(wrk -t"$([ "$conns" -eq 1 ] && echo 1 || echo 2)" -c"$conns" -d"${duration}s" \
          -s "$work/post.lua" "http://127.0.0.1:$port/api/service/getAvailableOperators" |
        awk '/Requests\/sec/ {print $2}')
  printf 'sim getAvailableOperators, %2d connections: %s req/s (target >= 20000)\n' "$conns" "$rps"
done
