# The soak: hundreds of producer kills and broker restarts (tests/faults/test_soak.py).
# Not part of `make test`. SOAK_TRIALS and SOAK_KILLS set its size.

SOAK_TRIALS ?= 4
SOAK_KILLS ?= 60

.PHONY: soak

soak: install kafka-jars
	set -o pipefail; SOAK_TRIALS=$(SOAK_TRIALS) SOAK_KILLS=$(SOAK_KILLS) \
		$(PY) -m pytest -m soak tests/faults/test_soak.py -s -q -p no:cacheprovider \
		| tee soak.log
	@grep -o 'SOAK {.*}' soak.log | sed 's/^SOAK //' > soak-results.jsonl || true
	@echo "soak figures in soak-results.jsonl"
