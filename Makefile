# Stratus — developer entry points. `make run` and `make test` set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
#: pinned: `make lock` must resolve the same way on every machine
UV_VERSION := 0.13.9

.PHONY: venv node run test lint typecheck pytest bench clean lock

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check 'uv==$(UV_VERSION)'
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

## test: lint, type-check and the whole test suite (real servers started by the tests)
test: lint typecheck pytest

## bench: the benchmarks (figures, not pass/fail); BENCH_ARGS=--quick for a smoke run
bench: venv
	$(PY) -m bench $(BENCH_ARGS)

## lock: pin each image's dependencies, with hashes, from pyproject.toml: the `inference` extra
##       → app/requirements.txt, the `training` extra → training/requirements.txt. One universal
##       `uv lock` (so both images get the same versions), resolved from a clean copy of
##       pyproject.toml against the PyPI of LOCK_DATE: the result depends on nothing else.
##       To take newer releases, move LOCK_DATE and run `make lock`. LOCK_DIR: where to write.
LOCK_DATE := 2026-11-30T00:00:00Z
LOCK_DIR ?= .
LOCKED_IMAGES := app:inference training:training
lock: venv
	@set -euo pipefail; project=$$(mktemp -d); trap 'rm -rf "$$project"' EXIT; \
	cp pyproject.toml "$$project/"; \
	$(UV) lock --quiet --project "$$project" --exclude-newer $(LOCK_DATE); \
	for entry in $(LOCKED_IMAGES); do \
	  dir=$${entry%%:*}; extra=$${entry##*:}; out=$(LOCK_DIR)/$$dir/requirements.txt; \
	  mkdir -p "$$(dirname "$$out")"; \
	  { echo "# What $$dir/Dockerfile installs: the \`$$extra\` extra of pyproject.toml, resolved by"; \
	    echo "# \`uv lock --exclude-newer $(LOCK_DATE)\`, pinned with hashes. Written by \`make lock\`:"; \
	    echo "# do not edit (tests/images/test_lock.py checks that it matches pyproject.toml)."; \
	    $(UV) export --quiet --project "$$project" --frozen --format requirements-txt \
	      --no-emit-project --no-header --extra "$$extra"; } > "$$out"; \
	  echo "wrote $$out"; \
	done

clean:
	rm -rf $(VENV) node_modules .stratus .mypy_cache .ruff_cache .pytest_cache
