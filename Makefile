# The two commands: `make run` (the whole local stack) and `make test` (the test suite).
# Both install what they need first: a virtualenv from uv.lock and firebase-tools from
# package-lock.json.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/uv/bin/uv
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup run test lint typecheck unit functions e2e clean source terraform-check demo bench bench-scale

setup: $(VENV)/.synced node_modules/.installed $(TOOLS)/chromium.ok

$(UV):
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

node_modules/.installed: package-lock.json
	# No install scripts: the only one the auth emulator would run builds re2 from source
	# for a feature (hosting) we do not use, and takes minutes on two cores.
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser test of the linking flow (Playwright drives it).
$(TOOLS)/chromium.ok:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	mkdir -p $(TOOLS) && touch $@

run: setup
	$(PY) -m devstack run

# A guided tour on the same stack as `make run`: starts it (or attach to a running one with
# `$(PY) -m devstack.demo --attach .devstack/stack.json`), prints a timeline, stops it.
demo: setup
	$(PY) -m devstack.demo

# Benchmarks on their own local stack; writes docs/benchmarks.md and docs/benchmarks.json.
bench: setup
	$(PY) -m bench

# One maintenance cycle over 10,000 simulated accounts beside today's serial loop over 1,000
# (its own local stack; about half an hour on two cores); writes docs/scale.md and scale.json.
bench-scale: setup
	$(PY) -m bench.scale

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(VENV)/.synced
	$(VENV)/bin/mypy

unit: $(VENV)/.synced
	$(PY) -m pytest -m unit

# Every deployed function in process (functions-framework test client) over fakes of our ports.
functions: $(VENV)/.synced
	$(PY) -m pytest tests/functions

e2e: setup
	$(PY) -m pytest -m e2e

test: setup lint typecheck terraform-check
	$(PY) -m pytest

# The deployable source archive (main.py, functions/, shared/, requirements.txt from uv.lock).
source: $(VENV)/.synced
	UV=$(UV) $(PY) scripts/build_source.py

# Terraform offline checks: fmt and checkov (in its own virtualenv).
terraform-check:
	bash terraform/checks.sh

clean:
	rm -rf $(VENV) $(TOOLS) node_modules .devstack .pytest_cache .mypy_cache .ruff_cache
