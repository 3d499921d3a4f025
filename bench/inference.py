"""Throughput and latency of the inference service against `mlflow models serve` and a no-op.

``python -m bench.inference [--quick] [--duration S] [--runs N]``

Each server runs one uvicorn worker pinned to CPU 0 (``taskset``); ``wrk`` (Debian package
``wrk``) is pinned to CPU 1 and sends single-row JSON requests over 64 connections. Two models:
a StandardScaler + LogisticRegression pipeline on 20 features and a 100-tree random forest of
depth 8. Every target is measured in the same run, interleaved, several times; the table shows
medians and the ratios the issue sets targets for. ``--quick`` is a 3-second smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.charts import inference_chart

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SERVER_CPU, CLIENT_CPU = "0", "1"
FEATURES = 20
MODELS = ("logistic", "forest")
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{headers}
local f = io.open("{body}", "rb")
wrk.body = f:read("*a")
f:close()
"""


@dataclass
class Target:
    label: str
    model: str
    url: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    runs: list[dict[str, float]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(run[key] for run in self.runs) if self.runs else float("nan")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pin(cpu: str) -> list[str]:
    return ["taskset", "-c", cpu] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def _train(kind: str) -> tuple[Any, Any]:
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = make_classification(
        n_samples=4000, n_features=FEATURES, n_informative=10, random_state=0
    )
    frame = pd.DataFrame(x, columns=[f"feature {i}" for i in range(FEATURES)])
    if kind == "logistic":
        pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    else:
        pipe = make_pipeline(RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0))
    return pipe.fit(frame, y), frame


def _prepare(workdir: Path) -> dict[str, tuple[Path, list[float], list[str]]]:
    """Save both models as MLflow models and publish them to a local bundle store."""
    import mlflow.sklearn
    import sklearn
    from mlflow.models import infer_signature

    from training.bundle import open_store, write_bundle

    fs, root = open_store(str(workdir / "store"))
    prepared = {}
    for kind in MODELS:
        pipe, frame = _train(kind)
        model_dir = workdir / f"model-{kind}"
        mlflow.sklearn.save_model(
            pipe,
            str(model_dir),
            signature=infer_signature(frame, pipe.predict(frame)),
            input_example=frame.head(2),
            serialization_format="cloudpickle",
            pip_requirements=[f"scikit-learn=={sklearn.__version__}", "cloudpickle"],
        )
        write_bundle(
            fs,
            root,
            local_dir=model_dir,
            name=f"bench-{kind}",
            version="1",
            source_uri=str(model_dir),
        )
        prepared[kind] = (model_dir, frame.iloc[0].tolist(), list(frame.columns))
    return prepared


