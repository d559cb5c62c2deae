# Entry points for people and CI. `make demo` and `make test` are the two
# commands the README starts with; everything else supports them.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CACHE_DIR ?= $(HOME)/.cache/lab-results-producer

export KAFKA_BOOTSTRAP_SERVERS ?= 127.0.0.1:9092

.PHONY: install test unit demo bench soak clean

# The virtual environment is rebuilt whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

unit: install
	$(PY) -m pytest tests/unit -q

test: install kafka-up deploy-tools
	$(PY) -m pytest -q

demo: install kafka-up
	$(PY) scripts/demo.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache

include mk/*.mk
