# liveid: a PostgreSQL extension for the LiveID+ video-identification service.
#
#   make demo    install what is missing, build, run an example session
#   make test    install what is missing, build, run every test
#   make bench   the benchmarks (figures go to docs/performance.md)
#   make sim     build the LiveID+ simulator (sim/liveid-sim)

SIM = sim/liveid-sim

all: sim

sim: $(SIM)

$(SIM): sim/*.c sim/*.h sim/Makefile
	$(MAKE) -C sim

deps:
	scripts/deps.sh build test

test: deps
	$(MAKE) sim
	scripts/test.sh

demo: deps
	$(MAKE) sim
	scripts/demo.sh

bench: deps
	scripts/deps.sh bench
	$(MAKE) sim
	bench/run.sh

clean:
	$(MAKE) -C sim clean

.PHONY: all sim deps test demo bench clean
