"""Throughput, latency, start-up time and memory of the inference service, against
`mlflow models serve` and a FastAPI no-op.

``python -m bench.inference [--quick] [--duration S] [--runs N] [--batch-rows N]``

Each server runs one uvicorn worker pinned to CPU 0 (``taskset``); ``wrk`` (Debian package
``wrk``) is pinned to CPU 1 and sends JSON requests over 64 connections. Two models: a
StandardScaler + LogisticRegression pipeline on 20 features and a 100-tree random forest of
depth 8. Three measurements:

* single-row requests to ``/predict``, to ``mlflow models serve`` and to the no-op: rps, p50, p99,
  and the server's CPU time per request (all its processes; steadier than rps on a busy machine,
  where other work takes the server's core for a varying share of the run);
* ``--batch-rows``-row requests (default 100) to each of the service's three protocols
  (``/predict``, ``/invocations``, V2 ``infer``) and to ``mlflow models serve``: rows per second;
* start-up: a fresh ``python -m app`` per run, from the local bundle store and from a
  ``models:/NAME@champion`` URI (an MLflow registry on SQLite): seconds from process start to the
  first ``/readyz`` 200, the CPU seconds the process used by then, and its resident memory (RSS)
  when ready; the RSS of each worker is read again after it served the load.

Every target is measured in the same run, interleaved, several times; the tables show medians and
the ratios the issue sets goals for. ``--quick`` is a 3-second smoke run.
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
from bench.startup import (
    Startup,
    measure_startup,
    rss_mib,
    session_cpu_seconds,
    stop_process,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SERVER_CPU, CLIENT_CPU = "0", "1"
FEATURES = 20
MODELS = ("logistic", "forest")
#: issue 14's goals: share of the no-op's rps (same run), p99, start-up and memory
GOAL_SHARE_OF_NOOP = {"logistic": 0.90, "forest": 0.80}
GOAL_P99_MS = 20.0
GOAL_READY_S = 2.0
GOAL_RSS_MIB = 200.0
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
    rows: int = 1
    runs: list[dict[str, float]] = field(default_factory=list)
    #: the server's session (its process id): the CPU it spends per request is measured
    server: int = 0

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


@dataclass(frozen=True)
class Prepared:
    """A benchmark model: its MLflow model directory, training frame and registry name."""

    model_dir: Path
    frame: Any  # pandas.DataFrame
    name: str


def _prepare(workdir: Path) -> dict[str, Prepared]:
    """Save both models as MLflow models, publish them to a local bundle store and register them
    (alias ``champion``) in an MLflow registry on SQLite (``workdir/mlflow.db``)."""
    import mlflow
    import mlflow.sklearn
    import sklearn
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    from training.bundle import open_store, write_bundle

    fs, root = open_store(str(workdir / "store"))
    mlflow.set_tracking_uri(_tracking_uri(workdir))
    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment(
            "bench", artifact_location=(workdir / "artifacts").as_uri()
        )
    )
    client = MlflowClient(_tracking_uri(workdir))
    prepared = {}
    for kind in MODELS:
        pipe, frame = _train(kind)
        name = f"bench-{kind}"
        model_dir = workdir / f"model-{kind}"
        options: dict[str, Any] = {
            "signature": infer_signature(frame, pipe.predict(frame)),
            "input_example": frame.head(2),
            "serialization_format": "cloudpickle",
            "pip_requirements": [f"scikit-learn=={sklearn.__version__}", "cloudpickle"],
        }
        mlflow.sklearn.save_model(pipe, str(model_dir), **options)
        write_bundle(
            fs, root, local_dir=model_dir, name=name, version="1", source_uri=str(model_dir)
        )
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                pipe, name="model", registered_model_name=name, **options
            )
        client.set_registered_model_alias(name, "champion", str(info.registered_model_version))
        prepared[kind] = Prepared(model_dir, frame, name)
    return prepared


def _tracking_uri(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'mlflow.db'}"


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
    cpu_before = session_cpu_seconds(target.server) if target.server else 0.0
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = session_cpu_seconds(target.server) - cpu_before if target.server else float("nan")
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = {f"p{p}": float(v) * _UNITS[u] for p, v, u in _LATENCY.findall(output)}
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output)) + sum(
        int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output)
    )
    return {
        "rps": rps,
        # server CPU per request: the capacity of one core, steadier than rps on a busy machine
        "cpu_us": cpu / max(requests, 1) * 1e6,
        "p50_ms": latency.get("p50", 0.0),
        "p99_ms": latency.get("p99", 0.0),
        "errors": float(errors),
    }


def _stratus(
    workdir: Path, uri: str, port: int, entry: dict[str, Any]
) -> tuple[list[str], dict[str, str]]:
    """The service's command and environment for one worker serving ``uri`` on ``port``."""
    env = {
        "STRATUS_MODEL_URI": uri,
        "STRATUS_MLFLOW_TRACKING_URI": _tracking_uri(workdir),
        "STRATUS_API_KEYS": json.dumps([entry]),
        "STRATUS_PORT": str(port),
        "STRATUS_HOST": "127.0.0.1",
        "STRATUS_WATCH_INTERVAL_S": "0",
        "STRATUS_LOG_LEVEL": "WARNING",
    }
    return [*_pin(SERVER_CPU), sys.executable, "-m", "app"], env


