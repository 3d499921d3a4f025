"""What both Dockerfiles promise, read from the recipes (the image tests check the results)."""

from __future__ import annotations

import re

import pytest

from tests.servers import ROOT

DOCKERFILES = {"app": "inference", "training": "training"}


@pytest.mark.parametrize("package", sorted(DOCKERFILES))
def test_dockerfile_essentials(package: str) -> None:
    text = (ROOT / package / "Dockerfile").read_text()
    # a pinned public base, replaceable through the build argument (the tests' local stand-in)
    assert re.search(r"^ARG PYTHON_IMAGE=python:\d+\.\d+\.\d+-slim-\w+$", text, re.MULTILINE)
    assert re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS (\w+)$", text, re.MULTILINE) == [
        "deps",
        "runtime",
    ]  # multi-stage: nothing of the install step but the virtualenv reaches the runtime stage
    assert f"COPY {package}/requirements.txt" in text
    assert "--require-hashes" in text  # installed from the lock, every file checked
    assert "--only-binary=:all:" in text  # wheels only: nothing is compiled
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    entrypoint = re.findall(r"^ENTRYPOINT (.+)$", text, re.MULTILINE)
    assert entrypoint == [f'["python", "-m", "{package}"]']  # exec form: PID 1 gets SIGTERM


def test_inference_image_ships_the_service_and_the_bundle_reader_only() -> None:
    text = (ROOT / "app" / "Dockerfile").read_text()
    copies = re.findall(r"^COPY --chown=root:root (.+) /srv/\w+/$", text, re.MULTILINE)
    assert copies == ["app/", "training/__init__.py training/bundle.py"]
    assert "HEALTHCHECK" in text
    assert "/healthz" in text


def test_build_context_is_limited_to_the_packages() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") :][:3] == ["*", "!app/", "!training/"]
