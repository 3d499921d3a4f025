"""How fast a new inference worker is ready, how much memory it holds and how much CPU a server
spends (Linux ``/proc``).

The figures that decide how fast and how densely an autoscaler can add pods: seconds from process
start to the first successful readiness probe, the CPU seconds the process spent by then (less
noisy than wall time on a shared machine: it excludes time spent waiting for a core), and the
resident set size (RSS).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` (``VmRSS``), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; utime, stime: 14, 15
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def session_cpu_seconds(session: int) -> float:
    """User + system CPU time of every live process of session ``session`` (a server started
    with ``start_new_session=True`` and the workers it forks, e.g. ``mlflow models serve``)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, session, ...
        if int(fields[3]) == session:
            total += int(fields[11]) + int(fields[12])
    return total / _CLOCK_TICKS


@dataclass(frozen=True)
class Startup:
    ready_s: float
    cpu_s: float
    rss_mib: float


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own session: SIGTERM to its group, SIGKILL after 15 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def measure_startup(
    command: list[str], env: dict[str, str], url: str, log: Path, timeout_s: float = 180
) -> Startup:
    """Start ``command`` (``env`` on top of this environment), poll ``url`` every 10 ms until it
    answers 200, read the process's CPU time and RSS at that moment, then stop it.

    ``command`` must exec the server in its own process (``taskset`` execs; no shell)."""
    with log.open("wb") as handle, httpx.Client(timeout=1) as client:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )
        try:
            while time.perf_counter() - started < timeout_s:
                if process.poll() is not None:
                    raise RuntimeError(f"{command} exited:\n{log.read_text()[-3000:]}")
                try:
                    if client.get(url).status_code == 200:
                        ready = time.perf_counter() - started
                        return Startup(ready, cpu_seconds(process.pid), rss_mib(process.pid))
                except httpx.HTTPError:
                    pass
                time.sleep(0.01)
            raise RuntimeError(
                f"{command} not ready in {timeout_s:g} s:\n{log.read_text()[-3000:]}"
            )
        finally:
            stop_process(process)
