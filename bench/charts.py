"""Charts of benchmark results (matplotlib, SVG), written next to each result's JSON.

``python -m bench.charts RESULT.json [--out PATH]`` redraws the chart of a saved result, e.g. to
refresh the ones the documentation shows (``docs/benchmarks/``). The kind of result is read from
its ``kind`` key, or from its file name (``inference-…``, ``training-…``) for older results.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: never a display
import matplotlib.pyplot as plt

#: No timestamp in the SVG: the same result draws the same file.
METADATA = {"Date": None}


def _svg_style() -> AbstractContextManager[None]:
    """Text stays text in the SVG (small, searchable); ids are stable across runs."""
    return plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "stratus"})


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(run[key]) for run in runs) if runs else float("nan")


def inference_chart(result: dict[str, Any], out: Path) -> Path:
    """Throughput and p99 per target side by side, and the latency percentiles, per model."""
    targets = result["targets"]
    labels = [t["label"] + ("" if t["model"] == "-" else f" ({t['model']})") for t in targets]
    rps = [_median(t["runs"], "rps") for t in targets]
    p50 = [_median(t["runs"], "p50_ms") for t in targets]
    p99 = [_median(t["runs"], "p99_ms") for t in targets]
    args = result.get("args", {})
    with _svg_style():
        fig, (left, middle, right) = plt.subplots(
            1, 3, figsize=(15, 1.6 + 0.55 * len(targets)), layout="constrained", sharey=True
        )
        positions = list(range(len(targets)))
        bars = left.barh(positions, rps, color="tab:blue")
        left.bar_label(bars, [f"{value:,.0f}" for value in rps], padding=3, fontsize=8)
        left.set_title("throughput (requests/s, median)")
        bars = middle.barh(positions, p99, color="tab:red")
        middle.bar_label(bars, [f"{value:,.1f}" for value in p99], padding=3, fontsize=8)
        middle.set_title("p99 latency (ms, median)")
        height = 0.4
        right.barh([p - height / 2 for p in positions], p50, height, label="p50", color="tab:green")
        right.barh([p + height / 2 for p in positions], p99, height, label="p99", color="tab:red")
        right.set_xscale("log")
        right.set_title("latency percentiles (ms, log scale)")
        right.legend(fontsize=8)
        left.set_yticks(positions, labels, fontsize=8)
        left.invert_yaxis()
        for axis in (left, middle):
            axis.margins(x=0.18)  # room for the value labels
        for axis in (left, middle, right):
            axis.grid(axis="x", alpha=0.3)
        fig.suptitle(
            f"Inference: {args.get('runs', '?')} run(s) x {args.get('duration', '?')} s, "
            f"{args.get('connections', '?')} connections, single-row requests"
        )
        fig.savefig(out, metadata=METADATA)
        plt.close(fig)
    return out


#: Stages that run in a background thread beside training (``training/landing.py``): their time
#: overlaps the train stage, so they are drawn beside it, not stacked.
BACKGROUND_STAGES = ("land",)


def stage_medians(pipeline: list[dict[str, Any]]) -> dict[str, float]:
    """Median seconds per stage over the runs, in the order the stages first ran; a stage that
    some runs skipped (``land (wait)``: the landing was done before training) counts 0 there."""
    names: dict[str, None] = {}
    for run in pipeline:
        names.update(dict.fromkeys(run["stages"]))
    return {
        name: statistics.median(float(run["stages"].get(name, 0.0)) for run in pipeline)
        for name in names
    }


def training_chart(result: dict[str, Any], out: Path) -> Path:
    """Wall time of the pipeline, stage by stage, against the plain fit and generate+fit."""
    plain, pipeline = result["plain"], result["pipeline"]
    medians = stage_medians(pipeline)
    beside = {s: medians.pop(s) for s in BACKGROUND_STAGES if s in medians}
    stages, stage_times = list(medians), list(medians.values())
    with _svg_style():
        fig, axis = plt.subplots(figsize=(11, 4.2), layout="constrained")
        # greys for the whole-run bars, so the stage colours stay unambiguous
        axis.barh(["plain fit"], [_median(plain, "fit_s")], color="0.35")
        axis.barh(["plain generate+fit"], [_median(plain, "total_s")], color="0.55")
        left = 0.0
        colours = plt.get_cmap("tab10")
        for index, (stage, seconds) in enumerate(zip(stages, stage_times, strict=True)):
            axis.barh(["pipeline stages"], [seconds], left=left, label=stage, color=colours(index))
            if stage == "train":
                for extra, (name, took) in enumerate(beside.items(), start=len(stages)):
                    axis.barh(
                        [f"{name} (beside train)"], [took], left=left, label=name,
                        color=colours(extra),
                    )  # fmt: skip
            left += seconds
        axis.barh(["pipeline (wall)"], [_median(pipeline, "total_s")], color="0.75")
        axis.invert_yaxis()
        axis.set_xlabel("seconds (median)")
        axis.grid(axis="x", alpha=0.3)
        if stages:
            axis.legend(
                title="pipeline stage",
                ncols=min(len(stages), 10),
                fontsize=8,
                loc="upper center",
                bbox_to_anchor=(0.5, -0.18),
            )
        rows = result.get("rows")
        axis.set_title(
            f"Training: synthetic:{rows:,} x {result.get('features', '?')} features, "
            f"median of {result.get('runs', '?')} runs"
            if isinstance(rows, int)
            else "Training pipeline vs plain fit"
        )
        fig.savefig(out, metadata=METADATA)
        plt.close(fig)
    return out


CHARTS: dict[str, Callable[[dict[str, Any], Path], Path]] = {
    "inference": inference_chart,
    "training": training_chart,
}


def chart_for(result_path: Path, out: Path | None = None) -> Path:
    """Draw the chart of a saved result (``out`` defaults to the JSON's path with ``.svg``)."""
    result = json.loads(result_path.read_text())
    kind = result.get("kind") or result_path.name.split("-", 1)[0]
    if kind not in CHARTS:
        raise ValueError(f"{result_path}: not a result with a chart (kinds: {', '.join(CHARTS)})")
    return CHARTS[kind](result, out or result_path.with_suffix(".svg"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.charts", description=__doc__)
    parser.add_argument("result", type=Path, help="a result JSON in bench/results/")
    parser.add_argument("--out", type=Path, help="where to write the SVG (default: next to it)")
    args = parser.parse_args(argv)
    try:
        print(chart_for(args.result, args.out))
    except (OSError, ValueError, KeyError) as exc:
        print(f"python -m bench.charts: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
