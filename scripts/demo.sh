#!/usr/bin/env bash
# An example session against the LiveID+ simulator: what liveid can do so far.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; rm -rf "$work"' EXIT

sim/liveid-sim --port 0 >"$work/port" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(head -n1 "$work/port")
base="http://127.0.0.1:$port"
key="demo-key-5f2b9c"            # the simulator's DEMO organization (sim/config.json)
proc="6f1c2a9e-3b7d-4e2a-9c41-0d5e8f7a1b01"

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
api()  { local m=$1 p=$2; shift 2; curl -sS -X "$m" -H "apikey: $key" -H 'Content-Type: application/json' "$@" "$base$p"; echo; }
ctl()  { curl -sS -X POST -H 'Content-Type: application/json' -d "$2" "$base/sim/$1"; echo; }
field() { sed -E "s/.*\"$1\":\"([^\"]*)\".*/\\1/"; }

say "The LiveID+ simulator is listening on $base"

say "Utility APIs: operators, queue, languages, waiting times"
api POST /api/service/getAvailableOperators -d '{"orgCode":"DEMO"}'
api POST /api/service/getQueue -d "{\"id_process\":\"$proc\"}"
api POST /api/service/availableLanguages -d '{"orgCode":"DEMO"}'
api POST /api/service/getDailyWaitingTimes -d '{"orgCode":"DEMO"}'

say "Start an asynchronous call (pushAsyncCall) for a customer"
json=$(printf '%s' '{"lang":"it","liveid_email":"mario.rossi@example.com","liveid_name":"Mario","liveid_surname":"Rossi","data":{"fiscal_code":{"datatype":"text","label":"Fiscal code","value":"RSSMRA85M01H501Z","order":1,"readonly":true},"birth_date":{"datatype":"date","label":"Date of birth","value":"1985-08-01","order":2}}}' | base64 -w0)
b64=$(printf '{"id_organization":"DEMO","id_process":"%s","json":"%s","external_id":"CASE-1001"}' "$proc" "$json" | base64 -w0)
answer=$(api POST /api/service/pushAsyncCall -d "{\"b64Data\":\"$b64\",\"method\":\"start\"}")
echo "$answer"
uid=$(echo "$answer" | field uId)
echo "launch URL: $base/app/service-asyncall?uId=$uid"

say "The customer opens the link; an operator answers; the call closes (N)"
conf=$(ctl open "{\"uId\":\"$uid\"}" | tee /dev/stderr | field idConference)
ctl answer "{\"idConference\":\"$conf\"}"
ctl close "{\"idConference\":\"$conf\",\"closeStatus\":\"N\",\"note\":\"identity verified\"}"

say "How the call ended (getAsyncRequestInfo)"
api GET "/api/v2/getAsyncRequestInfo?uId=$uid"

say "A wrong key, and a fault the tests use (FAULT-STATUS-503)"
curl -sS -w ' (HTTP %{http_code})\n' -H 'apikey: wrong' -d '{"orgCode":"DEMO"}' "$base/api/service/getAvailableOperators"
curl -sS -w ' (HTTP %{http_code})\n' -H "apikey: $key" -d '{"orgCode":"FAULT-STATUS-503"}' "$base/api/service/getAvailableOperators"

say "The simulator's request log"
cat "$work/sim.log"
