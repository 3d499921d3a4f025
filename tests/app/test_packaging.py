"""The container recipe and its requirements stay consistent with the project."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _requirements() -> dict[str, str]:
    lines = (ROOT / "app" / "requirements.txt").read_text().splitlines()
    entries = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return {re.split(r"[\[<>=]", e, maxsplit=1)[0]: e for e in entries}


def test_image_requirements_match_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    declared = {re.split(r"[\[<>=]", d, maxsplit=1)[0]: d for d in project}
    for name, requirement in _requirements().items():
        source = "mlflow" if name == "mlflow-skinny" else name
        assert source in declared, f"{name} is not a project dependency"
        assert requirement.replace("mlflow-skinny", "mlflow") == declared[source], name


def test_dockerfile_essentials() -> None:
    text = (ROOT / "app" / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:\d+\.\d+\.\d+-slim-\w+$", text, re.MULTILINE)
    assert text.count("FROM ") == 2  # multi-stage
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    assert 'ENTRYPOINT ["python", "-m", "app"]' in text  # exec form: PID 1 gets SIGTERM
    assert "HEALTHCHECK" in text
    assert "/healthz" in text
    for module in ("app/", "training/bundle.py"):
        assert module in text
