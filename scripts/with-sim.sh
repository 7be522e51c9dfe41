#!/usr/bin/env bash
# Runs a command with two LiveID+ simulators (plain http, and https with a
# throwaway CA made here) and a throwaway PostgreSQL cluster configured for
# them.  The command sees:
#   LIVEID_SIM_URL, LIVEID_SIM_TLS_URL, LIVEID_TEST_CA, LIVEID_PGDATA
#   LIVEID_TEST_CERT, LIVEID_TEST_KEY (a certificate of the CA for
#   localhost and 127.0.0.1, for a callback receiver the simulators trust)
#   and PGHOST, PGPORT, PGUSER, PGDATABASE for the cluster
# The cluster's postgresql.conf sets liveid.url and liveid.api_key (the
# simulator's DEMO key) plus liveid_test.* values the regression tests read,
# so no test's SQL or expected output holds a port or a key.  Among them,
# liveid_test.key_file names a key file with ACME's key (mode 0600, owned by
# the server's user) that no setting names: sql/keys.sql puts it in force
# with ALTER SYSTEM and takes it out again.
#
# The cluster is made with the initdb and pg_ctl of $PG_CONFIG's server
# (default: pg_config), in the run's own directory, listening only on a
# Unix socket there: runs never collide, and a copy of PostgreSQL with
# another build of liveid (scripts/test.sh's sanitizer run) works the same.
# As root, the server runs as the postgres user.
#
# LIVEID_WITH_PG_CRON=1 preloads pg_cron too (make demo schedules a job).
# LIVEID_WORKER_DATABASE=db starts liveid's background worker for db (make
# demo sends its outbox); the pg_regress cluster runs without it.
#
# LIVEID_SERVER_ENV ("NAME=value NAME=value ...", optional) goes into the
# server's environment only, not the command's: scripts/sanitize.sh uses it
# to preload the sanitizer runtime (LD_PRELOAD, ASAN_OPTIONS, UBSAN_OPTIONS)
# into postgres without preloading psql or pg_regress.  LIVEID_SERVER_LOGS
# (a directory, optional) receives a copy of the server's log at the end
# (UBSan reports go to the server's stderr).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/liveid-test.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a simulator (not in a subshell, so that cleanup knows its pid);
# its port is then in $work/<name>.port.
start_sim() {
  local name=$1; shift
  sim/liveid-sim --port 0 --quiet "$@" >"$work/$name.port" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/$name.port" ] && break; sleep 0.05; done
  [ -s "$work/$name.port" ] || { echo "with-sim.sh: simulator $name did not start" >&2; cat "$work/$name.log" >&2; exit 1; }
}

# a throwaway CA and a certificate for localhost/127.0.0.1 (nothing committed)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=liveid test CA" \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
  -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$work/san.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/san.ext" -out "$work/server.pem" 2>/dev/null
chmod 644 "$work"/*.pem

# the simulators verify https callback receivers with the same CA
start_sim plain --callback-ca "$work/ca.pem"
start_sim tls --tls-cert "$work/server.pem" --tls-key "$work/server.key" --callback-ca "$work/ca.pem"
port=$(head -n1 "$work/plain.port")
tls_port=$(head -n1 "$work/tls.port")

export LIVEID_SIM_URL="http://127.0.0.1:$port"
export LIVEID_SIM_TLS_URL="https://localhost:$tls_port"
export LIVEID_TEST_CA="$work/ca.pem"
export LIVEID_TEST_CERT="$work/server.pem" LIVEID_TEST_KEY="$work/server.key"
key=demo-key-5f2b9c

# the cluster: initdb, our settings, start; the server's own user owns it
bindir=$("${PG_CONFIG:-pg_config}" --bindir)
as_server=()
if [ "$(id -u)" -eq 0 ]; then
  as_server=(runuser -u postgres --)
  chown postgres "$work"
fi
export LIVEID_PGDATA="$work/data"
"${as_server[@]}" "$bindir/initdb" -D "$LIVEID_PGDATA" -U postgres -A trust \
  --no-sync -E UTF8 --locale=C >"$work/initdb.log" 2>&1 \
  || { cat "$work/initdb.log" >&2; exit 1; }
# the key file: ACME only (the simulator's sim/config.json key)
keyfile="$work/liveid.keys"
printf '# liveid test keys\nACME=acme-key-81d4e0\n' >"$keyfile"
chmod 600 "$keyfile"
[ "$(id -u)" -eq 0 ] && chown postgres "$keyfile"
# LIVEID_WITH_PG_CRON=1 (the demo) preloads pg_cron as well, its jobs in
# this cluster's postgres database, connecting over the same socket
preload=liveid cron_conf=
if [ -n "${LIVEID_WITH_PG_CRON:-}" ]; then
  preload=liveid,pg_cron
  cron_conf="cron.database_name = 'postgres'
cron.host = '$work'"
fi
cat >>"$LIVEID_PGDATA/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$work'
port = 5432
fsync = off
shared_preload_libraries = '$preload'
$cron_conf
liveid.worker_database = '${LIVEID_WORKER_DATABASE:-}'
liveid.url = '$LIVEID_SIM_URL'
liveid.api_key = '$key'
liveid_test.key_file = '$keyfile'
liveid_test.api_key = '$key'
liveid_test.sim_url = '$LIVEID_SIM_URL'
liveid_test.tls_url = '$LIVEID_SIM_TLS_URL'
liveid_test.ca_file = '$LIVEID_TEST_CA'
liveid_test.memory_factor = '${LIVEID_TEST_MEMORY_FACTOR:-10}'
CONF
server_env=()
if [ -n "${LIVEID_SERVER_ENV:-}" ]; then
  read -r -a server_env <<<"$LIVEID_SERVER_ENV"
  server_env=(env "${server_env[@]}")
fi
"${as_server[@]}" "${server_env[@]}" "$bindir/pg_ctl" -D "$LIVEID_PGDATA" -l "$work/server.log" -w -s start \
  || { cat "$work/server.log" >&2; exit 1; }
stop_server() {
  "${as_server[@]}" "$bindir/pg_ctl" -D "$LIVEID_PGDATA" -m immediate -w -s stop 2>/dev/null || true
  if [ -n "${LIVEID_SERVER_LOGS:-}" ]; then
    cp "$work/server.log" "$LIVEID_SERVER_LOGS/with-sim.$$.log" 2>/dev/null || true
  fi
}
trap 'stop_server; cleanup' EXIT
export PGHOST="$work" PGPORT=5432 PGUSER=postgres PGDATABASE=postgres

"$@"
