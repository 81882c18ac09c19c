# Two commands matter: `make run` (install everything, load the demo, serve it) and
# `make test` (install everything, lint, type-check, run every test).
SHELL := /bin/bash
# The Lambda runtime's version (zappa_settings.json "runtime"): the venv, the tests and the zip's
# bytecode all use it. PYTHON is pyenv's 3.13 if pyenv has one (its python3.13 shim runs only
# where 3.13 is the selected version), else python3.13 from PATH.
PYTHON_VERSION := 3.13
PYTHON ?= $(or $(shell PYENV_VERSION=$(PYTHON_VERSION) pyenv which python$(PYTHON_VERSION) 2>/dev/null),python$(PYTHON_VERSION))
VENV := .venv
BIN := $(VENV)/bin
IS_PYTHON_VERSION := -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(PYTHON_VERSION)")'
# Debian packages the test suite drives: a real browser, a QR decoder, PDF tools, and Caddy
# (the TLS reverse proxy in front of the one-server mode in tests/prod).
DEBIAN_TEST_PACKAGES := chromium zbar-tools poppler-utils caddy
export PORTAL_ASSETS_AUTO_BUILD ?= 0

.PHONY: FORCE run test install assets messages translations lint typecheck pytest package deploy upgrade bench system-deps clean

run: install assets
	PORTAL_ENV=development $(BIN)/portal init-db
	PORTAL_ENV=development $(BIN)/portal demo --port $${PORT:-5000}
	PORTAL_ENV=development $(BIN)/portal serve --host 127.0.0.1 --port $${PORT:-5000}

test: install assets system-deps lint typecheck pytest

install: $(VENV)/.installed node_modules/.installed

# A venv made with another Python (a checkout's from before a version change) is made anew.
ifneq ($(shell $(BIN)/python $(IS_PYTHON_VERSION) 2>/dev/null && echo same),same)
$(VENV)/.installed: FORCE
endif
FORCE:

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) $(IS_PYTHON_VERSION) 2>/dev/null || { echo "Python $(PYTHON_VERSION) is needed (the Lambda runtime's version): install python$(PYTHON_VERSION) or set PYTHON=..."; exit 1; }
	$(BIN)/python $(IS_PYTHON_VERSION) 2>/dev/null || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

assets: install translations
	$(BIN)/portal assets build

# Interface translations (Flask-Babel). `make messages` re-extracts the strings of portal/ and
# templates/ into the template and merges it into every catalog (then translate the new or fuzzy
# entries); `make translations` compiles the catalogs into the .mo files the app reads.
I18N := portal/translations
BABEL_EXTRACT := -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 -c Translators: \
	--no-location --sort-output --project=change-readiness-portal \
	--header-comment="\# Change-readiness portal interface. Regenerate with: make messages"

messages: install
	$(BIN)/pybabel -q extract $(BABEL_EXTRACT) -o $(I18N)/messages.pot.new .
	@# Leave the template (and its date) alone unless its messages changed.
	if diff -q -I '^"POT-Creation-Date: ' $(I18N)/messages.pot $(I18N)/messages.pot.new >/dev/null 2>&1; \
	then rm $(I18N)/messages.pot.new; else mv $(I18N)/messages.pot.new $(I18N)/messages.pot; fi
	$(BIN)/pybabel -q update -i $(I18N)/messages.pot -d $(I18N) --ignore-obsolete --ignore-pot-creation-date

translations: install
	$(BIN)/pybabel -q compile -d $(I18N)

# Installs the Debian packages the tests need, once; needs root or passwordless sudo.
system-deps:
	@missing=""; for p in $(DEBIAN_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		case " $$missing " in *" caddy "*) \
			echo "Stopping the caddy service Debian starts (the tests run their own Caddy)"; \
			! command -v systemctl >/dev/null || $$SUDO systemctl disable --now caddy.service >/dev/null 2>&1 || true;; \
		esac; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install assets
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

package: install assets
	$(BIN)/python infra/package.py $(if $(STAGE),--stage $(STAGE))

# One command each (docs/self-hosting-aws.md): `make deploy STAGE=prod` sets up everything a
# stage needs and deploys it, `make upgrade STAGE=prod` updates it. Both are safe to repeat.
# DEPLOY_ARGS passes more, e.g. DEPLOY_ARGS="--admin-email hr.lead@example.com" or "--dry-run".
deploy upgrade: install assets
	@test -n "$(STAGE)" || { echo "Name the stage: make $@ STAGE=dev (or STAGE=prod)"; exit 1; }
	$(BIN)/python infra/deploy.py $@ --stage $(STAGE) $(DEPLOY_ARGS)

bench: install assets system-deps
	$(BIN)/python bench/package.py
	$(BIN)/python bench/respondent.py
	$(BIN)/python bench/results.py
	$(BIN)/python bench/release_lag.py
	$(BIN)/python bench/scorecard.py
	$(BIN)/python bench/scorecard_pdf.py
	$(BIN)/python bench/https.py

clean:
	rm -rf $(VENV) .venv-lambda node_modules static/gen dist build .pytest_cache .mypy_cache .ruff_cache
