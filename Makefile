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

demo: $(STAMP)  ## a simulated day on embedded SQLite, verified; then the portal at http://localhost:8000
	$(BIN)/netfin demo --serve

# The browser tests' tools (tests/e2e/browser): Debian's Chromium and espeak-ng (elder mode's server
# voice), when missing and apt-get may install them, and axe-core from npm. Outside CI each step is
# best-effort: a failure prints one line and `make test` goes on (the browser tests then skip, saying
# why); under CI=true a failure fails.
E2E_DIR := .e2e
E2E_STAMP := $(E2E_DIR)/.installed
AXE_CORE := axe-core@4.14.1
E2E_APT := chromium chromium-driver fonts-noto-cjk espeak-ng
E2E_FAIL = { echo "e2e-deps: $(1)"; [ "$(CI)" != true ]; }

.PHONY: e2e-deps

$(E2E_STAMP): Makefile
	@mkdir -p $(E2E_DIR)
	@if { [ ! -x /usr/bin/chromium ] || ! command -v espeak-ng >/dev/null 2>&1; } \
		&& [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(E2E_APT)) >/dev/null 2>&1 \
			|| $(call E2E_FAIL,apt-get could not install $(E2E_APT)); \
	fi
	@[ -x /usr/bin/chromium ] || $(call E2E_FAIL,no /usr/bin/chromium (install Debian's chromium as root))
	@npm install --prefix $(E2E_DIR) --no-save --no-audit --no-fund --silent $(AXE_CORE) >/dev/null 2>&1 \
		|| $(call E2E_FAIL,npm could not install $(AXE_CORE) into $(E2E_DIR))
	@if [ -x /usr/bin/chromium ] && [ -f $(E2E_DIR)/node_modules/axe-core/axe.min.js ]; then touch $@; fi

e2e-deps: $(E2E_STAMP)  ## Chromium and axe-core for the browser tests

# Three pytest workers (pytest-xdist) on two cores: every test owns its database schema, files
# and ports, so they run side by side; the third keeps the CPUs busy while one worker waits on
# Flower's 3 s polling or a subprocess. Work stealing evens out the slow tests at the end.
TEST_WORKERS ?= 3

test: $(STAMP) $(FLOWER_STAMP) $(E2E_STAMP)  ## the whole suite, slow tests included (as CI runs it)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy --strict src
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/ledger.py

clean:
	rm -rf $(VENV) $(FLOWER_VENV) netfin-demo.db netfin-demo.db-wal netfin-demo.db-shm
