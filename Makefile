# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
ALT42_DATA_DIR ?= data

.PHONY: setup demo test bench bench-run-cost dev clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

## Generate a demo platform and materialize every asset on the embedded default (SQLite).
demo: setup
	@mkdir -p $(DAGSTER_HOME)
	$(PY) -m alt42_pipeline demo

## Lint and format check, the code location's own check, then the whole test suite
## (PostgreSQL and MariaDB must answer on 127.0.0.1).
test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/dg check defs
	$(PY) -m pytest -n 2 --dist loadfile -q

## The web UI on the demo instance. The demo's partitions start where its data starts:
## `make demo` writes that date to $(ALT42_DATA_DIR)/demo.env, read here (and only here).
dev: setup
	@mkdir -p $(DAGSTER_HOME)
	set -a; if [ -f $(ALT42_DATA_DIR)/demo.env ]; then . $(ALT42_DATA_DIR)/demo.env; fi; set +a; \
		$(VENV)/bin/dagster dev -w workspace.yaml

## Timing scripts (by hand; they need the PostgreSQL of the test setup). See benchmarks/README.md.
bench: setup
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/irt_vs_peers.py
	$(PY) benchmarks/spine_2m.py
	$(PY) benchmarks/irt_pipeline.py
	$(PY) benchmarks/state_refresh.py
	$(PY) benchmarks/interventions_batch.py

## What Dagster costs around our work, through the real CLI, on the demo of `make demo`
## (or a demo of its own when there is none). See benchmarks/README.md.
bench-run-cost: setup
	@if [ -f $(DAGSTER_HOME)/dagster.yaml ] && [ -f $(ALT42_DATA_DIR)/demo.env ]; then \
		$(PY) benchmarks/run_cost.py --home $(DAGSTER_HOME) --data $(ALT42_DATA_DIR); \
	else \
		$(PY) benchmarks/run_cost.py; \
	fi

clean:
	rm -rf data .dagster_home artifacts
