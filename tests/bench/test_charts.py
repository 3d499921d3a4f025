"""Benchmark charts: drawn from a result's JSON, next to it, with the figures it holds."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.charts import chart_for, main, stage_medians

INFERENCE = {
    "kind": "inference",
    "args": {"runs": 2, "duration": 3.0, "connections": 64},
    "targets": [
        {"label": "stratus", "model": "logistic", "runs": [
            {"rps": 5000.0, "p50_ms": 10.0, "p99_ms": 20.0, "errors": 0},
            {"rps": 5200.0, "p50_ms": 11.0, "p99_ms": 22.0, "errors": 0},
        ]},
        {"label": "mlflow serve", "model": "logistic", "runs": [
            {"rps": 120.0, "p50_ms": 400.0, "p99_ms": 900.0, "errors": 0},
        ]},
        {"label": "no-op", "model": "-", "runs": [
            {"rps": 8000.0, "p50_ms": 7.0, "p99_ms": 12.0, "errors": 0},
        ]},
    ],
}  # fmt: skip

TRAINING = {
    "kind": "training",
    "rows": 100_000,
    "features": 20,
    "runs": 1,
    "plain": [{"fit_s": 2.0, "total_s": 2.5}],
    "pipeline": [{"total_s": 6.0, "stages": {"load": 0.5, "validate": 0.4, "train": 3.0}}],
}


def _svg_text(path: Path) -> str:
    root = ET.parse(path).getroot()  # well-formed SVG
    assert root.tag.endswith("svg")
    return " ".join(node.text or "" for node in root.iter())


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (INFERENCE, ["stratus", "mlflow serve", "no-op", "throughput", "p99 latency"]),
        (TRAINING, ["plain fit", "pipeline", "load", "validate", "train", "100,000"]),
    ],
)
def test_a_chart_is_drawn_next_to_its_result(
    tmp_path: Path, result: dict[str, object], expected: list[str]
) -> None:
    source = tmp_path / f"{result['kind']}-20261130T000000Z.json"
    source.write_text(json.dumps(result))
    chart = chart_for(source)
    assert chart == source.with_suffix(".svg")
    text = _svg_text(chart)
    for label in expected:
        assert label in text


def test_the_kind_comes_from_the_file_name_for_older_results(tmp_path: Path) -> None:
    older = {key: value for key, value in INFERENCE.items() if key != "kind"}
    source = tmp_path / "inference-20261101T000000Z.json"
    source.write_text(json.dumps(older))
    assert "throughput" in _svg_text(chart_for(source, tmp_path / "out.svg"))


def test_a_result_without_a_chart_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "failover-20261130T000000Z.json"
    source.write_text("{}")
    assert main([str(source)]) == 2
    assert "not a result with a chart" in capsys.readouterr().err
    assert not source.with_suffix(".svg").exists()


def test_training_stages_beside_train_and_stages_some_runs_skipped(tmp_path: Path) -> None:
    """The landing runs beside training (drawn beside it, not stacked); ``land (wait)`` appears
    only in runs that waited for it and counts 0 in the others."""
    result = {
        **TRAINING,
        "runs": 2,
        "plain": [{"fit_s": 2.0, "total_s": 2.5}] * 2,
        "pipeline": [
            {"total_s": 6.0, "stages": {"load": 0.5, "land": 0.8, "train": 3.0}},
            {"total_s": 6.5, "stages": {"load": 0.5, "land": 3.4, "train": 3, "land (wait)": 0.4}},
        ],
    }
    assert stage_medians(result["pipeline"]) == {  # type: ignore[arg-type]
        "load": 0.5, "land": 2.1, "train": 3.0, "land (wait)": 0.2,
    }  # fmt: skip
    source = tmp_path / "training-20261130T000000Z.json"
    source.write_text(json.dumps(result))
    text = _svg_text(chart_for(source))
    assert "land (beside train)" in text
    assert "land (wait)" in text
