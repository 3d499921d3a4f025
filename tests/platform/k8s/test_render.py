"""``python -m infra render``: one YAML file per object, Helm releases as chart + values, secrets
redacted, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from infra.cli import app
from infra.offline import MOCK_PASSWORD, run_stack
from infra.render import REDACTED, render_stack


def test_render_writes_one_file_per_object(tmp_path: Path) -> None:
    written = render_stack("aws-dev-apps", tmp_path)
    run = run_stack("aws-dev-apps")
    objects = [r for r in run.resources if r.type.startswith("kubernetes:") and r.custom]
    releases = [r for r in objects if r.type == "kubernetes:helm.sh/v3:Release"]
    assert len(written) == len(objects)
    deployment = yaml.safe_load((tmp_path / "ml-api" / "deployment-ml-api-blue.yaml").read_text())
    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["kind"] == "Deployment"
    assert deployment["metadata"]["namespace"] == "ml-api"
    # Numbers are numbers again (Pulumi's wire format carries floats).
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 45
    namespace = yaml.safe_load((tmp_path / "_cluster" / "namespace-ml-api.yaml").read_text())
    assert namespace["kind"] == "Namespace"
    reference = yaml.safe_load(
        (tmp_path / "cert-manager" / "helmrelease-cert-manager.yaml").read_text()
    )
    assert reference["chart"] == "cert-manager"
    assert reference["repository"] == "https://charts.jetstack.io"
    assert reference["version"].startswith("v1.")
    values = yaml.safe_load(
        (tmp_path / "cert-manager" / "helmrelease-cert-manager.values.yaml").read_text()
    )
    assert values["crds"] == {"enabled": True, "keep": True}
    assert len(list(tmp_path.rglob("helmrelease-*.values.yaml"))) == len(releases)


def test_render_redacts_secret_values_and_keeps_their_keys(tmp_path: Path) -> None:
    render_stack("aws-dev-apps", tmp_path)
    secret = yaml.safe_load((tmp_path / "ml-api" / "secret-ml-api-keys.yaml").read_text())
    assert secret["stringData"] == {"keys.json": REDACTED}
    # The generated keys and their hashes appear nowhere in the rendered files.
    for path in tmp_path.rglob("*.yaml"):
        assert MOCK_PASSWORD not in path.read_text(), path
        assert '"sha256"' not in path.read_text(), path


def test_render_of_an_unknown_stack_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["render", "--stack", "aws-qa-apps", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown stack 'aws-qa-apps'" in result.output
    assert not any(tmp_path.iterdir())


def test_python_dash_m_infra_render_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra",
            "render",
            "--stack",
            "azure-prod-apps",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "azure-prod-apps:" in result.stderr
    assert (tmp_path / "ml-api" / "ingress-ml-api.yaml").is_file()