def _start(command: list[str], env: dict[str, str], url: str, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    # `mlflow models serve` runs `uvicorn` from PATH: put this interpreter's bin directory first
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    process = subprocess.Popen(
        command,
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, **env, "PATH": path},
        cwd=ROOT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"{command} not ready:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


_LATENCY = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk(target: Target, workdir: Path, seconds: float, connections: int) -> dict[str, float]:
    body = workdir / (re.sub(r"[^A-Za-z0-9]+", "_", f"{target.label}-{target.model}") + ".json")
    body.write_text(json.dumps(target.body))
    headers = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in target.headers.items())
    script = body.with_suffix(".lua")
    script.write_text(LUA.format(headers=headers, body=body))
    command = [
        *_pin(CLIENT_CPU),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(script),
        target.url,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = {f"p{p}": float(v) * _UNITS[u] for p, v, u in _LATENCY.findall(output)}
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output)) + sum(
        int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output)
    )
    return {
        "rps": rps,
        "p50_ms": latency.get("p50", 0.0),
        "p99_ms": latency.get("p99", 0.0),
        "errors": float(errors),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.inference", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="3 s per target, one run")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument("--runs", type=int, default=3, help="measurements per target (median)")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.runs = 3.0, 1
    if shutil.which("wrk") is None:
        print("wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu)", file=sys.stderr)
        return 2
    if not _pin(SERVER_CPU):
        print(
            "warning: fewer than 2 CPUs or no taskset: server and wrk are not pinned",
            file=sys.stderr,
        )

    from app.core.security import new_key_entry

    key, entry = new_key_entry("bench", ["predict"])
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="stratus-bench-") as tmp:
        workdir = Path(tmp)
        print("preparing models ...", flush=True)
        prepared = _prepare(workdir)
        targets: list[Target] = []
        try:
            port = _free_port()
            processes.append(
                _start(
                    [
                        *_pin(SERVER_CPU),
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "bench.noop_app:app",
                        "--port",
                        str(port),
                        "--loop",
                        "uvloop",
                        "--http",
                        "httptools",
                        "--no-access-log",
                        "--log-level",
                        "warning",
                    ],
                    {},
                    f"http://127.0.0.1:{port}/docs",
                    workdir / "noop.log",
                )
            )
            noop = Target("fastapi no-op", "-", f"http://127.0.0.1:{port}/noop", {})
            for kind, (model_dir, row, columns) in prepared.items():
                port = _free_port()
                env = {
                    "STRATUS_MODEL_URI": f"{workdir / 'store'}/bench-{kind}",
                    "STRATUS_API_KEYS": json.dumps([entry]),
                    "STRATUS_PORT": str(port),
                    "STRATUS_HOST": "127.0.0.1",
                    "STRATUS_WATCH_INTERVAL_S": "0",
                }
                processes.append(
                    _start(
                        [*_pin(SERVER_CPU), sys.executable, "-m", "app"],
                        env,
                        f"http://127.0.0.1:{port}/readyz",
                        workdir / f"stratus-{kind}.log",
                    )
                )
                targets.append(
                    Target(
                        "stratus /predict",
                        kind,
                        f"http://127.0.0.1:{port}/predict",
                        {"instances": [row]},
                        {"X-API-Key": key},
                    )
                )
                port = _free_port()
                processes.append(
                    _start(
                        [
                            *_pin(SERVER_CPU),
                            sys.executable,
                            "-m",
                            "mlflow",
                            "models",
                            "serve",
                            "-m",
                            str(model_dir),
                            "--env-manager",
                            "local",
                            "-w",
                            "1",
                            "-h",
                            "127.0.0.1",
                            "-p",
                            str(port),
                        ],
                        {},
                        f"http://127.0.0.1:{port}/ping",
                        workdir / f"mlflow-{kind}.log",
                    )
                )
                targets.append(
                    Target(
                        "mlflow models serve",
                        kind,
                        f"http://127.0.0.1:{port}/invocations",
                        {"dataframe_split": {"columns": columns, "data": [row]}},
                    )
                )
            targets.append(noop)
            for target in targets:  # warm-up, and fail early on a broken target
                _wrk(target, workdir, 1, args.connections)
            for run in range(args.runs):
                for target in targets:
                    print(
                        f"run {run + 1}/{args.runs}: {target.label} ({target.model}) ...",
                        flush=True,
                    )
                    target.runs.append(_wrk(target, workdir, args.duration, args.connections))
        finally:
            for process in processes:
                _stop(process)
    _report(targets, args)
    return 0


def _report(targets: list[Target], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    noop = next(t for t in targets if t.model == "-")
    table = Table(
        title=f"Inference benchmark: {args.runs} run(s) x {args.duration:g} s, "
        f"{args.connections} connections, single-row requests (medians)"
    )
    for column in ("target", "model", "rps", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="right" if column not in ("target", "model") else "left")
    for t in targets:
        table.add_row(
            t.label,
            t.model,
            f"{t.median('rps'):,.0f}",
            f"{t.median('p50_ms'):.2f}",
            f"{t.median('p99_ms'):.2f}",
            f"{sum(r['errors'] for r in t.runs):.0f}",
        )
    ratios = Table(title="Ratios and targets")
    for column in ("model", "stratus rps", "x mlflow serve", "% of no-op", "p99 ms", "targets"):
        ratios.add_column(column)
    summary: dict[str, Any] = {}
    for kind in MODELS:
        ours = next(t for t in targets if t.model == kind and t.label.startswith("stratus"))
        theirs = next(t for t in targets if t.model == kind and t.label.startswith("mlflow"))
        rps, p99 = ours.median("rps"), ours.median("p99_ms")
        speedup = rps / theirs.median("rps") if theirs.median("rps") else float("inf")
        share = rps / noop.median("rps")
        if kind == "logistic":
            met = rps >= 4000 and p99 <= 25 and speedup >= 30 and share >= 0.6
            goal = "≥4000 rps, p99≤25 ms, ≥30x mlflow, ≥60% no-op"
        else:
            met = rps >= 2000
            goal = "≥2000 rps"
        ratios.add_row(
            kind,
            f"{rps:,.0f}",
            f"{speedup:.1f}x",
            f"{share:.0%}",
            f"{p99:.2f}",
            f"{'met' if met else 'NOT met'} ({goal})",
        )
        summary[kind] = {
            "rps": rps,
            "p99_ms": p99,
            "x_mlflow": speedup,
            "share_of_noop": share,
            "targets_met": met,
        }
    console = Console()
    console.print(table)
    console.print(ratios)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"inference-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(
        json.dumps(
            {
                "kind": "inference",
                "args": vars(args),
                "summary": summary,
                "targets": [{"label": t.label, "model": t.model, "runs": t.runs} for t in targets],
            },
            indent=2,
        )
    )
    chart = inference_chart(json.loads(out.read_text()), out.with_suffix(".svg"))
    console.print(f"results: {out.relative_to(ROOT)}, chart: {chart.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
