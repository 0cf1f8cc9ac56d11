# qamqor — two commands do everything on a fresh Debian machine:
#   make run    set up, create the demo (if absent), process inbox/ once
#   make test   set up, run the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup run watch test test-fast preview bench lint clean

$(STAMP): pyproject.toml scripts/ensure-debian-packages
	./scripts/ensure-debian-packages
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	test -f qamqor.toml || $(BIN)/qamqor demo
	$(BIN)/qamqor run --once
	$(BIN)/qamqor status

watch: setup
	test -f qamqor.toml || $(BIN)/qamqor demo
	$(BIN)/qamqor run

test: setup
	$(BIN)/pytest -n auto $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/pytest -n auto -m "not slow" $(PYTEST_ARGS)

preview: setup
	$(BIN)/python -m forms.preview --out preview/

bench: setup
	$(BIN)/python -m bench

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var outbox/* preview .pytest_cache
