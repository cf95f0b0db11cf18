# netfin: the two commands of the quick start are `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Flower pins older fastapi/uvicorn/typer/rich than netfin's, so it gets its own environment; netfin's
# main environment only starts its programs (docs/privacy-horizontal.md). Its pins live here.
FLOWER_VENV := .venv-flower
FLOWER_STAMP := $(FLOWER_VENV)/.installed
FLOWER_PINS := 'flwr>=1.42,<1.43' 'numpy>=2.0' 'orjson>=3.10' 'uuid-utils>=0.10' 'iso4217>=1.16'

.PHONY: flower

$(FLOWER_STAMP): Makefile
	$(PYTHON) -m venv $(FLOWER_VENV)
	$(FLOWER_VENV)/bin/pip install --quiet --upgrade pip
	$(FLOWER_VENV)/bin/pip install --quiet $(FLOWER_PINS)
	touch $(FLOWER_STAMP)

flower: $(FLOWER_STAMP)  ## Flower's own environment, for horizontal federated learning

demo: $(STAMP)  ## one simulated day on an embedded SQLite ledger, then verify
	$(BIN)/netfin demo

test: $(STAMP) $(FLOWER_STAMP)  ## the whole suite, slow tests included (as CI runs it)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy --strict src
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/ledger.py

clean:
	rm -rf $(VENV) $(FLOWER_VENV) netfin-demo.db netfin-demo.db-wal netfin-demo.db-shm
