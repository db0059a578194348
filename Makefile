# Every target creates .venv on first use, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed

.PHONY: help run test check lint format typecheck contracts bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)  ## run `sluice standalone` on SQLite with the example DAGs unpaused
	SLUICE__CORE__DAGS_ARE_PAUSED_AT_CREATION=false $(BIN)/sluice standalone

test: $(STAMP)  ## install the dev extras and run the whole test suite
	$(BIN)/pytest -q

lint: $(STAMP)  ## ruff lint and format check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

typecheck: $(STAMP)  ## mypy --strict on the package
	$(BIN)/mypy

contracts: $(STAMP)  ## import-linter: the layer contracts of docs/adr/0001-layers.md
	$(BIN)/lint-imports

check: lint typecheck contracts test  ## everything CI checks, and more

bench: $(STAMP)  ## print the benchmark table (BENCH_ARGS="--quick", SLUICE_BENCH_POSTGRES_URL=...)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
