# Stratus — developer entry points. `make run` and `make test` set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv

.PHONY: venv node run test lint typecheck pytest policies bench clean

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

## run: train on the bundled dataset, register in a local MLflow, serve the champion on :8080
##      (a candidate the gate rejects, exit 3, still leaves the current champion to serve)
LOCAL_STORE := .stratus/model-store
run: venv
	$(PY) -m training run || test $$? -eq 3
	@echo "Serving the champion from $(LOCAL_STORE) on http://127.0.0.1:8080 (auth disabled: local run)"
	@echo "  docs: http://127.0.0.1:8080/docs   metadata: curl -s http://127.0.0.1:8080/v2/models/stratus-classifier"
	STRATUS_AUTH_MODE=disabled STRATUS_HOST=127.0.0.1 \
	STRATUS_MODEL_URI=$(LOCAL_STORE)/stratus-classifier $(PY) -m app

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

pytest: venv node
	$(PY) -m pytest $(PYTEST_ARGS)

## policies: judge every shipped stack offline with the real policy pack (README "Policies")
policies: venv
	$(PY) -m policies check --all

## test: lint, type-check, the policy check of every shipped stack and the whole test suite
test: lint typecheck policies pytest

## bench: the benchmarks (figures, not pass/fail); BENCH_ARGS=--quick for a smoke run
bench: venv
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules .stratus .mypy_cache .ruff_cache .pytest_cache
