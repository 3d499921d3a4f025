"""Build the project's images (``make images``) and run them with podman, as this machine allows.

Builds use buildah with chroot isolation (the Makefile); containers run under ``runc`` (podman's
default ``crun`` refuses these machines' hybrid cgroups) with explicit ulimits (podman's default
open-files limit exceeds the machine's hard limit, and runc then refuses to start) and the host's
network, so a container reaches the servers the tests start on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.servers import ROOT

#: what building and running the images needs (Debian packages; `.ci/run` installs them)
TOOLS = ("buildah", "podman", "runc", "debootstrap")
RUNTIME = "runc"
RUN_FLAGS = (
    "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
    "--network", "host",
    # no systemd here: podman cannot schedule the HEALTHCHECK; `podman healthcheck run` still works
    "--health-interval", "disable",
)  # fmt: skip
#: the hardened way the workloads run: read-only root filesystem, only /tmp writable
READ_ONLY_FLAGS = ("--read-only", "--tmpfs", "/tmp:rw,mode=1777")


@dataclass(frozen=True)
class Images:
    inference: str
    training: str


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def build_images(log: Path, tag: str = "test") -> Images:
    """``make images`` (cached layers make a rebuild of unchanged sources take seconds)."""
    images = Images(
        inference=f"localhost/stratus-inference:{tag}", training=f"localhost/stratus-training:{tag}"
    )
    command = [
        "make", "--no-print-directory", "-C", str(ROOT), "images",
        f"INFERENCE_IMAGE={images.inference}", f"TRAINING_IMAGE={images.training}",
    ]  # fmt: skip
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"make images failed ({done.returncode}):\n{log.read_text()[-6000:]}")
    return images


def podman(
    *args: str, check: bool = True, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["podman", "--runtime", RUNTIME, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return done


def image_config(image: str, template: str) -> str:
    """``podman image inspect --format TEMPLATE`` (e.g. ``{{.Config.User}}``)."""
    return podman("image", "inspect", "--format", template, image).stdout.strip()


def run_options(
    *,
    env: Mapping[str, str] | None = None,
    volumes: Sequence[tuple[Path, str]] = (),
    entrypoint: str | None = None,
    read_only: bool = True,
) -> list[str]:
    """podman run options: the machine's flags, env, read-only bind mounts ``(host, target)``."""
    options = [*RUN_FLAGS, *(READ_ONLY_FLAGS if read_only else ())]
    for key, value in (env or {}).items():
        options += ["--env", f"{key}={value}"]
    for host, target in volumes:
        options += ["--volume", f"{host}:{target}:ro"]
    if entrypoint is not None:
        options += ["--entrypoint", entrypoint]
    return options


@dataclass
class Container:
    """A detached container; the helpers read its state through podman."""

    name: str

    def state(self, field: str) -> str:
        return podman("inspect", "--format", f"{{{{.State.{field}}}}}", self.name).stdout.strip()

    def running(self) -> bool:
        return self.state("Running") == "true"

    def exit_code(self) -> int:
        return int(self.state("ExitCode"))

    def logs(self) -> str:
        done = podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def exec(self, *command: str) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, *command, check=False)

    def stop(self, timeout_s: int = 30) -> None:
        podman("stop", "--time", str(timeout_s), self.name, timeout=timeout_s + 30)

    def wait_http(self, url: str, *, status: int = 200, timeout: float = 180.0) -> None:
        """Poll ``url`` until it answers ``status``; fail early with the logs if the container
        exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"{self.name} exited:\n{self.logs()[-6000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2.0).status_code == status:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{url} not {status} after {timeout}s:\n{self.logs()[-6000:]}")


@contextlib.contextmanager
def container(image: str, *args: str, options: Sequence[str] = ()) -> Iterator[Container]:
    """Run ``image`` detached (``podman run -d OPTIONS IMAGE ARGS``) and remove it afterwards."""
    name = f"stratus-test-{uuid.uuid4().hex[:10]}"
    podman("run", "--detach", "--name", name, *options, image, *args)
    try:
        yield Container(name)
    finally:
        podman("rm", "--force", "--time", "5", name, check=False)


def run_to_completion(
    image: str, *args: str, options: Sequence[str] = (), timeout: float = 900.0
) -> subprocess.CompletedProcess[str]:
    """``podman run --rm OPTIONS IMAGE ARGS`` in the foreground: exit code and output."""
    return podman("run", "--rm", *options, image, *args, check=False, timeout=timeout)


def export_filesystem(image: str, destination: Path) -> tarfile.TarFile:
    """The image's flattened root filesystem as a tar (``podman create`` + ``podman export``)."""
    name = f"stratus-export-{uuid.uuid4().hex[:10]}"
    podman("create", "--name", name, image)
    try:
        podman("export", "--output", str(destination), name, timeout=300)
    finally:
        podman("rm", "--force", name, check=False)
    return tarfile.open(destination)
