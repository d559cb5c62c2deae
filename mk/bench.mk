# Benchmarks on the real broker: the producer's polls and restore against
# floors measured in the same run (see bench/README.md). Never part of
# `make test`. Results: bench/results/latest.json, and a table on stdout.
#
#   make bench                 full run (10k/100k/500k polls, 1M restore)
#   make bench BENCH_QUICK=1   quick check of the harness (10k polls, 100k restore)
#   make bench-quick           the same
#   make bench-profile BENCH_SCENARIO=unchanged|all-changed|restore [BENCH_SIZE=N]
#                              py-spy profile of the product side (needs py-spy)

BENCH_SCENARIO ?= unchanged
BENCH_SIZE ?=

.PHONY: bench bench-quick bench-profile

bench: install kafka-up
	$(PY) -m bench

bench-quick: install kafka-up
	BENCH_QUICK=1 $(PY) -m bench

bench-profile: install kafka-up
	@[ -x $(VENV)/bin/py-spy ] || command -v py-spy >/dev/null || \
		{ echo "bench-profile needs py-spy: $(PY) -m pip install py-spy" >&2; exit 2; }
	$(PY) -m bench.profile $(BENCH_SCENARIO) $(if $(BENCH_SIZE),--size $(BENCH_SIZE))
