# Stratus — developer entry points. `make run` and `make test` set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv

.PHONY: venv node run test lint typecheck pytest bench clean

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check uv
	$(UV) pip install --python $(PY) -q -e '.[dev]'
	touch $@

node: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## run: train on the bundled dataset, register in a local MLflow, serve the champion
run: venv
	$(PY) -m training run

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

pytest: venv node
	$(PY) -m pytest $(PYTEST_ARGS)

## test: lint, type-check and the whole test suite (real servers started by the tests)
test: lint typecheck pytest

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules .stratus .mypy_cache .ruff_cache .pytest_cache
