"""Benchmark: the whole training pipeline vs a plain scikit-learn ``fit`` of the same estimator.

    python -m bench.training            # synthetic:1000000 x 20 features, 3 runs of each variant
    python -m bench.training --quick    # synthetic:100000, 2 runs (a smoke run)

Every run of every variant is a fresh Python process (``--child``), so peak memory is the
process's own high-water mark: ``ru_maxrss`` from ``getrusage(RUSAGE_SELF)`` (RSS, which counts
numpy/pandas/pyarrow buffers that ``tracemalloc`` would miss). The RSS right after the imports is
recorded too, so the table shows the peak *above* the imported libraries — comparable to the
dataset's in-memory size (X float64 + y int64). Variants run alternately; figures are medians.

Variants (same data: ``make_classification`` with the pipeline's ``synthetic:`` parameters/seed,
same estimator: ``HistGradientBoostingClassifier(max_iter=100, early_stopping=False)``):

* ``plain fit``: generate the arrays (not timed), time ``estimator.fit(X, y)`` on all rows;
* ``plain generate+fit``: the same process's generate + fit time (what plain sklearn does end to
  end, since the pipeline's load stage generates the data too);
* ``pipeline``: ``run_pipeline`` — load (generate) → validate → split → fit on the 80 % training
  split (landing the Parquet file in a background thread meanwhile: its time overlaps ``train``,
  and ``land (wait)`` is what the run waited for it afterwards, if anything) → evaluate → log
  model → gate → register (local sqlite MLflow, created beforehand and not timed) → publish to a
  local store.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.charts import BACKGROUND_STAGES, stage_medians, training_chart

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
FEATURES = 20
SEED = 42
ESTIMATOR_PARAMS: dict[str, Any] = {"max_iter": 100, "learning_rate": 0.1, "early_stopping": False}


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def child_plain(rows: int) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from training.load import synthetic_arrays

    baseline = _rss_bytes()
    started = time.perf_counter()
    x, y = synthetic_arrays(rows, FEATURES, task="classification", seed=SEED)
    generated = time.perf_counter()
    HistGradientBoostingClassifier(random_state=SEED, **ESTIMATOR_PARAMS).fit(x, y)
    finished = time.perf_counter()
    return {
        "fit_s": finished - generated,
        "total_s": finished - started,
        "baseline_rss": baseline,
        "peak_rss": _peak_rss_bytes(),
        "dataset_bytes": int(x.nbytes + y.astype("int64").nbytes),
    }


def child_pipeline(rows: int, workdir: Path) -> dict[str, Any]:
    from training.config import TrainingConfig
    from training.progress import SilentReporter
    from training.runner import run_pipeline

    config = TrainingConfig(
        seed=SEED,
        workdir=str(workdir),
        data={"source": f"synthetic:{rows}", "synthetic_features": FEATURES},
        land={"processed_url": str(workdir / "data-lake" / "processed")},
        features={"scale": False, "numeric_imputer": "none"},
        model={
            "estimator": "hist_gradient_boosting",
            "params": ESTIMATOR_PARAMS,
            "search": {"kind": "none"},
        },
        gate={"min": {"roc_auc": 0.8}},
        registry={
            "model_name": "bench-classifier",
            "tracking_uri": f"sqlite:///{workdir}/mlflow.db",
        },
        publish={"stores": [str(workdir / "model-store")]},
    )
    baseline = _rss_bytes()
    reporter = SilentReporter()
    started = time.perf_counter()
    result = run_pipeline(config, reporter)
    finished = time.perf_counter()
    if not result.accepted:
        raise RuntimeError(f"benchmark model rejected: {result.gate.summary}")
    return {
        "total_s": finished - started,
        "stages": reporter.timings,
        "baseline_rss": baseline,
        "peak_rss": _peak_rss_bytes(),
        "roc_auc": result.metrics["roc_auc"],
    }


def _run_child(args: list[str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.training", "--child", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark child {args} failed:\n{completed.stderr[-4000:]}")
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def _template_db(directory: Path) -> Path:
    """An initialised MLflow sqlite database (schema migrations are not what we measure)."""
    from mlflow import MlflowClient

    path = directory / "template.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


def _mib(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.training", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="100k rows, 2 runs (smoke run)")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, rows = args.child[0], int(args.child[1])
        outcome = (
            child_plain(rows) if kind == "plain" else child_pipeline(rows, Path(args.child[2]))
        )
        print(json.dumps(outcome))
        return

    rows = args.rows or (100_000 if args.quick else 1_000_000)
    runs = args.runs or (2 if args.quick else 3)
    plain: list[dict[str, Any]] = []
    pipeline: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="stratus-bench-") as scratch:
        template = _template_db(Path(scratch))
        for run in range(runs):
            print(f"run {run + 1}/{runs}: plain fit …", flush=True)
            plain.append(_run_child(["plain", str(rows)]))
            workdir = Path(scratch) / f"run-{run}"
            workdir.mkdir()
            shutil.copy(template, workdir / "mlflow.db")
            print(f"run {run + 1}/{runs}: pipeline …", flush=True)
            pipeline.append(_run_child(["pipeline", str(rows), str(workdir)]))
    report(rows, runs, plain, pipeline)


def report(
    rows: int, runs: int, plain: list[dict[str, Any]], pipeline: list[dict[str, Any]]
) -> None:
    from rich.console import Console
    from rich.table import Table

    def median(items: list[dict[str, Any]], key: str) -> float:
        return statistics.median(float(item[key]) for item in items)

    dataset = median(plain, "dataset_bytes")
    fit, plain_total, pipe_total = (
        median(plain, "fit_s"),
        median(plain, "total_s"),
        median(pipeline, "total_s"),
    )
    rows_table = [
        ("plain fit", fit, plain),
        ("plain generate+fit", plain_total, plain),
        ("pipeline (all stages)", pipe_total, pipeline),
    ]
    table = Table(
        title=f"training pipeline vs plain sklearn fit — synthetic:{rows:,} x {FEATURES} features, "
        f"HistGradientBoostingClassifier, median of {runs} runs"
    )
    for column in ("variant", "wall time", "x plain fit", "x generate+fit", "peak RSS",
                   "peak above imports", "x dataset size"):  # fmt: skip
        table.add_column(column, justify="right" if column != "variant" else "left")
    for label, seconds, items in rows_table:
        above = statistics.median(float(i["peak_rss"]) - float(i["baseline_rss"]) for i in items)
        table.add_row(
            label,
            f"{seconds:.2f} s",
            f"{seconds / fit:.2f}",
            f"{seconds / plain_total:.2f}",
            _mib(median(items, "peak_rss")),
            _mib(above),
            f"{above / dataset:.2f}",
        )
    stages = Table(title="pipeline stages (median seconds)")
    stages.add_column("stage")
    stages.add_column("seconds", justify="right")
    for stage, seconds in stage_medians(pipeline).items():
        label = f"{stage} (beside train)" if stage in BACKGROUND_STAGES else stage
        stages.add_row(label, f"{seconds:.2f}")
    console = Console(width=140)
    console.print(table)
    console.print(f"dataset in memory: {_mib(dataset)} (X float64 + y int64); "
                  f"holdout ROC AUC {median(pipeline, 'roc_auc'):.4f}")  # fmt: skip
    console.print(stages)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"training-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    result = {
        "kind": "training",
        "rows": rows,
        "features": FEATURES,
        "runs": runs,
        "plain": plain,
        "pipeline": pipeline,
    }
    out.write_text(json.dumps(result, indent=2))
    chart = training_chart(result, out.with_suffix(".svg"))
    console.print(f"results: {out.relative_to(ROOT)}, chart: {chart.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
