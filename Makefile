# The two commands: `make run` (the whole local stack) and `make test` (the test suite).
# Both install what they need first: a virtualenv from uv.lock and firebase-tools from
# package-lock.json.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/uv/bin/uv
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup run test lint typecheck unit e2e clean

setup: $(VENV)/.synced node_modules/.installed

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

run: setup
	$(PY) -m devstack run

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.synced
	$(VENV)/bin/mypy

unit: $(VENV)/.synced
	$(PY) -m pytest -m unit

e2e: setup
	$(PY) -m pytest -m e2e

test: setup lint typecheck
	$(PY) -m pytest

clean:
	rm -rf $(VENV) $(TOOLS) node_modules .devstack .pytest_cache .mypy_cache .ruff_cache
