"""Helpers for the training tests: an isolated working directory and small, fast configs."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from training.cli import app
from training.config import DEFAULT_CONFIG, deep_merge

#: The default pipeline, kept small: one worker, a two-candidate grid, 2-fold CV.
FAST: dict[str, Any] = {
    "model": {
        "n_jobs": 1,
        "search": {"kind": "grid", "space": {"C": [0.1, 1.0]}, "cv": 2},
    },
}


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh current directory with no tracking-URI or STRATUS_TRAINING_* leaking in."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for key in list(os.environ):
        if key.startswith("STRATUS_TRAINING_"):
            monkeypatch.delenv(key)
    return tmp_path


def unique_name(prefix: str = "test-model") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def write_config(
    directory: Path, overrides: dict[str, Any] | None = None, name: str = "cfg"
) -> Path:
    """The default config + FAST + ``overrides`` written as YAML; returns its path."""
    base = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data = deep_merge(deep_merge(base, FAST), overrides or {})
    path = directory / f"{name}-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    """``python -m training ARGS`` in-process through typer's CliRunner."""
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)
