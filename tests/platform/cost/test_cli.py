"""``python -m infra cost`` end to end: from the committed synthetic snapshot, through the real
clients against the fake APIs (cache, --save-prices), and its errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.cost.cli import EXIT_INCOMPLETE
from infra.offline import project_root
from tests.platform.cost import fake_apis
from tests.platform.cost.conftest import SNAPSHOT

runner = CliRunner()


def cost(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["cost", *args, "--width", "200"], env=env)
    return result.exit_code, result.output


def test_stack_from_the_snapshot_prints_components_totals_and_gaps() -> None:
    code, out = cost("--stack", "aws-dev", "--prices", str(SNAPSHOT))
    assert code == 0, out
    assert "fetched 2025-01-01" in out
    assert "Cluster stratus-dev-cluster" in out
    assert "Network stratus-dev-network" in out
    assert "$1,241.60" in out
    assert "$2,475.60" in out
    assert "Not priced" in out
    assert "usage-based: data processed per GB" in out


def test_compare_prints_both_stacks_and_the_difference() -> None:
    code, out = cost("--compare", "aws-prod", "azure-prod", "--prices", str(SNAPSHOT))
    assert code == 0, out
    assert "aws-prod vs azure-prod" in out
    assert "difference (expected, azure-prod - aws-prod)" in out
    for kind in ("Network", "Cluster", "Storage", "Database", "Registry", "KeyVault"):
        assert f"│ {kind}" in out


def test_storage_gb_is_an_input() -> None:
    code, out = cost("--stack", "azure-dev", "--prices", str(SNAPSHOT), "--storage-gb", "1000")
    assert code == 0, out
    assert "4 containers x 1000 GB" in out
    assert "$80.00" in out


def test_a_query_missing_from_the_snapshot_is_marked_and_exits_3(tmp_path: Path) -> None:
    document = json.loads(SNAPSHOT.read_text())
    document["entries"] = [e for e in document["entries"] if e["query"]["service"] != "AmazonRDS"]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(document))
    code, out = cost("--stack", "aws-dev", "--prices", str(partial))
    assert code == EXIT_INCOMPLETE
    assert "NOT PRICED: no price for aws AmazonRDS in eu-west-1" in out
    assert "Cluster stratus-dev-cluster" in out  # the rest still prints
    assert "2 line(s) could not be priced" in out


def test_unknown_stack_exits_1_naming_it() -> None:
    code, out = cost("--stack", "aws-qa", "--prices", str(SNAPSHOT))
    assert code == 1
    assert "unknown stack 'aws-qa'" in out


def test_live_fetch_caches_and_saves_a_snapshot(
    aws_api: fake_apis.FakeApi, azure_api: fake_apis.FakeApi, tmp_path: Path
) -> None:
    env = {
        "AWS_ENDPOINT_URL_PRICING": aws_api.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "STRATUS_AZURE_PRICES_URL": f"{azure_api.url}/api/retail/prices",
    }
    cache, saved = tmp_path / "cache", tmp_path / "saved.json"
    code, out = cost(
        "--compare",
        "aws-dev",
        "azure-dev",
        "--cache-dir",
        str(cache),
        "--save-prices",
        str(saved),
        env=env,
    )
    assert code == 0, out
    assert "Saved" in out
    assert saved.is_file()
    assert any(cache.iterdir())
    asked = len(aws_api.requests) + len(azure_api.requests)
    again, _out_again = cost(
        "--compare", "aws-dev", "azure-dev", "--cache-dir", str(cache), env=env
    )
    assert again == 0
    assert len(aws_api.requests) + len(azure_api.requests) == asked
    offline, out_offline = cost("--compare", "aws-dev", "azure-dev", "--prices", str(saved))
    assert offline == 0
    # The same figures from the saved snapshot as from the live fetch.
    for figure in ("$1,241.60", "$387.10", "-854.50"):
        assert figure in out
        assert figure in out_offline


@pytest.mark.slow
def test_python_dash_m_infra_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra", "cost", "--stack", "azure-dev", "--prices", str(SNAPSHOT)],
        capture_output=True,
        text=True,
        cwd=project_root(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "$387.10" in result.stdout
