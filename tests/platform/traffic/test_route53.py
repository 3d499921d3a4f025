"""Route 53 (the default provider): one health check per endpoint on the ML API's health route
through its ingress, and the strategy's records — weighted (active-active) or failover
(primary-secondary) — for both clouds' ingress addresses."""

from __future__ import annotations

from typing import Any

import pytest

from infra.offline import StackRun, run_stack
from infra.offline import aws as aws_mocks
from infra.offline import kubernetes as k8s_mocks
from tests.platform.traffic.conftest import (
    HEALTH_CHECK,
    RECORD,
    global_section,
    records,
    run_global,
)

HOST = "ml-api.prod.ml.example.org"
NLB = k8s_mocks.AWS_LOAD_BALANCER
AZURE_IP = k8s_mocks.AZURE_LOAD_BALANCER_IP


@pytest.fixture(scope="module", params=["active-active", "primary-secondary"])
def run(request: pytest.FixtureRequest) -> StackRun:
    section = global_section()
    section["traffic"]["strategy"] = request.param
    return run_global(section)


def _checks(run: StackRun) -> dict[str, Any]:
    return {c.name.removeprefix("stratus-prod-dns-"): c for c in run.of_type(HEALTH_CHECK)}


def test_the_zone_is_the_hosts_parent_domain_owned_by_this_environment(run: StackRun) -> None:
    zone = run.one("aws:route53/zone:Zone")
    assert zone.get("name") == "prod.ml.example.org"
    assert run.outputs["host"] == HOST
    assert run.outputs["nameServers"]
    assert all(r.get("zoneId") == run.outputs["zoneId"] for r in run.of_type(RECORD))


def test_every_probe_is_https_on_the_health_route_with_the_configured_numbers(
    run: StackRun,
) -> None:
    checks = [c for c in run.of_type(HEALTH_CHECK) if c.get("type") != "CALCULATED"]
    # The Azure IP, and each of the AWS load balancer's three zonal nodes.
    assert len(checks) == 1 + len(aws_mocks.NLB_NODE_IPS)
    for check in checks:
        assert check.get("type") == "HTTPS"
        assert check.get("port") == 443
        assert check.get("resourcePath") == "/readyz"
        assert check.get("requestInterval") == 10
        assert check.get("failureThreshold") == 3
        assert check.get("regions") == ["us-east-1", "eu-west-1", "ap-southeast-1"]
        # Probed by IP with the host as Host header and SNI: through the ingress's host rule.
        assert check.get("fqdn") == HOST
        assert check.get("enableSni") is True


def test_the_azure_ip_is_probed_directly(run: StackRun) -> None:
    assert _checks(run)["azure-prod-apps-check"].get("ipAddress") == AZURE_IP


def test_the_aws_load_balancer_is_healthy_while_any_node_is(run: StackRun) -> None:
    checks = _checks(run)
    nodes = [checks[f"aws-prod-apps-node-{i}-check"] for i in range(3)]
    assert [n.get("ipAddress") for n in nodes] == aws_mocks.NLB_NODE_IPS
    calculated = checks["aws-prod-apps-check"]
    assert calculated.get("type") == "CALCULATED"
    assert calculated.get("childHealthThreshold") == 1
    assert calculated.get("childHealthchecks") == [f"{n.name}-id" for n in nodes]


def _answers(run: StackRun) -> dict[str, Any]:
    """The records at the host, keyed by what they answer (aws / azure)."""
    found = {}
    for record in run.of_type(RECORD):
        assert record.get("name") == HOST
        if record.get("aliases"):
            found["aws"] = record
        else:
            found["azure"] = record
    return found


def test_aws_is_an_alias_to_its_load_balancer_and_azure_an_a_record(run: StackRun) -> None:
    answers = _answers(run)
    aws_record, azure_record = answers["aws"], answers["azure"]
    assert aws_record.get("type") == "A"
    assert aws_record.get("aliases") == [
        {
            "name": NLB,
            "zoneId": aws_mocks.NLB_HOSTED_ZONE_IDS["eu-west-1"],
            "evaluateTargetHealth": True,
        }
    ]
    assert aws_record.get("ttl") is None  # an alias answers with the load balancer's TTL
    assert azure_record.get("type") == "A"
    assert azure_record.get("records") == [AZURE_IP]
    assert azure_record.get("ttl") == 60
    checks = _checks(run)
    assert aws_record.get("healthCheckId") == f"{checks['aws-prod-apps-check'].name}-id"
    assert azure_record.get("healthCheckId") == f"{checks['azure-prod-apps-check'].name}-id"


def test_strategy_records(run: StackRun) -> None:
    answers = _answers(run)
    if run.outputs["strategy"] == "active-active":
        assert answers["aws"].get("weightedRoutingPolicies") == [{"weight": 50}]
        assert answers["azure"].get("weightedRoutingPolicies") == [{"weight": 50}]
        assert answers["aws"].get("setIdentifier") == "aws-prod-apps"
        assert answers["aws"].get("failoverRoutingPolicies") is None
    else:
        assert answers["aws"].get("failoverRoutingPolicies") == [{"type": "PRIMARY"}]
        assert answers["azure"].get("failoverRoutingPolicies") == [{"type": "SECONDARY"}]
        assert answers["aws"].get("weightedRoutingPolicies") is None
        roles = {name: e["role"] for name, e in run.outputs["endpoints"].items()}
        assert roles == {"aws-prod-apps": "PRIMARY", "azure-prod-apps": "SECONDARY"}


