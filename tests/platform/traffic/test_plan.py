"""The routing plan: the providers' answer semantics the stack deploys and the drill replays."""

from __future__ import annotations

from typing import Any

import pytest

from infra.traffic.config import GlobalConfig
from infra.traffic.plan import Target, build_plan, load_balancer_name

HOST = "ml-api.prod.example.org"
NLB = "k8s-traefik-traefik-0123456789-0123456789abcdef.elb.eu-west-1.amazonaws.com"


def _config(**traffic: Any) -> GlobalConfig:
    return GlobalConfig.model_validate(
        {
            "endpoints": [
                {"stack": "aws-prod-apps", "weight": 30, "priority": 1},
                {"stack": "azure-prod-apps", "weight": 10, "priority": 2},
            ],
            "traffic": traffic,
        }
    )


def _targets(aws_address: str = NLB) -> dict[str, Target]:
    return {
        "aws-prod-apps": Target("aws-prod-apps", "aws", aws_address, HOST, "/readyz", 443),
        "azure-prod-apps": Target("azure-prod-apps", "azure", "20.1.2.3", HOST, "/readyz", 443),
    }


def test_active_active_splits_by_weight_among_the_healthy() -> None:
    plan = build_plan(_config(), _targets())
    both = {"aws-prod-apps", "azure-prod-apps"}
    assert plan.shares(both) == {"aws-prod-apps": 0.75, "azure-prod-apps": 0.25}
    assert plan.shares({"azure-prod-apps"}) == {"aws-prod-apps": 0.0, "azure-prod-apps": 1.0}
    # Nobody healthy: the providers fail open and answer as if all were healthy.
    assert plan.shares(set()) == plan.shares(both)


def test_primary_secondary_answers_the_first_healthy_by_priority() -> None:
    plan = build_plan(_config(strategy="primary-secondary"), _targets())
    assert [r.role for r in plan.routes] == ["PRIMARY", "SECONDARY"]
    assert plan.shares({"aws-prod-apps", "azure-prod-apps"})["aws-prod-apps"] == 1.0
    assert plan.shares({"azure-prod-apps"})["azure-prod-apps"] == 1.0
    assert plan.shares(set())["aws-prod-apps"] == 1.0


def test_latency_routing_keeps_a_client_in_its_region_while_it_has_a_healthy_endpoint() -> None:
    config = GlobalConfig.model_validate(
        {
            "endpoints": [
                {"stack": "aws-prod-apps", "latencyRegion": "eu-west-1"},
                {"stack": "azure-prod-apps", "latencyRegion": "us-east-1"},
            ],
            "traffic": {"latencyRouting": True},
        }
    )
    plan = build_plan(config, _targets())
    assert set(plan.groups()) == {"eu-west-1", "us-east-1"}
    both = {"aws-prod-apps", "azure-prod-apps"}
    assert plan.shares(both, region="eu-west-1")["aws-prod-apps"] == 1.0
    assert plan.shares({"azure-prod-apps"}, region="eu-west-1")["azure-prod-apps"] == 1.0


@pytest.mark.parametrize(
    ("provider", "successes", "timeout"),
    [("route53", 3, 6), ("traffic-manager", 1, 5)],
)
def test_health_semantics_per_provider(provider: str, successes: int, timeout: int) -> None:
    plan = build_plan(_config(provider=provider), _targets())
    assert plan.health.failures_to_unhealthy == 3
    assert plan.health.successes_to_healthy == successes
    assert plan.health.timeout_seconds == timeout
    assert (plan.health.protocol, plan.health.path, plan.health.port) == ("HTTPS", "/readyz", 443)


def test_only_route53_aliases_raise_the_ttl_clients_see() -> None:
    low = {"ttlSeconds": 20}
    assert build_plan(_config(**low), _targets()).rto.ttl_seconds == 60
    assert build_plan(_config(**low), _targets("203.0.113.9")).rto.ttl_seconds == 20
    tm = build_plan(_config(provider="traffic-manager", **low), _targets())
    assert tm.rto.ttl_seconds == 20
    assert build_plan(_config(ttlSeconds=90), _targets()).rto.ttl_seconds == 90


def test_address_kinds() -> None:
    targets = _targets()
    assert targets["aws-prod-apps"].kind == "aws-load-balancer"
    assert targets["azure-prod-apps"].kind == "ip"
    assert Target("x", "aws", "api.example.org", HOST, "/", 443).kind == "dns"
    lb = load_balancer_name(NLB)
    assert lb is not None
    assert (lb.name, lb.id, lb.region) == (
        "k8s-traefik-traefik-0123456789",
        "0123456789abcdef",
        "eu-west-1",
    )
    assert lb.interface_description == "ELB net/k8s-traefik-traefik-0123456789/0123456789abcdef"
