# qamqor — two commands do everything on a fresh Debian machine:
#   make run    set up, create the demo (if absent), process inbox/ once
#   make test   set up, run the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# The demo's example events are dated December 2026 – January 2027; a demo runs the service's clock
# (QAMQOR_NOW, contract.md "Time") on the day after the order, so its deadlines read as in real life.
# Only for the insecure demo configuration; a real qamqor.toml runs on the system clock.
DEMO_NOW ?= 2027-01-06T10:00:00+05:00
DEMO_CLOCK = $$(grep -q '^insecure = true' qamqor.toml && echo "QAMQOR_NOW=$${QAMQOR_NOW:-$(DEMO_NOW)}")

.PHONY: setup run watch test test-fast preview bench lint clean

# Reproducible installs (#14.24): every dependency, the test extra's too, pinned with its hashes in
# requirements.lock; the project itself goes on top without dependencies.  `make lock` refreshes the lock after
# pyproject.toml changed (keeping the other pins; `make lock UPGRADE=1` moves every pin to the newest release),
# `make audit` checks the lock for known vulnerabilities (pip-audit, PyPI's advisory database).
LOCK := requirements.lock
$(STAMP): pyproject.toml $(LOCK) scripts/ensure-debian-packages
	./scripts/ensure-debian-packages
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip check
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# pip-tools and pip-audit, in a venv of their own (they are not part of the locked environment)
TOOLS := $(VENV)/tools
$(TOOLS)/.installed:
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q "pip-tools>=7.4" "pip-audit>=2.7"
	touch $@

.PHONY: lock audit
lock: $(TOOLS)/.installed
	$(TOOLS)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --extra test \
	  --no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade) --output-file $(LOCK) pyproject.toml

# pip-audit asks PyPI's JSON API about each pinned release (/pypi/NAME/VERSION/json, with its advisories):
# checked first on the lock's first pin, so that an unreachable database is said, never taken for "no findings"
AUDIT_PROBE = import re, urllib.request; n, v = re.search(r"^([A-Za-z0-9._-]+)==([^ ]+)", open("$(LOCK)").read(), re.M).groups(); \
  urllib.request.urlopen(f"https://pypi.org/pypi/{n}/{v}/json", timeout=20)
audit: $(TOOLS)/.installed
	@$(TOOLS)/bin/python -c '$(AUDIT_PROBE)' 2>/dev/null || { echo "make audit: PyPI's advisory database (its \
	per-release JSON API) cannot be reached from here: $(LOCK) was NOT audited"; exit 2; }
	$(TOOLS)/bin/pip-audit --strict --progress-spinner off --disable-pip --require-hashes -r $(LOCK)

setup: $(STAMP)

# axe-core from npm for the desk's accessibility tests (tests/web/axe.py, issue 15); installed once, again only
# when the lock changes
AXE := tests/web/js/node_modules/axe-core/axe.min.js
setup: $(AXE)
$(AXE): tests/web/js/package-lock.json
	@command -v npm >/dev/null || { echo "make setup: npm is needed for axe-core (Debian: apt-get install npm)"; exit 1; }
	cd tests/web/js && npm ci --no-audit --no-fund --silent
	touch $@

# The reference validators (EU DSS, veraPDF: tools/validators/, #12.5), one jar the slow tests run. Rebuilt only
# when the jar is missing or tools/validators/ changed; offline from ~/.m2 when that already has everything.
VALIDATORS := tools/validators
VALIDATORS_JAR := $(VALIDATORS)/target/validators.jar
VALIDATORS_STAMP := $(VALIDATORS)/target/.built
.PHONY: validators
setup: validators
validators: $(VALIDATORS_STAMP)
	@test -f $(VALIDATORS_JAR) || { rm -f $(VALIDATORS_STAMP); $(MAKE) --no-print-directory $(VALIDATORS_STAMP); }
$(VALIDATORS_STAMP): $(VALIDATORS)/pom.xml $(shell find $(VALIDATORS)/src -type f 2>/dev/null)
	@command -v mvn >/dev/null || { echo "make validators: Maven (mvn) and a JDK 17 are needed"; exit 1; }
	cd $(VALIDATORS) && { mvn -q -o -B package -DskipTests >/dev/null 2>&1 || mvn -q -B package -DskipTests; }
	touch $@

run: setup
	test -f qamqor.toml || $(BIN)/qamqor demo
	env $(DEMO_CLOCK) $(BIN)/qamqor run --once
	env $(DEMO_CLOCK) $(BIN)/qamqor status

watch: setup
	test -f qamqor.toml || $(BIN)/qamqor demo
	env $(DEMO_CLOCK) $(BIN)/qamqor run

test: setup lint
	$(BIN)/pytest -n auto $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/pytest -n auto -m "not slow" $(PYTEST_ARGS)

preview: setup
	$(BIN)/python -m forms.preview --out preview/

bench: setup
	$(BIN)/python -m bench

# ruff, and the layers as import-linter contracts ([tool.importlinter] in pyproject.toml)
lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) var outbox/* preview .pytest_cache
