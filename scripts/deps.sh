#!/usr/bin/env bash
# Installs the Debian packages the project needs, and only those missing.
#   scripts/deps.sh [build] [sim] [receiver] [test] [bench]
#                                   (default: build sim receiver test)
#     build     the extension: compiler, PostgreSQL 15 and its headers, libcurl
#     sim       the simulator (sim/): libmicrohttpd, cJSON, libcurl
#     receiver  the callback receiver (receiver/): libmicrohttpd, libpq
#     test      what the test suites and the demo run: curl, openssl, perl,
#               pg_cron (t/cron.t), prometheus-postgres-exporter (t/prometheus.t),
#               chromium (t/report.t renders report_html)
set -euo pipefail

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build sim receiver test)

want=()
for g in "${groups[@]}"; do
  case "$g" in
    build) want+=(gcc make pkg-config libcurl4-openssl-dev
                  postgresql-15 postgresql-server-dev-15 postgresql-contrib postgresql-common) ;;
    sim)   want+=(gcc make libmicrohttpd-dev libcjson-dev libcurl4-openssl-dev) ;;
    receiver) want+=(gcc make pkg-config libmicrohttpd-dev libpq-dev) ;;
    test)  want+=(curl openssl perl ca-certificates libipc-run-perl postgresql-15-cron
                  prometheus-postgres-exporter chromium) ;;
    bench) want+=(wrk) ;;
    *) echo "deps.sh: unknown group '$g' (build, sim, receiver, test, bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo=(sudo); else
    echo "deps.sh: not root and no sudo; install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
