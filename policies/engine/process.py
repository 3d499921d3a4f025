"""Start the policy pack process exactly as the Pulumi engine does, and always stop it.

For a Python pack the engine runs its ``pulumi-analyzer-policy-python`` shim in the pack directory
with the arguments ``<engine address> .`` (plus ``-virtualenv=<dir>`` from ``PulumiPolicy.yaml``'s
runtime options); the shim runs ``<virtualenv>/bin/python -u -m pulumi.policy <engine> .`` (or
``python3`` without a virtualenv). The environment is the engine's own plus the stack config as
JSON (``PULUMI_CONFIG``) and ``PULUMI_ORGANIZATION``, ``PULUMI_PROJECT``, ``PULUMI_STACK``,
``PULUMI_DRY_RUN``. The pack prints the port of its analyzer gRPC server on its first stdout line.

The process runs in a session of its own, so a Ctrl-C at the terminal reaches only
``python -m policies``, which stops the pack (SIGINT, then SIGKILL to its process group) on
success, on failure and on interruption alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import yaml

STARTUP_TIMEOUT_S = 60.0
STOP_GRACE_S = 5.0


class PackError(RuntimeError):
    """The policy pack could not be started or failed while analysing; the message says why."""


@dataclass(frozen=True)
class PackLaunch:
    """What the engine hands the pack process."""

    pack_dir: Path
    engine_address: str
    organization: str
    project: str
    stack: str
    config: Mapping[str, str]
    dry_run: bool = True

    def interpreter(self) -> str:
        """The Python the shim would run: ``<virtualenv>/bin/python`` when ``PulumiPolicy.yaml``
        names a virtualenv (relative to the pack directory), else ``python3`` on ``PATH``."""
        manifest = self.pack_dir / "PulumiPolicy.yaml"
        try:
            project = yaml.safe_load(manifest.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise PackError(f"cannot read {manifest}: {exc}") from None
        runtime = project.get("runtime") if isinstance(project, dict) else None
        name = runtime.get("name") if isinstance(runtime, dict) else runtime
        if name != "python":
            raise PackError(f"{manifest}: runtime is {name!r}, this runner starts python packs")
        options = (runtime.get("options") or {}) if isinstance(runtime, dict) else {}
        virtualenv = options.get("virtualenv") if isinstance(options, dict) else None
        if virtualenv:
            python = (self.pack_dir / str(virtualenv)).resolve() / "bin" / "python"
            if not python.is_file():
                raise PackError(
                    f'"{self.pack_dir / str(virtualenv)}" doesn\'t appear to be a virtual '
                    f"environment (runtime.options.virtualenv in {manifest}; run `make venv`)"
                )
            return str(python)
        found = shutil.which("python3")
        if found is None:
            raise PackError("python3 is not on PATH")
        return found

    def command(self) -> list[str]:
        return [self.interpreter(), "-u", "-m", "pulumi.policy", self.engine_address, "."]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.config:
            env["PULUMI_CONFIG"] = json.dumps(dict(self.config))
        env.update(
            PULUMI_ORGANIZATION=self.organization,
            PULUMI_PROJECT=self.project,
            PULUMI_STACK=self.stack,
            PULUMI_DRY_RUN="true" if self.dry_run else "false",
        )
        return env


class PackProcess(contextlib.AbstractContextManager["PackProcess"]):
    """The running pack: ``with PackProcess(launch) as pack: pack.port``. ``spawn`` then
    ``wait_port`` lets the caller work while the pack imports its rules."""

    def __init__(self, launch: PackLaunch, startup_timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        self.launch = launch
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._stdout: queue.Queue[bytes | None] = queue.Queue()
        self._stderr: deque[str] = deque(maxlen=200)
        self._pumps: list[threading.Thread] = []

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    def __enter__(self) -> PackProcess:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.spawn()
        self.wait_port()

    def spawn(self) -> None:
        """Start the process; :meth:`wait_port` then reads the port it serves on."""
        self.process = subprocess.Popen(
            self.launch.command(),
            cwd=self.launch.pack_dir,
            env=self.launch.environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._pumps = [
            threading.Thread(target=self._pump_stdout, daemon=True),
            threading.Thread(target=self._pump_stderr, daemon=True),
        ]
        for pump in self._pumps:
            pump.start()

    def wait_port(self) -> int:
        if not self.port:
            self.port = self._read_port()
        return self.port

    def _pump_stdout(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._stdout.put(line)
        self._stdout.put(None)

    def _pump_stderr(self) -> None:
        assert self.process is not None
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line.decode(errors="replace").rstrip())

    def stderr_tail(self, lines: int = 20) -> str:
        return "\n".join(list(self._stderr)[-lines:])

    def _read_port(self) -> int:
        try:
            line = self._stdout.get(timeout=self.startup_timeout_s)
        except queue.Empty:
            raise PackError(
                f"the policy pack in {self.launch.pack_dir} printed no port within "
                f"{self.startup_timeout_s:.0f} s\n{self.stderr_tail()}"
            ) from None
        if line is None:
            code = self.process.wait() if self.process is not None else None
            raise PackError(
                f"the policy pack in {self.launch.pack_dir} exited (code {code}) before serving:"
                f"\n{self.stderr_tail()}"
            )
        text = line.decode(errors="replace").strip()
        if not text.isdigit():
            raise PackError(
                f"the policy pack printed {text!r} where the engine expects its port\n"
                f"{self.stderr_tail()}"
            )
        return int(text)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGINT (the SDK then stops its server), then SIGKILL the pack's process group."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_GRACE_S)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for pump in self._pumps:
            pump.join(timeout=STOP_GRACE_S)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
