"""Alertmanager's configuration from ``stratus:apps.monitoring.alerting``.

Each severity is routed to its receivers (several receivers: one route each, ``continue: true``);
alerts no route takes go to the ``null`` receiver (shown in Alertmanager and Grafana, sent
nowhere). A critical alert inhibits the warnings (and infos) of the same alert, namespace and SLO,
and a warning the infos. The receivers' URLs and routing keys never pass through Pulumi: the
document holds a Go-template slot for each (``{{ .slack_team }}``), which External Secrets fills
from the foundation's secret store when it writes the Secret Alertmanager reads.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from infra.k8s.observability.config import SEVERITIES, AlertingConfig, Receiver, Severity

NULL_RECEIVER = "null"
#: The key of the config in the Secret Alertmanager reads (``spec.configSecret``).
CONFIG_KEY = "alertmanager.yaml"
_SLOT = re.compile(r"\{\{ \.([a-z_][a-z0-9_]*) \}\}")


def slot_key(receiver: Receiver) -> str:
    """The secret's key (and template variable) for ``receiver``'s URL or routing key."""
    return receiver.name.replace("-", "_")


def slot(receiver: Receiver) -> str:
    return "{{ ." + slot_key(receiver) + " }}"


def _integration(receiver: Receiver) -> dict[str, Any]:
    if receiver.kind == "slack":
        slack: dict[str, Any] = {"api_url": slot(receiver), "send_resolved": True}
        if receiver.channel:
            slack["channel"] = receiver.channel
        return {"slack_configs": [slack]}
    if receiver.kind == "pagerduty":
        return {"pagerduty_configs": [{"routing_key": slot(receiver), "send_resolved": True}]}
    return {"webhook_configs": [{"url": slot(receiver), "send_resolved": True}]}


def _matcher(severity: Severity) -> str:
    return f'severity="{severity}"'


def config_document(alerting: AlertingConfig) -> dict[str, Any]:
    """The Alertmanager configuration, with a slot per receiver secret."""
    routes: list[dict[str, Any]] = [
        # kube-prometheus-stack's always-firing Watchdog proves the pipeline; it pages no one.
        {"matchers": ['alertname="Watchdog"'], "receiver": NULL_RECEIVER},
    ]
    for severity in SEVERITIES:
        for name in alerting.routes.get(severity, []):
            routes.append({"matchers": [_matcher(severity)], "receiver": name, "continue": True})
    equal = ["alertname", "namespace", "slo"]
    return {
        "route": {
            "receiver": NULL_RECEIVER,
            "group_by": list(alerting.group_by),
            "group_wait": alerting.group_wait,
            "group_interval": alerting.group_interval,
            "repeat_interval": alerting.repeat_interval,
            "routes": routes,
        },
        "inhibit_rules": [
            {
                "source_matchers": [_matcher("critical")],
                "target_matchers": ['severity=~"warning|info"'],
                "equal": equal,
            },
            {
                "source_matchers": [_matcher("warning")],
                "target_matchers": [_matcher("info")],
                "equal": equal,
            },
        ],
        "receivers": [
            {"name": NULL_RECEIVER},
            *({"name": r.name, **_integration(r)} for r in alerting.receivers),
        ],
    }


def config_template(alerting: AlertingConfig) -> str:
    """The configuration as YAML text; its only Go-template actions are the receivers' slots."""
    text = yaml.safe_dump(config_document(alerting), sort_keys=False)
    assert set(slots(text)) == {slot_key(r) for r in alerting.receivers}
    return text


def slots(template: str) -> list[str]:
    """The slot keys a template refers to."""
    return _SLOT.findall(template)
