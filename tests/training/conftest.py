"""Helpers for the training tests: an isolated working directory and small, fast configs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from threading import Event
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from training.cli import app
from training.config import DEFAULT_CONFIG, REPLACED_MAPPINGS
from training.progress import SilentReporter

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


def merge(
    base: Mapping[str, Any], override: Mapping[str, Any], _prefix: str = ""
) -> dict[str, Any]:
    """``override`` written over ``base`` as a YAML author would: sections merge key by key, the
    free-form maps (``REPLACED_MAPPINGS``) and everything else are replaced."""
    merged = dict(base)
    for key, value in override.items():
        current, dotted = merged.get(key), f"{_prefix}{key}"
        if (
            isinstance(current, Mapping)
            and isinstance(value, Mapping)
            and dotted not in REPLACED_MAPPINGS
        ):
            merged[key] = merge(current, value, f"{dotted}.")
        else:
            merged[key] = value
    return merged


def unique_name(prefix: str = "test-model") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def write_config(
    directory: Path, overrides: dict[str, Any] | None = None, name: str = "cfg"
) -> Path:
    """The default config + FAST + ``overrides`` written as YAML; returns its path."""
    base = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data = merge(merge(base, FAST), overrides or {})
    path = directory / f"{name}-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    """``python -m training ARGS`` in-process through typer's CliRunner."""
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


class Killed(BaseException):
    """Stands for the process being killed at a hook (not an ``Exception``: nothing handles it)."""


class Hook(SilentReporter):
    """A reporter that stops a run when it enters stage ``at`` — pausing it until ``resume`` is
    set (``paused`` tells the test it is there), or killing it — and flags lock waits."""

    def __init__(self, at: str | None = None, *, kill: bool = False) -> None:
        super().__init__()
        self.at, self.kill = at, kill
        self.paused, self.resume, self.waiting = Event(), Event(), Event()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if name == self.at:
            if self.kill:
                raise Killed(name)
            self.paused.set()
            assert self.resume.wait(300), f"never resumed at {name}"
        with super().stage(name):
            yield

    def note(self, message: str) -> None:
        if message.startswith("waiting for the lock"):
            self.waiting.set()
