"""What the images hold, read from their exported filesystems: no compiler or build tools, no
secrets, no tests."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.images import podman
from tests.images.conftest import RootFilesystem

pytestmark = [pytest.mark.images, pytest.mark.timeout(1800)]

COMPILERS = re.compile(
    r"^(usr/|usr/local/|opt/venv/)?s?bin/"
    r"(gcc|g\+\+|cc|c\+\+|cpp|clang|clang\+\+|ld|ld\.bfd|ld\.gold|as|make|gfortran|rustc|go)"
    r"(-[\d.]+)?$"
)
BUILD_TOOLS = re.compile(r"^usr/include/|site-packages/(pip|setuptools)/|^opt/venv/bin/pip")
SECRET_FILES = re.compile(
    r"(^|/)(\.env|\.netrc|\.pypirc|\.git-credentials|\.aws/credentials|\.docker/config\.json"
    r"|id_rsa|id_ecdsa|id_ed25519|keys\.json|[^/]*\.(key|p12|pfx|jks))$"
)
#: a PEM private key with a body (not a mention of the marker in code)
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\s+(?:[A-Za-z0-9+/=]{40,}\s+){3,}")
#: code and data from Debian's packages and the locked (hash-checked) wheels: not from our build.
#: (e.g. GnuTLS carries its self-test keys)
THIRD_PARTY = re.compile(r"^(usr/(lib|lib64|libexec|bin|sbin|share)/|s?bin/|lib|opt/venv/lib/)")
SECRET_SETTING = re.compile(r"(KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL)[A-Z_]*=")
#: test suites (ours or the packages' own); runtime helpers such as aiohttp/test_utils.py stay
TESTS = re.compile(r"(^|/)tests/|(^|/)conftest\.py$|^srv/.*(^|/)test_[^/]*\.py$")


@pytest.fixture(params=["inference", "training"])
def image(request: pytest.FixtureRequest, images: podman.Images) -> str:
    return str(getattr(images, request.param))


def test_no_compiler_and_no_build_tools(
    rootfs: Callable[[str], RootFilesystem], image: str
) -> None:
    names = rootfs(image).names
    assert "opt/venv/bin/python" in names  # the inspection sees the image
    assert [name for name in names if COMPILERS.search(name)] == []
    assert [name for name in names if BUILD_TOOLS.search(name)] == []


def test_no_secrets(rootfs: Callable[[str], RootFilesystem], image: str) -> None:
    filesystem = rootfs(image)
    assert [name for name in filesystem.names if SECRET_FILES.search(name)] == []
    ours = [
        member
        for member in filesystem.tar.getmembers()
        if member.isfile() and not THIRD_PARTY.match(member.name.removeprefix("./"))
    ]
    assert any(member.name.endswith("/bundle.py") for member in ours)
    assert [m.name for m in ours if PRIVATE_KEY.search(filesystem.read(m))] == []
    environment = podman.image_config(image, "{{json .Config.Env}}")
    assert not SECRET_SETTING.search(environment), environment
    history = podman.podman("image", "history", "--no-trunc", "--format", "{{.CreatedBy}}", image)
    assert not SECRET_SETTING.search(history.stdout), history.stdout


def test_no_tests(rootfs: Callable[[str], RootFilesystem], image: str) -> None:
    names = rootfs(image).names
    found = [
        name
        for name in names
        if TESTS.search(name) and not name.startswith("usr/lib/python3")  # the stdlib's own
    ]
    assert found == []  # neither ours nor the packages' own test suites
    hidden = [name for name in names if name.startswith("srv/") and "/." in f"/{name}"]
    assert hidden == []  # no .git, .env, ... next to the code
