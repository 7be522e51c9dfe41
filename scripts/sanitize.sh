#!/usr/bin/env bash
# liveid built with AddressSanitizer + UndefinedBehaviorSanitizer, for
# scripts/test.sh's regress-asan and tap-asan suites.  The build happens in
# a copy of the source tree (the normal objects stay) and is installed into
# a private, relocatable copy of PostgreSQL (postgres itself is not
# sanitized: the sanitizer runtime is preloaded into the server).
#
#   scripts/sanitize.sh build DIR        DIR/pg: a copy of ${PG_CONFIG:-pg_config}'s
#                                        PostgreSQL; DIR/src: a copy of this tree,
#                                        built with `make SANITIZE=1` and installed
#                                        into DIR/pg
#   scripts/sanitize.sh pg-config DIR    prints the copy's pg_config
#   scripts/sanitize.sh server-env DIR LOGS
#                                        prints a LIVEID_SERVER_ENV (for
#                                        with-sim.sh and t/lib/LiveidCluster.pm)
#                                        that preloads the runtime and sends
#                                        every report to LOGS/ (writable by the
#                                        server's user)
#   scripts/sanitize.sh reports LOGS     prints the reports in LOGS/ (report files,
#                                        and server logs *.log copied there);
#                                        exit 1 if there is any
#
# By hand, e.g.:
#   scripts/sanitize.sh build /tmp/asan && mkdir -m 1777 /tmp/asan/logs
#   PG_CONFIG=$(scripts/sanitize.sh pg-config /tmp/asan) \
#   LIVEID_SERVER_ENV=$(scripts/sanitize.sh server-env /tmp/asan /tmp/asan/logs) \
#   LIVEID_SERVER_LOGS=/tmp/asan/logs scripts/with-sim.sh make -s -C /tmp/asan/src installcheck
#   scripts/sanitize.sh reports /tmp/asan/logs
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '8,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# The copy's pg_config, given DIR.
copy_pg_config() {
  local dir=$1
  [ -s "$dir/pg_config.path" ] || { echo "sanitize.sh: no PostgreSQL copy in $dir" >&2; exit 1; }
  cat "$dir/pg_config.path"
}