def _sources(workdir: Path, model: Prepared) -> dict[str, str]:
    return {
        "local store": f"{workdir / 'store'}/{model.name}",
        "models:/": f"models:/{model.name}@champion",
    }


def _measure_startups(
    workdir: Path, prepared: dict[str, Prepared], entry: dict[str, Any], runs: int
) -> dict[tuple[str, str], list[Startup]]:
    """A fresh worker per run, for each model and source, interleaved; nothing else serving."""
    startups: dict[tuple[str, str], list[Startup]] = {}
    for run in range(runs):
        for kind, model in prepared.items():
            for source, uri in _sources(workdir, model).items():
                print(f"start-up {run + 1}/{runs}: {kind} from {source} ...", flush=True)
                port = _free_port()
                command, env = _stratus(workdir, uri, port, entry)
                startups.setdefault((kind, source), []).append(
                    measure_startup(
                        command,
                        env,
                        f"http://127.0.0.1:{port}/readyz",
                        workdir / f"startup-{kind}.log",
                    )
                )
    return startups


def _batch_targets(
    kind: str, model: Prepared, port: int, mlflow_port: int, rows: int, key: str
) -> list[Target]:
    """``rows``-row requests to each of the service's protocols and to ``mlflow models serve``."""
    frame = model.frame.head(rows)
    data = frame.to_numpy().tolist()
    columns = list(frame.columns)
    split = {"dataframe_split": {"columns": columns, "data": data}}
    tensor = {"name": "x", "shape": [len(data), len(columns)], "datatype": "FP64", "data": data}
    auth = {"X-API-Key": key}
    base = f"http://127.0.0.1:{port}"
    return [
        Target("stratus /predict", kind, f"{base}/predict", {"instances": data}, auth, rows),
        Target("stratus /invocations", kind, f"{base}/invocations", split, auth, rows),
        Target(
            "stratus V2 infer",
            kind,
            f"{base}/v2/models/{model.name}/infer",
            {"inputs": [tensor]},
            auth,
            rows,
        ),
        Target(
            "mlflow models serve",
            kind,
            f"http://127.0.0.1:{mlflow_port}/invocations",
            split,
            {},
            rows,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.inference", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="3 s per target, one run")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument("--runs", type=int, default=3, help="measurements per target (median)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batch-rows", type=int, default=100, help="rows per batch request")
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
    workers: dict[str, subprocess.Popen[bytes]] = {}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="stratus-bench-") as tmp:
        workdir = Path(tmp)
        print("preparing models ...", flush=True)
        prepared = _prepare(workdir)
        startups = _measure_startups(workdir, prepared, entry, args.runs)
        single: list[Target] = []
        batch: list[Target] = []
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
            noop.server = processes[-1].pid
            for kind, model in prepared.items():
                port = _free_port()
                command, env = _stratus(
                    workdir, _sources(workdir, model)["local store"], port, entry
                )
                workers[kind] = _start(
                    command, env, f"http://127.0.0.1:{port}/readyz", workdir / f"stratus-{kind}.log"
                )
                processes.append(workers[kind])
                row = model.frame.iloc[0].tolist()
                single.append(
                    Target(
                        "stratus /predict",
                        kind,
                        f"http://127.0.0.1:{port}/predict",
                        {"instances": [row]},
                        {"X-API-Key": key},
                        server=workers[kind].pid,
                    )
                )
                mlflow_port = _free_port()
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
                            str(model.model_dir),
                            "--env-manager",
                            "local",
                            "-w",
                            "1",
                            "-h",
                            "127.0.0.1",
                            "-p",
                            str(mlflow_port),
                        ],
                        {},
                        f"http://127.0.0.1:{mlflow_port}/ping",
                        workdir / f"mlflow-{kind}.log",
                    )
                )
                single.append(
                    Target(
                        "mlflow models serve",
                        kind,
                        f"http://127.0.0.1:{mlflow_port}/invocations",
                        {"dataframe_split": {"columns": list(model.frame.columns), "data": [row]}},
                        server=processes[-1].pid,
                    )
                )
                for target in _batch_targets(kind, model, port, mlflow_port, args.batch_rows, key):
                    mlflow = target.label.startswith("mlflow")
                    target.server = processes[-1].pid if mlflow else workers[kind].pid
                    batch.append(target)
            single.append(noop)
            targets = single + batch
            for target in targets:  # warm-up, and fail early on a broken target
                _wrk(target, workdir, 1, args.connections)
            for run in range(args.runs):
                for target in targets:
                    print(
                        f"run {run + 1}/{args.runs}: {target.label} ({target.model}, "
                        f"{target.rows} row(s)) ...",
                        flush=True,
                    )
                    target.runs.append(_wrk(target, workdir, args.duration, args.connections))
            rss_after_load = {kind: rss_mib(process.pid) for kind, process in workers.items()}
        finally:
            for process in processes:
                stop_process(process)
    _report(single, batch, startups, rss_after_load, args, (load_before, os.getloadavg()[0]))
    return 0


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def _report(
    single: list[Target],
    batch: list[Target],
    startups: dict[tuple[str, str], list[Startup]],
    rss_after_load: dict[str, float],
    args: argparse.Namespace,
    load: tuple[float, float],
) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)  # the tables' width, also when the output is not a terminal
    noop = next(t for t in single if t.model == "-")
    table = Table(
        title=f"Single-row requests: {args.runs} run(s) x {args.duration:g} s, "
        f"{args.connections} connections (medians)"
    )
    for column in ("target", "model", "rps", "server CPU µs/req", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="right" if column not in ("target", "model") else "left")
    for t in single:
        table.add_row(
            t.label,
            t.model,
            f"{t.median('rps'):,.0f}",
            f"{t.median('cpu_us'):,.0f}",
            f"{t.median('p50_ms'):.2f}",
            f"{t.median('p99_ms'):.2f}",
            f"{sum(r['errors'] for r in t.runs):.0f}",
        )
    console.print(table)

    rows_table = Table(
        title=f"{args.batch_rows}-row requests: {args.runs} run(s) x {args.duration:g} s, "
        f"{args.connections} connections (medians)"
    )
    for column in (
        "target",
        "model",
        "rows/s",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "x mlflow",
        "errors",
    ):
        rows_table.add_column(
            column, justify="right" if column not in ("target", "model") else "left"
        )
    for t in batch:
        theirs = next(b for b in batch if b.model == t.model and b.label.startswith("mlflow"))
        rows_table.add_row(
            t.label,
            t.model,
            f"{t.median('rps') * t.rows:,.0f}",
            f"{t.median('rps'):,.0f}",
            f"{t.median('cpu_us') / t.rows:,.1f}",
            f"{t.median('p50_ms'):.2f}",
            f"{t.median('p99_ms'):.2f}",
            f"{t.median('rps') / theirs.median('rps'):.1f}x",
            f"{sum(r['errors'] for r in t.runs):.0f}",
        )
    console.print(rows_table)

    start_table = Table(
        title=f"Start-up of one worker (fresh process, median of {args.runs}) and its memory"
    )
    for column in ("model", "source", "ready s", "CPU s", "RSS ready MiB", "RSS after load MiB"):
        start_table.add_column(column, justify="left" if column in ("model", "source") else "right")
    summary: dict[str, Any] = {"startup": {}, "single": {}, "batch": {}}
    for (kind, source), runs in startups.items():
        ready = statistics.median(r.ready_s for r in runs)
        cpu = statistics.median(r.cpu_s for r in runs)
        rss = statistics.median(r.rss_mib for r in runs)
        after = rss_after_load[kind] if source == "local store" else None
        summary["startup"][f"{kind} {source}"] = {
            "ready_s": ready,
            "cpu_s": cpu,
            "rss_mib": rss,
            "rss_after_load_mib": after,
        }
        start_table.add_row(
            kind,
            source,
            f"{ready:.2f}",
            f"{cpu:.2f}",
            f"{rss:.0f}",
            f"{after:.0f}" if after is not None else "-",
        )
    console.print(start_table)

    goals = Table(title="Goals (issue 14; ratios from the same run)")
    for column in ("figure", "measured", "goal", "verdict"):
        goals.add_column(column)
    for kind in MODELS:
        ours = next(t for t in single if t.model == kind and t.label.startswith("stratus"))
        theirs = next(t for t in single if t.model == kind and t.label.startswith("mlflow"))
        rps, p99 = ours.median("rps"), ours.median("p99_ms")
        share = rps / noop.median("rps")
        cpu_share = noop.median("cpu_us") / ours.median("cpu_us")
        summary["single"][kind] = {
            "cpu_us_per_request": ours.median("cpu_us"),
            "cpu_share_of_noop": cpu_share,
            "rps": rps,
            "p50_ms": ours.median("p50_ms"),
            "p99_ms": p99,
            "x_mlflow": rps / theirs.median("rps"),
            "share_of_noop": share,
        }
        goal_share = GOAL_SHARE_OF_NOOP[kind]
        goals.add_row(
            f"{kind}: rps / no-op rps",
            f"{share:.0%} ({rps:,.0f} / {noop.median('rps'):,.0f})",
            f">= {goal_share:.0%}",
            _verdict(share >= goal_share),
        )
        goals.add_row(
            f"{kind}: no-op CPU/request / ours (capacity of one core)",
            f"{cpu_share:.0%} ({noop.median('cpu_us'):,.0f} / {ours.median('cpu_us'):,.0f} µs)",
            f">= {goal_share:.0%}",
            _verdict(cpu_share >= goal_share),
        )
        goals.add_row(
            f"{kind}: p99", f"{p99:.2f} ms", f"<= {GOAL_P99_MS:g} ms", _verdict(p99 <= GOAL_P99_MS)
        )
    for t in batch:
        summary["batch"][f"{t.label} {t.model}"] = {
            "rows_per_s": t.median("rps") * t.rows,
            "cpu_us_per_row": t.median("cpu_us") / t.rows,
        }
    for kind in MODELS:
        local = summary["startup"][f"{kind} local store"]
        goals.add_row(
            f"{kind}: ready from the local store",
            f"{local['ready_s']:.2f} s (CPU {local['cpu_s']:.2f} s)",
            f"<= {GOAL_READY_S:g} s",
            _verdict(local["ready_s"] <= GOAL_READY_S),
        )
    logistic = summary["startup"]["logistic local store"]
    worst = max(logistic["rss_mib"], logistic["rss_after_load_mib"])
    goals.add_row(
        "logistic: RSS per worker (ready, after load)",
        f"{logistic['rss_mib']:.0f}, {logistic['rss_after_load_mib']:.0f} MiB",
        f"<= {GOAL_RSS_MIB:g} MiB",
        _verdict(worst <= GOAL_RSS_MIB),
    )
    console.print(goals)
    console.print(
        f"load average before: {load[0]:.2f}, after: {load[1]:.2f} on {os.cpu_count()} cores "
        "(other work on the machine makes every figure noisy)"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"inference-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(
        json.dumps(
            {
                "kind": "inference",
                "args": vars(args),
                "load_average": load,
                "summary": summary,
                "targets": [
                    {"label": t.label, "model": t.model, "rows": t.rows, "runs": t.runs}
                    for t in single + batch
                ],
            },
            indent=2,
        )
    )
    result = json.loads(out.read_text())
    # The chart compares single-row requests; the batch table's rows/s are another scale.
    result["targets"] = [t for t in result["targets"] if t["rows"] == 1]
    chart = inference_chart(result, out.with_suffix(".svg"))
    console.print(f"results: {out.relative_to(ROOT)}, chart: {chart.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
