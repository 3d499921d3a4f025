"""Alertmanager's configuration as each stack renders it: valid for ``amtool check-config``,
severities routed to the configured receivers, warnings inhibited by criticals, and receiver URLs
only ever in the secret store (filled in by External Secrets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.k8s.observability.alertmanager import CONFIG_KEY, NULL_RECEIVER, slots
from infra.k8s.observability.monitoring import ALERTMANAGER_SECRET
from infra.offline import StackRun, run_stack
from tests.platform.k8s.conftest import apps_section, named
from tests.platform.k8s.observability.conftest import run_tool

#: What the secret store would hold, per receiver kind (reserved example domains).
SAMPLE = {
    "pagerduty": "0123456789abcdef0123456789abcdef",
    "slack": "https://hooks.slack.example/services/T000/B000/XXXX",
    "webhook": "https://alerts.example.org/hook",
}


def rendered_config(run: StackRun) -> tuple[str, dict[str, str]]:
    """The config template the stack deploys and the secret store keys of its slots."""
    section = apps_section(run.stack)
    receivers = section.get("monitoring", {}).get("alerting", {}).get("receivers", [])
    if not receivers:
        secret = named(run, "Secret", ALERTMANAGER_SECRET, "monitoring")
        return secret.get("stringData")[CONFIG_KEY], {}
    external = named(run, "ExternalSecret", ALERTMANAGER_SECRET, "monitoring")
    template = external.get("spec.target.template.data")[CONFIG_KEY]
    keys = {d["secretKey"]: d["remoteRef"]["key"] for d in external.get("spec.data")}
    return template, keys


def filled(run: StackRun) -> dict[str, Any]:
    """The config as External Secrets writes it, with sample secret values."""
    template, _ = rendered_config(run)
    section = apps_section(run.stack)
    kinds = {
        r["name"].replace("-", "_"): r["kind"]
        for r in section.get("monitoring", {}).get("alerting", {}).get("receivers", [])
    }
    for key in slots(template):
        template = template.replace("{{ ." + key + " }}", SAMPLE[kinds[key]])
    document: dict[str, Any] = yaml.safe_load(template)
    return document


def _write(run: StackRun, tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(filled(run)))
    return path


def test_amtool_accepts_every_stacks_config(stack: StackRun, amtool: str, tmp_path: Path) -> None:
    result = run_tool([amtool, "check-config", str(_write(stack, tmp_path))])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_amtool_rejects_a_broken_config(amtool: str, tmp_path: Path) -> None:
    """A control: a route to a receiver that does not exist fails the same check."""
    document = filled(run_stack("aws-prod-apps"))
    document["route"]["routes"][1]["receiver"] = "nobody"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(document))
    assert run_tool([amtool, "check-config", str(path)]).returncode != 0


def _receivers(amtool: str, config: Path, *labels: str) -> set[str]:
    result = run_tool([amtool, "config", "routes", "test", f"--config.file={config}", *labels])
    assert result.returncode == 0, result.stdout + result.stderr
    return set(result.stdout.strip().split(","))


@pytest.mark.parametrize("stack_name", ["aws-prod-apps", "azure-prod-apps"])
def test_prod_routes_critical_to_the_pager_and_slack_and_warnings_to_slack(
    stack_name: str, amtool: str, tmp_path: Path
) -> None:
    config = _write(run_stack(stack_name), tmp_path)
    assert _receivers(amtool, config, "severity=critical") == {"oncall-pager", "team-slack"}
    assert _receivers(amtool, config, "severity=warning") == {"team-slack"}
    assert _receivers(amtool, config, "severity=info") == {NULL_RECEIVER}
    assert _receivers(amtool, config, "alertname=Watchdog", "severity=none") == {NULL_RECEIVER}


def test_dev_sends_nowhere(amtool: str, tmp_path: Path) -> None:
    config = _write(run_stack("aws-dev-apps"), tmp_path)
    assert _receivers(amtool, config, "severity=critical") == {NULL_RECEIVER}


def test_critical_inhibits_warning_of_the_same_alert(stack: StackRun) -> None:
    rules = filled(stack)["inhibit_rules"]
    assert {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity=~"warning|info"'],
        "equal": ["alertname", "namespace", "slo"],
    } in rules


def test_receiver_secrets_come_from_the_secret_store_never_the_stack() -> None:
    run = run_stack("aws-prod-apps")
    template, keys = rendered_config(run)
    assert keys == {
        "oncall_pager": "stratus-prod/alertmanager",
        "team_slack": "stratus-prod/alertmanager",
    }
    assert sorted(slots(template)) == ["oncall_pager", "team_slack"]
    external = named(run, "ExternalSecret", ALERTMANAGER_SECRET, "monitoring")
    store = named(run, "ClusterSecretStore", "stratus-platform")
    assert external.get("spec.secretStoreRef.name") == store.get("metadata.name")
    for value in SAMPLE.values():
        assert value not in template
    release = next(
        r
        for r in run.of_type("kubernetes:helm.sh/v3:Release")
        if r.get("chart") == "kube-prometheus-stack"
    )
    spec = release.get("values")["alertmanager"]["alertmanagerSpec"]
    assert spec["useExistingSecret"] is True
    assert spec["configSecret"] == ALERTMANAGER_SECRET
