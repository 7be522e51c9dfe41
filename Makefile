# liveid: a PostgreSQL extension for the LiveID+ video-identification service.
#
#   make         build the extension (needs pg_config and libcurl) and the
#                callback receiver (receiver/liveid-receiver; libmicrohttpd, libpq)
#   make install install the extension into pg_config's server
#   make sim     build the LiveID+ simulator (sim/liveid-sim; libmicrohttpd)
#   make receiver  build the callback receiver alone
#   make demo    install what is missing, build both, run an example session
#   make test    install what is missing, build both, run every test
#   make bench   the benchmarks (figures go to docs/performance.md)

SIM = sim/liveid-sim
RECEIVER = receiver/liveid-receiver

# The extension (PGXS).  pg_config may be missing on a fresh machine until
# `make deps` has run; deps, build, test, demo and bench install it and call
# make again, every other target stops with a message saying what to install.
PG_CONFIG ?= pg_config
EXTENSION = liveid
MODULE_big = liveid
OBJS = $(patsubst %.c,%.o,$(wildcard src/*.c))
DATA = $(wildcard liveid--*.sql)
PG_CPPFLAGS += -Isrc $(shell curl-config --cflags 2>/dev/null)
SHLIB_LINK += $(shell curl-config --libs 2>/dev/null)
REGRESS = init settings keys request transport utility faults answers tls privileges payload start ledger callbacks parse_result calldata refresh metrics report outbox comments drop
REGRESS_OPTS = --load-extension=dblink --inputdir=. 

# PGXS's `all` builds $(MODULE_big); the receiver is added to it below (it
# is what a deployment runs beside the extension); the simulator is built
# only by the targets that run it.

# The sanitizer build (scripts/sanitize.sh, in a copy of the tree):
# `make SANITIZE=1` compiles and links liveid with ASan + UBSan (PGXS adds
# COPT to both CFLAGS and LDFLAGS).
ifdef SANITIZE
COPT += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

PGXS := $(wildcard $(shell $(PG_CONFIG) --pgxs 2>/dev/null))
ifneq ($(PGXS),)
include $(PGXS)
else
# Without pg_config only the targets that need no server work; they install
# it first (deps) or build the simulator alone.
NO_PG_GOALS = deps build test demo bench sim receiver clean clean-sim clean-receiver
ifneq ($(filter-out $(NO_PG_GOALS),$(or $(MAKECMDGOALS),all)),)
$(error no pg_config with PGXS (PG_CONFIG=$(PG_CONFIG)): install the \
package postgresql-server-dev-15 (apt-get install postgresql-server-dev-15, \
or `make deps`), or name another server's with PG_CONFIG=/path/to/pg_config)
endif
endif

$(OBJS): src/liveid.h

all: receiver

sim: $(SIM)

$(SIM): sim/*.c sim/*.h sim/Makefile
	$(MAKE) -C sim

receiver: $(RECEIVER)

$(RECEIVER): receiver/*.c receiver/*.h receiver/Makefile
	$(MAKE) -C receiver

deps:
	scripts/deps.sh build sim receiver test

# The extension and the simulator, for the targets that run against it.
build: deps
	$(MAKE) all sim
	$(MAKE) install

test: build
	scripts/test.sh

# The build's output goes to a log, shown only when it fails.
demo:
	@log=$$(mktemp /tmp/liveid-demo-build.XXXXXX.log); \
	echo "make demo: installing what is missing, building and installing liveid and the simulator"; \
	if $(MAKE) --no-print-directory build >"$$log" 2>&1; then rm -f "$$log"; \
	else cat "$$log"; echo "make demo: the build failed (log above, kept in $$log)"; exit 1; fi
	@scripts/demo.sh

bench: build
	scripts/deps.sh bench
	bench/run.sh

clean: clean-sim clean-receiver
clean-sim:
	$(MAKE) -C sim clean
clean-receiver:
	$(MAKE) -C receiver clean

.PHONY: sim receiver deps build test demo bench clean-sim clean-receiver
