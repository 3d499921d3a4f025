"""The ``GatewaySubnet`` the Azure foundation reserves for the cross-cloud VPN's gateway."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import StratusConfigError
from infra.offline import run_stack, stack_config
from tests.platform.azure.conftest import azure_section

SUBNET = "azure-native:network:Subnet"


def _with_network(stack: str, **changes: Any) -> dict[str, str]:
    section = azure_section(stack)
    section["network"].update(changes)
    return {**stack_config(stack), "stratus:azure": json.dumps(section)}


def test_prod_reserves_the_gateway_subnet_and_exports_its_id() -> None:
    run = run_stack("azure-prod")
    (gateway,) = [s for s in run.of_type(SUBNET) if s.get("subnetName") == "GatewaySubnet"]
    assert gateway.get("addressPrefix") == azure_section("azure-prod")["network"]["gatewaySubnet"]
    # Azure supports neither an NSG nor a delegation on a gateway subnet.
    assert gateway.get("networkSecurityGroup") is None
    assert gateway.get("delegations") is None
    # Created after the other subnets (Azure rejects concurrent writes to one VNet's subnets).
    others = {s.urn for s in run.of_type(SUBNET) if s is not gateway}
    assert set(gateway.depends_on) & others
    assert run.outputs["network"]["details"]["gatewaySubnetId"] == f"{gateway.name}-id"


def test_dev_has_no_gateway_subnet() -> None:
    run = run_stack("azure-dev")
    assert all(s.get("subnetName") != "GatewaySubnet" for s in run.of_type(SUBNET))
    assert run.outputs["network"]["details"]["gatewaySubnetId"] is None


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        ("10.30.36.0/28", "expected an IPv4 CIDR block of /27 or larger"),
        ("10.31.0.0/27", "gatewaySubnet 10.31.0.0/27 is not inside addressSpace 10.30.0.0/16"),
        ("10.30.35.0/27", "overlaps gatewaySubnet 10.30.35.0/27"),
    ],
)
def test_a_bad_gateway_subnet_is_refused_naming_the_key(prefix: str, reason: str) -> None:
    with pytest.raises(StratusConfigError) as failure:
        run_stack("azure-prod", config=_with_network("azure-prod", gatewaySubnet=prefix))
    assert "stratus:azure.network" in str(failure.value)
    assert reason in str(failure.value)
