"""Prometheus's own tools from Debian (``prometheus``, ``promtool``, ``amtool``), and the rules and
configuration the shipped stacks render.

A missing tool skips its tests on a developer's machine (``apt-get install prometheus
prometheus-alertmanager``), but fails them under CI: ``.ci/run`` installs the packages and sets
``STRATUS_CI=1``, so a broken install can never pass as a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.offline import StackRun, run_stack
from tests.platform.k8s.conftest import objects
from tests.servers import Server

PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "amtool": "prometheus-alertmanager",
}


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is not None:
        return found
    message = f"{name} not found: apt-get install {PACKAGES[name]} (Debian)"
    if os.environ.get("STRATUS_CI") == "1":
        pytest.fail(f"{message}; .ci/run installs it, so CI must have it")
    pytest.skip(message)


@pytest.fixture(scope="session")
def promtool() -> str:
    return tool("promtool")


@pytest.fixture(scope="session")
def amtool() -> str:
    return tool("amtool")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    return tool("prometheus")


def run_tool(command: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), capture_output=True, text=True, check=False, cwd=cwd, timeout=300
    )


def rule_files(run: StackRun, directory: Path) -> dict[str, Path]:
    """Each PrometheusRule of ``run`` written as a Prometheus rule file (its ``spec``)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for rule in objects(run, "PrometheusRule"):
        name = rule.get("metadata.name")
        path = directory / f"{name}.yaml"
        path.write_text(yaml.safe_dump(plain(rule.get("spec")), sort_keys=False))
        written[name] = path
    return written


def plain(value: Any) -> Any:
    """Pulumi's wire numbers (floats) back to ints where integral."""
    from infra.render import plain as render_plain

    return render_plain(value)


SHIPPED = ("aws-dev-apps", "aws-prod-apps", "azure-dev-apps", "azure-prod-apps")


@pytest.fixture(params=SHIPPED)
def stack(request: pytest.FixtureRequest) -> StackRun:
    return run_stack(request.param)


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A bundle store with a small champion (4 features), as training publishes it."""
    from tests.app.conftest import publish, train

    root = tmp_path_factory.mktemp("observed-store")
    publish(str(root), train(width=4), "1")
    return str(root)


@pytest.fixture(scope="session")
def running_service(tmp_path_factory: pytest.TempPathFactory, model_store: str) -> Iterator[Server]:
    """The real inference service (``python -m app``) serving the champion of ``model_store``."""
    from tests.app.conftest import MODEL_NAME
    from tests.e2e.conftest import service

    workdir = tmp_path_factory.mktemp("observed-service")
    with service({"STRATUS_MODEL_URI": f"{model_store}/{MODEL_NAME}"}, workdir) as server:
        yield server


def scraped_families(url: str) -> dict[str, str]:
    """Metric family → type, from a scrape of ``url``/metrics (``# TYPE`` lines: labelled
    families are declared before their first sample)."""
    import httpx

    families = {}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            families[name] = kind
    return families


def sample_names(families: dict[str, str]) -> set[str]:
    """The sample names families expose in the text format (a counter's family is declared with
    its ``_total``; ``_created`` series are declared as gauges of their own)."""
    names: set[str] = set()
    for name, kind in families.items():
        if kind == "histogram":
            names |= {f"{name}_{suffix}" for suffix in ("bucket", "count", "sum")}
        else:
            names.add(name)
    return names


# The e2e tests' slow model store (a champion that takes about a second per predict call).
from tests.e2e.conftest import slow_store  # noqa: E402, F401
