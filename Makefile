# govtrust: the two commands are `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
export GOVTRUST_HOME ?= $(CURDIR)/govtrust-data
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install system-deps run test lint typecheck bench screenshots clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

system-deps:
	bash scripts/install-system-deps.sh

run: install
	@if [ ! -f "$(GOVTRUST_HOME)/govtrust.toml" ]; then \
		$(BIN)/govtrust init --demo && $(BIN)/govtrust trustlist publish; fi
	$(BIN)/govtrust serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check src tests $(wildcard bench) $(wildcard scripts)
	$(BIN)/ruff format --check src

typecheck: install
	$(BIN)/mypy

test: install system-deps lint typecheck
	$(BIN)/pytest -n 2 --dist loadfile -q

bench: install system-deps
	$(BIN)/python bench/run.py
	$(BIN)/python bench/ledger_bench.py
	$(BIN)/python bench/tsa_bench.py
	$(BIN)/python bench/signing_bench.py
	$(BIN)/python bench/cades_verify_bench.py
	$(BIN)/python bench/pades_verify_bench.py
	$(BIN)/python bench/trustlist_bench.py
	$(BIN)/python bench/portal_bench.py

# Screenshots of the portal's main pages in Arabic and English, for docs/screenshots/.
screenshots: install system-deps
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
