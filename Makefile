# liveid: a PostgreSQL extension for the LiveID+ video-identification service.
#
#   make demo    install what is missing, build, run an example session
#   make test    install what is missing, build, run every test
#   make bench   the benchmarks (figures go to docs/performance.md)
#   make sim     build the LiveID+ simulator (sim/liveid-sim)

SIM = sim/liveid-sim

# The extension (PGXS).  pg_config may be missing on a fresh machine until
# `make deps` has run; the targets below install it and call make again.
PG_CONFIG ?= pg_config
EXTENSION = liveid
MODULE_big = liveid
OBJS = $(patsubst %.c,%.o,$(wildcard src/*.c))
DATA = $(wildcard liveid--*.sql)
PG_CPPFLAGS += -Isrc $(shell curl-config --cflags 2>/dev/null)
SHLIB_LINK += $(shell curl-config --libs 2>/dev/null)
REGRESS = init settings keys request transport utility faults answers tls privileges payload start ledger drop
REGRESS_OPTS = --load-extension=dblink --inputdir=. 

all: sim

# The sanitizer build (scripts/sanitize.sh, in a copy of the tree):
# `make SANITIZE=1` compiles and links liveid with ASan + UBSan (PGXS adds
# COPT to both CFLAGS and LDFLAGS).
ifdef SANITIZE
COPT += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
endif

$(OBJS): src/liveid.h

sim: $(SIM)

$(SIM): sim/*.c sim/*.h sim/Makefile
	$(MAKE) -C sim

deps:
	scripts/deps.sh build test

build: deps
	$(MAKE) all
	$(MAKE) install

test: build
	scripts/test.sh

demo: build
	scripts/demo.sh

bench: build
	scripts/deps.sh bench
	bench/run.sh

clean: clean-sim
clean-sim:
	$(MAKE) -C sim clean

.PHONY: sim deps build test demo bench clean-sim
