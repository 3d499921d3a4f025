"""The container images, built once per session by ``make images`` and run with podman.

Without buildah/podman the image tests are skipped, unless ``STRATUS_TEST_IMAGES=required``
(``.ci/run`` sets it): then a missing tool fails them, so CI never skips them silently.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.app.conftest import API_KEYS
from tests.images import podman

REQUIRED_ENV = "STRATUS_TEST_IMAGES"
#: where the service image reads its API keys (a mounted secret, as in the cluster)
KEYS_PATH = "/var/run/secrets/stratus/keys.json"


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> podman.Images:
    """The inference and training images, built from the working tree."""
    missing = podman.missing_tools()
    if missing:
        reason = f"container tools not installed: {', '.join(missing)} (.ci/run installs them)"
        if os.environ.get(REQUIRED_ENV) == "required":
            pytest.fail(f"{REQUIRED_ENV}=required but {reason}")
        pytest.skip(reason)
    return podman.build_images(tmp_path_factory.mktemp("images") / "make-images.log")


def readable_by_all(path: Path) -> Path:
    """Let the container's non-root user read a host directory or file mounted into it."""
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        extra = stat.S_IRGRP | stat.S_IROTH
        if item.is_dir():
            extra |= stat.S_IXGRP | stat.S_IXOTH
        item.chmod(item.stat().st_mode | extra)
    return path


@pytest.fixture(scope="session")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service's API keys as a mounted secret file (digests only, as in the cluster)."""
    path = tmp_path_factory.mktemp("secrets") / "keys.json"
    path.write_text(API_KEYS)
    return readable_by_all(path)


@dataclass(frozen=True)
class RootFilesystem:
    """An image's flattened root filesystem (``podman export``)."""

    tar: tarfile.TarFile

    @property
    def names(self) -> list[str]:
        return [member.name.removeprefix("./") for member in self.tar.getmembers()]

    def read(self, member: tarfile.TarInfo) -> bytes:
        handle = self.tar.extractfile(member)
        return b"" if handle is None else handle.read()


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], RootFilesystem]]:
    """Export an image's filesystem once per session: ``rootfs(image)``."""
    exported: dict[str, RootFilesystem] = {}

    def export(image: str) -> RootFilesystem:
        if image not in exported:
            path = tmp_path_factory.mktemp("rootfs") / "rootfs.tar"
            exported[image] = RootFilesystem(podman.export_filesystem(image, path))
        return exported[image]

    yield export
    for filesystem in exported.values():
        filesystem.tar.close()
