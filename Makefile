# Two commands matter: `make run` (install everything, load the demo, serve it) and
# `make test` (install everything, lint, type-check, run every test).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the test suite drives: a real browser, a QR decoder, PDF tools.
DEBIAN_TEST_PACKAGES := chromium zbar-tools poppler-utils
export PORTAL_ASSETS_AUTO_BUILD ?= 0

.PHONY: run test install assets lint typecheck pytest package bench system-deps clean

run: install assets
	PORTAL_ENV=development $(BIN)/portal init-db
	PORTAL_ENV=development $(BIN)/portal demo
	PORTAL_ENV=development $(BIN)/portal serve --host 127.0.0.1 --port $${PORT:-5000}

test: install assets system-deps lint typecheck pytest

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed (the Lambda runtime's version): install python3.11 or set PYTHON=..."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

assets: install
	$(BIN)/portal assets build

# Installs the Debian packages the tests need, once; needs root or passwordless sudo.
system-deps:
	@missing=""; for p in $(DEBIAN_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install assets
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

package: install assets
	$(BIN)/python infra/package.py

bench: install assets
	$(BIN)/python bench/package.py

clean:
	rm -rf $(VENV) .venv-lambda node_modules static/gen dist build .pytest_cache .mypy_cache .ruff_cache