build() {
  local dir=$1
  mkdir -p "$dir"
  chmod 755 "$dir"
  dir=$(cd "$dir" && pwd)

  # PostgreSQL, Debian's layout (usr/lib/postgresql/N, usr/share/postgresql/N,
  # usr/include/postgresql) under one root, which may itself be a copy
  local src_pgc bindir major root
  src_pgc=$(command -v "${PG_CONFIG:-pg_config}")
  bindir=$("$src_pgc" --bindir)
  major=$("$src_pgc" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
  root=${bindir%/usr/lib/postgresql/$major/bin}
  if [ "$root" = "$bindir" ] || [ ! -d "$root/usr/share/postgresql/$major" ]; then
    echo "sanitize.sh: $bindir is not in Debian's layout (…/usr/lib/postgresql/$major/bin)" >&2
    exit 1
  fi
  rm -rf "$dir/pg" "$dir/pg_config.path"
  mkdir -p "$dir/pg/usr/lib/postgresql" "$dir/pg/usr/share/postgresql" "$dir/pg/usr/include"
  cp -a "$root/usr/lib/postgresql/$major" "$dir/pg/usr/lib/postgresql/"
  cp -a "$root/usr/share/postgresql/$major" "$dir/pg/usr/share/postgresql/"
  cp -a "$root/usr/include/postgresql" "$dir/pg/usr/include/"
  local pgc="$dir/pg/usr/lib/postgresql/$major/bin/pg_config"
  # a normal build's JIT bitcode, if the source had one, must not be inlined
  rm -rf "$("$pgc" --pkglibdir)/bitcode/liveid" "$("$pgc" --pkglibdir)/bitcode/liveid.index.bc"

  # the tree, without objects or test output (mtimes kept: the simulator's
  # binary stays up to date and is not rebuilt)
  rm -rf "$dir/src"
  mkdir -p "$dir/src"
  tar -C . --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    --exclude=./results --exclude=./tmp_check --exclude=./log \
    --exclude=./regression.diffs --exclude=./regression.out -cf - . | tar -C "$dir/src" -xf -

  # with_llvm=no: no JIT bitcode (clang would build it without the sanitizers)
  local log="$dir/build.log"
  if ! { make -C "$dir/src" -j2 PG_CONFIG="$pgc" SANITIZE=1 with_llvm=no &&
         make -C "$dir/src" PG_CONFIG="$pgc" SANITIZE=1 with_llvm=no install; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "sanitize.sh: the sanitizer build failed" >&2
    exit 1
  fi
  # Preloaded, gcc 12's libasan initializes itself on the first malloc,
  # which in postgres comes from libp11-kit's constructor (postgres ->
  # libldap -> libgnutls -> libp11-kit) inside newlocale(), with glibc's
  # locale lock held; its init then calls dlsym("swift_demangle") and
  # dlerror(), whose gettext takes that lock again: every later setlocale or
  # bindtextdomain hangs.  A swift_demangle that exists (and demangles
  # nothing) leaves dlerror() nothing to translate.
  mkdir -p "$dir/preload"
  printf '%s\n' \
    '/* see scripts/sanitize.sh: keeps the ASan runtime out of gettext at init */' \
    'char *swift_demangle(const char *m, unsigned long n, char *o, unsigned long *on, unsigned f);' \
    'char *swift_demangle(const char *m, unsigned long n, char *o, unsigned long *on, unsigned f)' \
    '{ (void) m; (void) n; (void) o; (void) on; (void) f; return 0; }' >"$dir/preload/swift-demangle.c"
  gcc -shared -fPIC -O2 -o "$dir/preload/swift-demangle.so" "$dir/preload/swift-demangle.c"
  chmod 755 "$dir/preload" "$dir/preload/swift-demangle.so"

  local so libs
  so="$("$pgc" --pkglibdir)/liveid.so"
  libs=$(ldd "$so")
  if ! grep -q libasan <<<"$libs" || ! grep -q libubsan <<<"$libs"; then
    echo "sanitize.sh: $so is not linked with libasan and libubsan" >&2
    exit 1
  fi
  echo "$pgc" >"$dir/pg_config.path"
  echo "sanitize.sh: liveid with ASan + UBSan installed into $dir/pg"
}

server_env() {
  local dir=$1 logs=$2 rt
  rt=$(gcc -print-file-name=libasan.so)
  [ -e "$rt" ] || { echo "sanitize.sh: no libasan.so ($rt)" >&2; exit 1; }
  rt=$(readlink -f "$rt")
  [ -f "$dir/preload/swift-demangle.so" ] || { echo "sanitize.sh: $dir is not built" >&2; exit 1; }
  # detect_leaks=0: postgres frees its memory with the process, never by free()
  echo "LD_PRELOAD=$rt:$(cd "$dir" && pwd)/preload/swift-demangle.so" \
    "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:disable_coredump=1:log_path=$logs/asan" \
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
}

# ASan writes its reports to log_path; gcc 12's UBSan, beside a preloaded
# ASan, ignores log_path and writes to stderr, that is the server's log:
# copies of those (*.log, see LIVEID_SERVER_LOGS) are searched for them.
reports() {
  local logs=$1 found=0 f
  for f in "$logs"/asan.* "$logs"/ubsan.*; do
    [ -s "$f" ] || continue
    found=1
    echo "==== sanitizer report $f"
    cat "$f"
  done
  for f in "$logs"/*.log; do
    [ -f "$f" ] || continue
    if grep -qE ': runtime error: |ERROR: (Address|UndefinedBehavior)Sanitizer' "$f"; then
      found=1
      echo "==== sanitizer report in server log $f"
      grep -E -A40 ': runtime error: |ERROR: (Address|UndefinedBehavior)Sanitizer' "$f" | head -n 200
    fi
  done
  [ "$found" -eq 0 ]
}

case "${1:-}:$#" in
  build:2) build "$2" ;;
  pg-config:2) copy_pg_config "$2" ;;
  server-env:3) server_env "$2" "$3" ;;
  reports:2) reports "$2" ;;
  *) usage ;;
esac
