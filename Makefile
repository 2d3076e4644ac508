# The verbs a person needs. Each one does its own setup: a fresh clone needs only
# python3 (3.11+), node/npm, and for the browser and PostgreSQL tests Debian's chromium
# and postgresql (installed here when missing).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UI_DEPS := ui/node_modules/.installed
UI_BUNDLE := atmosphere/static/index.html
AGENT_CLIS := agents/node_modules/.installed
UI_SOURCES := $(shell find ui/src ui/public -type f 2>/dev/null) ui/index.html ui/vite.config.ts ui/tsconfig.json ui/package.json

.PHONY: help venv ui agents chromium postgres serve demo test test-python test-ui test-browser bench lint format clean screenshot

help:
	@echo "make serve   - set up, build the dashboard, serve on http://127.0.0.1:8000"
	@echo "make demo    - the same, against built-in stand-in backends"
	@echo "make test    - set up and run every test (Python, UI components, browser, bench smoke; WORKERS=4)"
	@echo "make bench   - the speed benchmark (QUICK=1 for a short run; BASELINE=<commit> to compare, '' for none)"
	@echo "make lint    - ruff, mypy over atmosphere/, and tsc --noEmit over the dashboard"

$(STAMP): pyproject.toml requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

venv: $(STAMP)

$(UI_DEPS): ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	touch $@

$(UI_BUNDLE): $(UI_DEPS) $(UI_SOURCES)
	cd ui && npm run build

ui: $(UI_BUNDLE)

# The coding-agent CLIs (Claude Code, Codex) the agent tests run as real binaries,
# pinned in agents/package-lock.json.
$(AGENT_CLIS): agents/package-lock.json
	cd agents && npm ci --no-audit --no-fund
	touch $@

agents: $(AGENT_CLIS)

# Browser tests drive Debian's chromium; never a downloaded browser.
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The PostgreSQL tests start Debian's server binaries themselves, on a free port in a temporary
# directory (tests/postgres_support.py); this only installs them and starts no service.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql for the PostgreSQL tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

serve: venv ui
	$(BIN)/atmosphere serve

demo: venv ui
	$(BIN)/atmosphere demo

lint: venv $(UI_DEPS)
	$(BIN)/ruff check atmosphere tests bench harness
	$(BIN)/mypy
	cd ui && npm run --silent typecheck

format: venv
	$(BIN)/ruff format atmosphere tests bench harness

# Most of the Python tests' time is spent waiting on sockets, stand-ins and child processes, not
# on the CPU, so they run on more workers than cores; a file's tests stay on one worker (they share
# its module fixtures). WORKERS=1 runs them in one process. The browser tests keep one process:
# Chromium is CPU-bound, so workers gain nothing there and make its waits flaky on 2 cores.
WORKERS ?= 4
PYTEST := $(BIN)/pytest -q $(if $(filter 1,$(WORKERS)),,-n $(WORKERS) --dist loadfile)

test-python: venv postgres
	$(PYTEST) -m "not browser"

test-ui: $(UI_DEPS)
	@mkdir -p test-artifacts
	cd ui && npm test -- --reporter=default --reporter=json --outputFile=../test-artifacts/vitest.json
	@$(PYTHON) -c "import json; d = json.load(open('test-artifacts/vitest.json')); \
	  print(f\"{d['numPassedTests']} passed, {d['numFailedTests']} failed (UI component tests)\")"

test-browser: venv ui chromium
	$(BIN)/pytest -q -m browser

test: venv ui agents chromium postgres lint
	$(PYTEST) -m "not browser"
	$(BIN)/pytest -q -m browser
	$(MAKE) --no-print-directory test-ui
	$(BIN)/python -m bench --quick --no-thresholds --output test-artifacts/bench-smoke.md

# The bench measures this tree beside a past commit's gateway in the same blocks (bench/baseline.py).
BASELINE ?= 77f0439

bench: venv
	$(BIN)/python -m bench $(if $(QUICK),--quick) $(if $(PEERS),--peers $(PEERS)) $(if $(BASELINE),--baseline $(BASELINE))

clean:
	rm -rf $(VENV) ui/node_modules atmosphere/static test-artifacts .pytest_cache

screenshot: venv ui chromium
	ATMOSPHERE_UPDATE_SCREENSHOT=1 $(BIN)/pytest -q -m browser -k test_button tests/browser/test_browser.py