def test_swapped_priorities_make_azure_primary() -> None:
    section = global_section()
    section["traffic"]["strategy"] = "primary-secondary"
    section["endpoints"][0]["priority"], section["endpoints"][1]["priority"] = 2, 1
    answers = _answers(run_global(section))
    assert answers["azure"].get("failoverRoutingPolicies") == [{"type": "PRIMARY"}]
    assert answers["aws"].get("failoverRoutingPolicies") == [{"type": "SECONDARY"}]


def _three_endpoints(strategy: str) -> dict[str, Any]:
    """A third endpoint: the same -apps stack deployed as a second region's project."""
    section = global_section()
    section["traffic"]["strategy"] = strategy
    section["endpoints"].append({"stack": "stratus-us/aws-prod-apps", "weight": 20, "priority": 3})
    return section


def test_more_than_two_endpoints_chain_the_failover_pairs() -> None:
    found = records(run_global(_three_endpoints("primary-secondary")))
    assert set(found) == {
        "failover-1-primary",
        "failover-1-secondary",
        "failover-2-primary",
        "failover-2-secondary",
    }
    assert found["failover-1-primary"].get("setIdentifier") == "aws-prod-apps-primary"
    chained = found["failover-1-secondary"]
    assert chained.get("name") == HOST
    assert chained.get("aliases.0.name") == f"failover-2.{HOST}"
    assert chained.get("aliases.0.evaluateTargetHealth") is True
    assert chained.get("healthCheckId") is None  # healthy while the next pair has a healthy one
    assert found["failover-2-primary"].get("name") == f"failover-2.{HOST}"
    assert found["failover-2-primary"].get("records") == [AZURE_IP]
    assert found["failover-2-secondary"].get("setIdentifier") == (
        "stratus-us-aws-prod-apps-secondary"
    )


def test_any_number_of_weighted_endpoints() -> None:
    run = run_global(_three_endpoints("active-active"))
    weights = {
        r.get("setIdentifier"): r.get("weightedRoutingPolicies.0.weight")
        for r in run.of_type(RECORD)
    }
    assert weights == {"aws-prod-apps": 50, "azure-prod-apps": 50, "stratus-us-aws-prod-apps": 20}
    assert len([c for c in run.of_type(HEALTH_CHECK) if c.get("type") == "CALCULATED"]) == 2


def test_latency_routing_sends_each_region_to_its_own_group() -> None:
    section = _three_endpoints("active-active")
    section["traffic"]["latencyRouting"] = True
    for endpoint, region in zip(
        section["endpoints"], ["eu-west-1", "eu-west-1", "us-east-1"], strict=True
    ):
        endpoint["latencyRegion"] = region
    found = records(run_global(section))
    latency = {k: v for k, v in found.items() if k.startswith("latency-")}
    assert set(latency) == {"latency-eu-west-1", "latency-us-east-1"}
    for region, record in ((r.removeprefix("latency-"), v) for r, v in latency.items()):
        assert record.get("name") == HOST
        assert record.get("latencyRoutingPolicies") == [{"region": region}]
        assert record.get("aliases.0.name") == f"{region}.{HOST}"
        assert record.get("aliases.0.evaluateTargetHealth") is True
    assert found["eu-west-1-aws-prod-apps"].get("name") == f"eu-west-1.{HOST}"
    assert found["eu-west-1-azure-prod-apps"].get("name") == f"eu-west-1.{HOST}"
    assert found["us-east-1-stratus-us-aws-prod-apps"].get("name") == f"us-east-1.{HOST}"


def test_an_existing_zone_is_used_when_it_can_hold_the_host() -> None:
    section = global_section()
    section["traffic"]["route53"] = {"zoneId": aws_mocks.EXISTING_ZONE_ID}
    run = run_global(section)
    assert run.of_type("aws:route53/zone:Zone") == []
    assert {r.get("zoneId") for r in run.of_type(RECORD)} == {aws_mocks.EXISTING_ZONE_ID}
    assert "nameServers" not in run.outputs
    section["traffic"]["route53"] = {"zoneId": "Z0SOMEOTHERZONE1"}
    with pytest.raises(ValueError, match=r"Z0SOMEOTHERZONE1 is the zone elsewhere\.example\.com"):
        run_global(section)


def test_the_ttl_is_the_configured_one() -> None:
    section = global_section()
    section["traffic"]["ttlSeconds"] = 30
    run = run_global(section)
    assert _answers(run)["azure"].get("ttl") == 30
    assert run.outputs["ttlSeconds"] == 30
    assert run.outputs["rto"]["ttlSeconds"] == 60  # the alias answers' TTL is what clients see


def test_shipped_global_prod_is_route53_active_active_on_both_clouds() -> None:
    run = run_stack("global-prod")
    assert (run.outputs["provider"], run.outputs["strategy"]) == ("route53", "active-active")
    assert {e["cloud"] for e in run.outputs["endpoints"].values()} == {"aws", "azure"}
    assert run.outputs["rto"]["met"] is True
