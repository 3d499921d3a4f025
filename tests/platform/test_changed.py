"""``python -m infra changed-stacks``: which stacks a pull request's preview covers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.changed import stacks_for
from infra.cli import app
from infra.offline import shipped_stacks

SHIPPED = shipped_stacks()


@pytest.mark.parametrize("path", ["platform/infra/aws/network.py", "Pulumi.yaml", "pyproject.toml"])
def test_a_program_change_touches_every_stack(path: str) -> None:
    assert stacks_for(["README.md", path], SHIPPED) == sorted(SHIPPED)


def test_a_foundation_config_touches_its_apps_and_global_stacks() -> None:
    assert stacks_for(["stacks/Pulumi.aws-prod.yaml"], SHIPPED) == [
        "aws-prod",
        "aws-prod-apps",
        "global-prod",
    ]


def test_an_apps_config_touches_only_itself() -> None:
    assert stacks_for(["stacks/Pulumi.azure-dev-apps.yaml"], SHIPPED) == ["azure-dev-apps"]


@pytest.mark.parametrize(
    "path",
    [
        "stacks/offline-overrides.yaml",
        "app/main.py",
        "training/gate.py",
        "policies/rules/aws/access.py",
        "stacks/Pulumi.aws-staging.yaml",  # not a shipped stack
        "docs/platform/platform.md",
    ],
)
def test_what_touches_no_stack(path: str) -> None:
    assert stacks_for([path], SHIPPED) == []


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "ci@example.com")
    _git(tmp_path, "config", "user.name", "ci")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.azure-dev.yaml").write_text("config: {}\n")
    (tmp_path / "stacks" / "my notes.txt").write_text("x\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "base")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_command_diffs_against_the_base(repo: Path) -> None:
    base = _git(repo, "rev-parse", "HEAD")
    (repo / "stacks" / "Pulumi.azure-dev.yaml").write_text("config: {a: 1}\n")
    (repo / "stacks" / "my notes.txt").write_text("y\n")  # a path with a space
    _git(repo, "commit", "-q", "-am", "change")
    result = CliRunner().invoke(app, ["changed-stacks", "--base", base])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == ["azure-dev", "azure-dev-apps", "global-dev"]


def test_an_unknown_base_is_a_clear_error(repo: Path) -> None:
    result = CliRunner().invoke(app, ["changed-stacks", "--base", "origin/nope"])
    assert result.exit_code == 2
    assert "git diff against 'origin/nope' failed" in result.stderr
