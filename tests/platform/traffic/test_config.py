"""``stratus:global``: invalid configuration fails before anything is registered, naming the key;
a configuration whose failover cannot meet its RTO is refused with the sum."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.config import StratusConfigError
from infra.traffic.config import GlobalConfig, parse_global_config
from infra.traffic.rto import RtoBudget
from tests.platform.traffic.conftest import global_section, run_global

Edit = Callable[[dict[str, Any]], None]


def _traffic(**values: Any) -> Edit:
    return lambda section: section["traffic"].update(values)


def _health(**values: Any) -> Edit:
    return lambda section: section["traffic"]["healthCheck"].update(values)


def _endpoint(index: int, **values: Any) -> Edit:
    return lambda section: section["endpoints"][index].update(values)


def _vpn(**values: Any) -> Edit:
    return lambda section: section["vpn"].update(values)


@pytest.mark.parametrize(
    ("edit", "key", "reason"),
    [
        (_traffic(provider="cloudflare"), "traffic.provider", "'route53' or 'traffic-manager'"),
        (_traffic(strategy="round-robin"), "traffic.strategy", "'active-active'"),
        (_health(intervalSeconds=15), "traffic.healthCheck.intervalSeconds", "10 or 30"),
        (_health(failureThreshold=11), "traffic.healthCheck.failureThreshold", "less than or"),
        (_health(regions=["us-east-1", "eu-west-1"]), "traffic.healthCheck.regions", "at least 3"),
        (_health(regions=["us-east-1", "eu-west-1", "mars-1"]), "regions[2]", "'us-east-1'"),
        (
            _health(regions=["us-east-1", "eu-west-1", "eu-west-1"]),
            "traffic.healthCheck.regions",
            "unique",
        ),
        (_health(timeoutSeconds=10), "traffic.healthCheck", "5-9 with intervalSeconds 10"),
        (_health(path="readyz"), "traffic.healthCheck.path", "should match pattern"),
        (_traffic(ttlSeconds=-1), "traffic.ttlSeconds", "greater than or equal to 0"),
        (_traffic(route53={"zoneId": "not-a-zone"}), "traffic.route53.zoneId", "should match"),
        (_endpoint(0, weight=256), "endpoints[0].weight", "less than or equal to 255"),
        (_endpoint(0, stack="aws-prod"), "endpoints[0].stack", "is not an -apps stack"),
        (_endpoint(0, stack="gcp-prod-apps"), "endpoints[0].stack", "not a Stratus stack name"),
        (_endpoint(1, stack="aws-prod-apps"), "stratus:global", "each stack once"),
        (_endpoint(0, latencyRegion="Europe"), "endpoints[0].latencyRegion", "not an AWS region"),
        (
            lambda s: s.update(endpoints=[{"stack": "aws-prod-apps", "weight": 0}]),
            "stratus:global",
            "at least one endpoint needs a weight above 0",
        ),
        (_vpn(links=[]), "stratus:global.vpn", "at least one {aws, azure} pair"),
        (_vpn(links=[{"aws": "azure-prod", "azure": "aws-prod"}]), "vpn.links[0]", "aws-<env>"),
        (
            _vpn(bgp={"enabled": True, "awsAsn": 65001, "azureAsn": 65001}),
            "stratus:global.vpn.bgp",
            "awsAsn and azureAsn must differ",
        ),
        (_vpn(azureGatewaySku="Basic"), "stratus:global.vpn.azureGatewaySku", "'VpnGw1AZ'"),
    ],
)
def test_invalid_config_names_the_key(edit: Edit, key: str, reason: str) -> None:
    section = global_section()
    edit(section)
    with pytest.raises(StratusConfigError) as failure:
        run_global(section)
    message = str(failure.value)
    assert key in message
    assert reason in message


def test_primary_secondary_needs_unique_priorities_on_every_endpoint() -> None:
    section = global_section()
    section["traffic"]["strategy"] = "primary-secondary"
    del section["endpoints"][1]["priority"]
    with pytest.raises(StratusConfigError, match="priority missing for azure-prod-apps"):
        run_global(section)
    section["endpoints"][1]["priority"] = 1
    with pytest.raises(StratusConfigError, match="priorities must be unique"):
        run_global(section)
    section["endpoints"] = section["endpoints"][:1]
    with pytest.raises(StratusConfigError, match="needs at least two endpoints"):
        run_global(section)


def test_traffic_manager_refuses_what_it_cannot_express() -> None:
    section = global_section()
    section["traffic"].update(provider="traffic-manager", latencyRouting=True)
    with pytest.raises(StratusConfigError, match="latencyRouting is a Route 53 feature"):
        run_global(section)
    section["traffic"]["latencyRouting"] = False
    section["endpoints"][1]["weight"] = 0
    with pytest.raises(StratusConfigError, match="weights are 1-1000: weight 0 for azure-prod"):
        run_global(section)


def test_latency_routing_needs_a_region_per_endpoint() -> None:
    section = global_section()
    section["traffic"]["latencyRouting"] = True
    section["endpoints"][0]["latencyRegion"] = "eu-west-1"
    with pytest.raises(StratusConfigError, match="latencyRegion missing for azure-prod-apps"):
        run_global(section)


def test_a_stack_of_another_environment_is_refused() -> None:
    section = global_section()
    section["endpoints"][1]["stack"] = "azure-dev-apps"
    with pytest.raises(StratusConfigError, match="azure-dev-apps belong to another environment"):
        run_global(section)


def test_the_section_is_required() -> None:
    with pytest.raises(StratusConfigError, match="stratus:global: required section is missing"):
        run_global({}, **{"stratus:global": None})  # type: ignore[arg-type]


# --- RTO arithmetic --------------------------------------------------------------------------


def test_rto_sum_is_detection_plus_ttl_plus_client_retry() -> None:
    traffic = parse_global_config(global_section()).traffic
    budget = traffic.configured_budget()
    assert budget.detection_seconds == 10 * 3
    assert budget.total_seconds == 30 + 60 + 30
    assert budget.met
    assert budget.describe() == (
        "detection 10 s x 3 = 30 s + DNS TTL 60 s + client retry 30 s = 120 s <= RTO 300 s"
    )


def test_a_config_that_cannot_meet_the_rto_is_refused_with_the_sum() -> None:
    section = global_section()
    section["traffic"]["healthCheck"].update(intervalSeconds=30, failureThreshold=5)
    section["traffic"].update(ttlSeconds=120, clientRetrySeconds=60)
    with pytest.raises(StratusConfigError) as failure:
        run_global(section)
    message = str(failure.value)
    assert message.startswith("stratus:global.traffic: the failover cannot meet the RTO")
    assert (
        "detection 30 s x 5 = 150 s + DNS TTL 120 s + client retry 60 s = 330 s > RTO 300 s"
        in message
    )
    # The same numbers pass with a looser objective.
    section["traffic"]["rtoSeconds"] = 330
    assert run_global(section).outputs["rto"]["totalSeconds"] == 330


def test_the_rto_counts_the_ttl_clients_really_see() -> None:
    """AWS load balancer aliases answer with a 60 s TTL whatever the records say: a 10 s TTL
    does not buy a faster failover, and the RTO check knows it."""
    section = global_section()
    section["traffic"].update(ttlSeconds=10, rtoSeconds=100, clientRetrySeconds=30)
    # Configured: 30 + 10 + 30 = 70 s <= 100 s; with the alias TTL: 30 + 60 + 30 = 120 s > 100 s.
    assert parse_global_config(section).traffic.configured_budget().met
    with pytest.raises(StratusConfigError) as failure:
        run_global(section)
    assert "DNS TTL 60 s (alias answers for AWS load balancers carry 60 s)" in str(failure.value)
    assert "= 120 s > RTO 100 s" in str(failure.value)


def test_budget_of_reads_the_config_numbers() -> None:
    config = GlobalConfig.model_validate(
        {
            "endpoints": [{"stack": "aws-dev-apps"}],
            "traffic": {
                "healthCheck": {"intervalSeconds": 30, "failureThreshold": 2},
                "clientRetrySeconds": 5,
                "rtoSeconds": 100,
            },
        }
    )
    budget = RtoBudget.of(config.traffic, ttl_seconds=20)
    assert (budget.detection_seconds, budget.total_seconds, budget.met) == (60, 85, True)
