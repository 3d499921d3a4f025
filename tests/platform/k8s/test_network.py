"""Every platform namespace denies all traffic, then allows exactly the flows listed here."""

from __future__ import annotations

from typing import Any

from infra.offline import StackRun, run_stack
from tests.platform.k8s.conftest import apps_section, objects

DNS = ("egress", "ns:kube-system k8s-app=kube-dns", (("TCP", 53), ("UDP", 53)))
HTTPS = ("egress", "cidr:0.0.0.0/0", (("TCP", 443),))


def _peer(peer: dict[str, Any]) -> str:
    if "ipBlock" in peer:
        return f"cidr:{peer['ipBlock']['cidr']}"
    namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
    pods = (peer.get("podSelector") or {}).get("matchLabels") or {}
    return f"ns:{namespace}" + "".join(f" {k}={v}" for k, v in sorted(pods.items()))


def _flows(run: StackRun, namespace: str) -> set[tuple[str, str, tuple[tuple[str, int], ...]]]:
    """(direction, peer, ports) of every allow rule in ``namespace``; asserts default deny."""
    policies = [
        p for p in objects(run, "NetworkPolicy") if p.get("metadata.namespace") == namespace
    ]
    deny = next(p for p in policies if p.get("metadata.name") == "default-deny")
    assert deny.get("spec.podSelector") == {}
    assert sorted(deny.get("spec.policyTypes")) == ["Egress", "Ingress"]
    assert deny.get("spec.ingress") is None
    assert deny.get("spec.egress") is None
    flows = set()
    for policy in policies:
        if policy is deny:
            continue
        for direction, key, peers_key in (
            ("ingress", "ingress", "from"),
            ("egress", "egress", "to"),
        ):
            for rule in policy.get(f"spec.{key}") or []:
                ports = tuple(sorted((p["protocol"], p["port"]) for p in rule["ports"]))
                for peer in rule[peers_key]:
                    flows.add((direction, _peer(peer), ports))
    return flows


def _observability(run: StackRun) -> set[tuple[str, str, tuple[tuple[str, int], ...]]]:
    """What observability adds to every platform namespace: OTLP to the collector and, with the
    mesh, istiod."""
    section = apps_section(run.stack)
    flows = {("egress", "ns:tracing", (("TCP", 4317), ("TCP", 4318)))}
    if section.get("mesh", {}).get("enabled"):
        flows.add(("egress", "ns:istio-system", (("TCP", 15012),)))
    return flows


def test_ml_api_allows_the_ingress_controller_monitoring_dns_https_and_mlflow(
    apps: StackRun,
) -> None:
    ingress_ns = run_stack(apps.stack.removesuffix("-apps")).outputs["ingress"]["namespace"]
    assert _flows(apps, "ml-api") == {
        ("ingress", f"ns:{ingress_ns}", (("TCP", 8080),)),
        ("ingress", "ns:monitoring", (("TCP", 8080),)),
        ("egress", "ns:mlflow", (("TCP", 5000),)),
        DNS,
        HTTPS,
        *_observability(apps),
    }


def test_training_reaches_dns_the_stores_and_mlflow_only(apps: StackRun) -> None:
    assert _flows(apps, "ml-training") == {
        ("egress", "ns:mlflow", (("TCP", 5000),)),
        DNS,
        HTTPS,
        *_observability(apps),
    }


def test_mlflow_serves_its_clients_and_reaches_only_postgres_and_its_store(apps: StackRun) -> None:
    cidrs = run_stack(apps.stack.removesuffix("-apps")).outputs["network"]["cidrs"]
    assert _flows(apps, "mlflow") == {
        ("ingress", "ns:ml-training", (("TCP", 5000),)),
        ("ingress", "ns:ml-api", (("TCP", 5000),)),
        ("ingress", "ns:monitoring", (("TCP", 5000),)),
        *{("egress", f"cidr:{cidr}", (("TCP", 5432),)) for cidr in cidrs},
        DNS,
        HTTPS,
        *_observability(apps),
    }


def test_addon_namespaces_deny_by_default_and_allow_their_controllers_flows(
    apps: StackRun,
) -> None:
    foundation = run_stack(apps.stack.removesuffix("-apps")).outputs
    webhook = {
        ("ingress", f"cidr:{cidr}", (("TCP", 10250),)) for cidr in foundation["network"]["cidrs"]
    }
    assert _flows(apps, "cert-manager") == {
        *webhook,
        ("ingress", "ns:monitoring", (("TCP", 9402),)),
        DNS,
        HTTPS,
    }
    assert _flows(apps, "external-secrets") == {
        *webhook,
        ("ingress", "ns:monitoring", (("TCP", 8080),)),
        DNS,
        HTTPS,
    }
    if foundation["ingress"]["controller"] == "traefik":
        assert _flows(apps, "traefik") == {
            ("ingress", "cidr:0.0.0.0/0", (("TCP", 8000), ("TCP", 8443))),
            ("ingress", "ns:monitoring", (("TCP", 9100),)),
            ("egress", "ns:ml-api", (("TCP", 8080),)),
            DNS,
            HTTPS,
        }
    if foundation["scheduling"]["gpu"] is not None:
        # Default deny and nothing else: the plugin talks to the kubelet over a socket.
        assert _flows(apps, "nvidia-device-plugin") == set()
