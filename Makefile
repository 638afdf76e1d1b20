# livefeed — every target sets up what it needs on a fresh Debian/Ubuntu machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The browser code's checker (TypeScript, from package-lock.json) and Node's test runner.
NODE_STAMP := node_modules/.installed-stamp
TSC := node_modules/.bin/tsc

.PHONY: run test test-fast lint typecheck typecheck-js test-js format services bench bench-smoke clean \
	messages translations

## run: serve on http://127.0.0.1:8000 with SQLite + the in-process broker
run: $(STAMP)
	$(BIN)/livefeed serve --host 127.0.0.1 --port 8000

# Coverage of app/ per module, printed after each pytest run (information, not a gate).
COVERAGE := --cov=app --cov-report=term
# The unit tier: tests/unit/, no services. The schemathesis and hypothesis pytest plugins are
# for the API fuzz test; importing them would be most of the unit tier's time.
UNIT := tests/unit -m "not services and not browser" -p no:schemathesis -p no:hypothesispytest
# The service tier on SERVICE_WORKERS pytest-xdist processes. Its tests mostly wait (servers
# starting, restarts, heartbeats, condition waits), so more workers than the 2 cores CI has
# overlap that waiting; each worker has its own Redis, PostgreSQL, Chromium and free ports.
# `make test SERVICE_WORKERS=0` runs it in one process.
SERVICE_WORKERS ?= 4
SERVICE := -m "services or browser" -n $(SERVICE_WORKERS) --dist loadgroup

## test: lint, type-check (Python and the browser code), the unit tiers (pytest tests/unit and
## node --test web/tests), then the service suite (real Redis, PostgreSQL, nginx, Chromium);
## coverage per module is printed at the end
test: $(STAMP) $(NODE_STAMP) services
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy --strict app
	$(TSC) --noEmit -p jsconfig.json
	$(TSC) --noEmit -p web/tests/jsconfig.json
	node --test web/tests/
	$(BIN)/pytest -q $(UNIT) $(COVERAGE)
	$(BIN)/pytest $(SERVICE) --durations=15 $(COVERAGE) --cov-append

## test-fast: the unit tier only (tests/unit/): no services, no root, seconds (without the
## coverage tracer, which triples its time; `make test` runs the same tier with coverage)
test-fast: $(STAMP)
	$(BIN)/pytest -q $(UNIT)

lint: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(TSC) --noEmit -p jsconfig.json
	$(TSC) --noEmit -p web/tests/jsconfig.json

## typecheck-js: tsc --noEmit over web/static (every file is // @ts-check, JSDoc-typed)
typecheck-js: $(NODE_STAMP)
	$(TSC) --noEmit -p jsconfig.json
	$(TSC) --noEmit -p web/tests/jsconfig.json

## test-js: node --test over the browser code's pure modules (web/tests)
test-js: $(NODE_STAMP)
	node --test web/tests/

typecheck: $(STAMP)
	$(BIN)/mypy --strict app

format: $(STAMP)
	$(BIN)/ruff format app tests bench
	$(BIN)/ruff check --fix app tests bench

## services: install redis-server, PostgreSQL, nginx (+Nchan) and Chromium when missing
services:
	bash scripts/install-services.sh

## bench: fan-out and page benchmarks against the peers (results in bench/results/)
bench: $(STAMP) services
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.storm
	$(BIN)/python -m bench.readers

bench-smoke: $(STAMP) services
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python -m bench.run --smoke
	$(BIN)/python -m bench.storm --smoke
	$(BIN)/python -m bench.readers --readers 200 --seconds 5 --messages 5

# The reader UI's catalogs (app/i18n.py): app/locale/<lang>/LC_MESSAGES/messages.po.
LANGUAGES := en fr de es it pt ru uk ar ja
POT := app/locale/messages.pot

## messages: extract the UI strings to app/locale/messages.pot and merge them into every
## language's .po (pybabel init for a language that has none yet); then translate the new
## msgids in the .po files and commit them
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o $(POT) --no-location --sort-output \
		-k _ -k N_ -k ngettext:1,2 -k N_plural:1,2 --project livefeed --copyright-holder livefeed .
	for lang in $(LANGUAGES); do \
		if [ -f app/locale/$$lang/LC_MESSAGES/messages.po ]; then \
			$(BIN)/pybabel update -i $(POT) -d app/locale -l $$lang --no-fuzzy-matching --ignore-obsolete; \
		else \
			$(BIN)/pybabel init -i $(POT) -d app/locale -l $$lang; \
		fi; \
	done

## translations: compile every .po to .mo (also done at install; the app compiles a missing
## or outdated one in memory at start, so a forgotten step never shows stale words)
translations: $(STAMP)
	$(BIN)/pybabel compile -d app/locale --statistics

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "livefeed needs Python 3.11 or newer")'
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || bash scripts/install-services.sh python-venv
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pybabel compile -d app/locale
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || bash scripts/install-services.sh node
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

clean:
	rm -rf node_modules
	rm -rf $(VENV) livefeed.db livefeed.db-* .pytest_cache .mypy_cache .ruff_cache
