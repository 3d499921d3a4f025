"""Azure Traffic Manager (``traffic.provider: traffic-manager``): a profile probing every endpoint
through its ingress, the strategy as its routing method, and the host as a CNAME to it."""

from __future__ import annotations

import pytest

from infra.offline import StackRun, run_stack
from infra.offline import kubernetes as k8s_mocks
from tests.platform.traffic.conftest import PROFILE, TM_ENDPOINT, global_section, run_global

HOST = "ml-api.prod.ml.example.org"


@pytest.fixture(scope="module", params=["active-active", "primary-secondary"])
def run(request: pytest.FixtureRequest) -> StackRun:
    section = global_section()
    section["traffic"].update(provider="traffic-manager", strategy=request.param)
    section["traffic"]["healthCheck"]["timeoutSeconds"] = 7
    return run_global(section, **{"azure-native:location": "northeurope"})


def test_the_profile_probes_the_health_route_through_the_ingress(run: StackRun) -> None:
    profile = run.one(PROFILE)
    monitor = profile.get("monitorConfig")
    assert monitor["protocol"] == "HTTPS"
    assert monitor["port"] == 443
    assert monitor["path"] == "/readyz"
    assert monitor["intervalInSeconds"] == 10
    assert monitor["timeoutInSeconds"] == 7
    # Degraded after 3 consecutive failures: 2 tolerated.
    assert monitor["toleratedNumberOfFailures"] == 2
    assert monitor["customHeaders"] == [{"name": "Host", "value": HOST}]
    assert monitor["expectedStatusCodeRanges"] == [{"min": 200, "max": 299}]
    assert profile.get("dnsConfig.ttl") == 60
    assert profile.get("location") == "global"


def test_the_strategy_is_the_routing_method(run: StackRun) -> None:
    profile = run.one(PROFILE)
    endpoints = {e.get("endpointName"): e for e in run.of_type(TM_ENDPOINT)}
    assert set(endpoints) == {"aws-prod-apps", "azure-prod-apps"}
    assert endpoints["aws-prod-apps"].get("target") == k8s_mocks.AWS_LOAD_BALANCER
    # A profile cannot mix DNS-name and IP targets: Azure's IP is named by an A record.
    azure_name = "endpoint-azure-prod-apps.prod.ml.example.org"
    assert endpoints["azure-prod-apps"].get("target") == azure_name
    (a_record,) = [
        r for r in run.of_type("azure-native:dns:RecordSet") if r.get("recordType") == "A"
    ]
    assert a_record.get("relativeRecordSetName") == "endpoint-azure-prod-apps"
    assert a_record.get("aRecords") == [{"ipv4Address": k8s_mocks.AZURE_LOAD_BALANCER_IP}]
    assert a_record.get("ttl") == 60
    for endpoint in endpoints.values():
        assert endpoint.get("endpointType") == "ExternalEndpoints"
        assert endpoint.get("endpointStatus") == "Enabled"
        assert endpoint.get("profileName") == f"{profile.name}1a2b3c4d"
    if run.outputs["strategy"] == "active-active":
        assert profile.get("trafficRoutingMethod") == "Weighted"
        assert [endpoints[n].get("weight") for n in sorted(endpoints)] == [50, 50]
        assert all(e.get("priority") is None for e in endpoints.values())
    else:
        assert profile.get("trafficRoutingMethod") == "Priority"
        assert endpoints["aws-prod-apps"].get("priority") == 1
        assert endpoints["azure-prod-apps"].get("priority") == 2
        assert all(e.get("weight") is None for e in endpoints.values())


def test_the_host_is_a_cname_to_the_profile_in_this_environments_zone(run: StackRun) -> None:
    zone = run.one("azure-native:dns:Zone")
    assert zone.get("zoneName") == "prod.ml.example.org"
    (cname,) = [
        r for r in run.of_type("azure-native:dns:RecordSet") if r.get("recordType") == "CNAME"
    ]
    assert cname.get("relativeRecordSetName") == "ml-api"
    assert cname.get("recordType") == "CNAME"
    assert cname.get("cnameRecord.cname") == run.outputs["trafficManagerFqdn"]
    assert run.outputs["trafficManagerFqdn"].endswith(".trafficmanager.net")
    # Route 53 is not involved at all.
    assert [r for r in run.resources if r.type.startswith("aws:route53")] == []


def test_an_existing_azure_dns_zone_is_used_when_named() -> None:
    section = global_section()
    section["traffic"].update(provider="traffic-manager")
    section["traffic"]["azureDns"] = {"name": "ml.example.org", "resourceGroupName": "dns-rg"}
    run = run_global(section, **{"azure-native:location": "northeurope"})
    assert run.of_type("azure-native:dns:Zone") == []
    records = {r.get("recordType"): r for r in run.of_type("azure-native:dns:RecordSet")}
    for record in records.values():
        assert (record.get("resourceGroupName"), record.get("zoneName")) == (
            "dns-rg",
            "ml.example.org",
        )
    assert records["CNAME"].get("relativeRecordSetName") == "ml-api.prod"
    endpoints = {e.get("endpointName"): e for e in run.of_type(TM_ENDPOINT)}
    assert endpoints["azure-prod-apps"].get("target") == "endpoint-azure-prod-apps.ml.example.org"


def test_shipped_global_dev_serves_azure_only_through_traffic_manager() -> None:
    run = run_stack("global-dev")
    assert run.outputs["host"] == "ml-api.dev.ml.example.org"
    assert list(run.outputs["endpoints"]) == ["azure-dev-apps"]
    # IP targets only: no A record needed, the profile answers with the IP itself.
    endpoint = run.one(TM_ENDPOINT)
    assert endpoint.get("target") == run.outputs["endpoints"]["azure-dev-apps"]["address"]
    assert [r.get("recordType") for r in run.of_type("azure-native:dns:RecordSet")] == ["CNAME"]
    profile = run.one(PROFILE)
    assert profile.get("trafficRoutingMethod") == "Weighted"
    assert profile.get("monitorConfig.intervalInSeconds") == 30
    assert run.outputs["vpn"] == []
    assert not [r for r in run.resources if r.type.startswith("aws:")]
