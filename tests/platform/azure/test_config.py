"""Invalid ``stratus:azure`` configuration fails before anything is registered, naming the key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.config import StratusConfigError
from infra.offline import run_stack, stack_config
from tests.platform.azure.conftest import azure_section

Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    def edit(section: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = section
        for part in parents:
            node = node[part]
        node[last] = value

    return edit


def _del(path: str) -> Edit:
    def edit(section: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = section
        for part in parents:
            node = node[part]
        del node[last]

    return edit


@pytest.mark.parametrize(
    ("edit", "key", "reason"),
    [
        (
            _set("cluster.kubernetesVersion", "latest"),
            "stratus:azure.cluster.kubernetesVersion",
            "supported Kubernetes minor version",
        ),
        (
            _set("cluster.nodePools.api.maxSize", 0),
            "stratus:azure.cluster.nodePools.api.maxSize",
            "greater than or equal to 1",
        ),
        (
            _set("cluster.nodePools.api.minSize", 5),
            "stratus:azure.cluster.nodePools.api",
            "expected minSize <= desiredSize <= maxSize (got 5 <= 1 <= 3)",
        ),
        (
            _set("cluster.nodePools.system.minSize", 0),
            "stratus:azure.cluster.nodePools.system",
            "needs minSize >= 1",
        ),
        (
            _set("cluster.nodePools.training.spotMaxPrice", 0),
            "stratus:azure.cluster.nodePools.training.spotMaxPrice",
            "must be -1",
        ),
        (
            _set("cluster.adminGroupObjectIds", ["platform-admins"]),
            "stratus:azure.cluster.adminGroupObjectIds[0]",
            "UUID",
        ),
        (
            # The placeholder the stack files used to ship: it passes as a UUID, names nobody.
            _set("cluster.adminGroupObjectIds", ["00000000-0000-0000-0000-000000000d01"]),
            "stratus:azure.cluster.adminGroupObjectIds[0]",
            "is a placeholder, not an Entra ID group",
        ),
        (
            _set("cluster.adminGroupObjectIds", []),
            "stratus:azure.cluster.adminGroupObjectIds[0]",
            "pulumi config set --path 'stratus:azure.cluster.adminGroupObjectIds[0]' "
            "<entra-group-object-id> --stack azure-dev",
        ),
        (
            _set("storage.replication", "Standard_LRS"),
            "stratus:azure.storage.replication",
            "'LRS'",
        ),
        (
            _set("database.highAvailability", "ZoneRedundant"),
            "stratus:azure.database",
            "Burstable",
        ),
        (
            _set("database.backupRetentionDays", 3),
            "stratus:azure.database.backupRetentionDays",
            "greater than or equal to 7",
        ),
        (
            _set("network.databaseSubnet", "10.99.0.0/24"),
            "stratus:azure.network",
            "databaseSubnet 10.99.0.0/24 is not inside addressSpace",
        ),
        (
            _set("network.endpointsSubnet", "10.20.0.0/24"),
            "stratus:azure.network",
            "nodesSubnet 10.20.0.0/20 overlaps endpointsSubnet 10.20.0.0/24",
        ),
        (
            _set("network.deployerSubnet", "10.20.18.128/25"),
            "stratus:azure.network",
            "databaseSubnet 10.20.18.0/24 overlaps deployerSubnet 10.20.18.128/25",
        ),
        (
            _set("network.podCidr", "10.20.128.0/17"),
            "stratus:azure.network",
            "addressSpace 10.20.0.0/16 overlaps podCidr 10.20.128.0/17",
        ),
        (
            _set("network.serviceCidr", "192.168.0.0/20"),
            "stratus:azure.network",
            "podCidr 192.168.0.0/16 overlaps serviceCidr 192.168.0.0/20",
        ),
        (
            _set("network.dnsServiceIp", "10.251.0.10"),
            "stratus:azure.network",
            "dnsServiceIp 10.251.0.10 is not inside serviceCidr",
        ),
        (
            _set("network.nodesSubnet", "10.20.0.1/20"),
            "stratus:azure.network.nodesSubnet",
            "host bits set",
        ),
        (
            _set("network.deployerCidrs", ["0.0.0.0/0"]),
            "stratus:azure.network.deployerCidrs[0]",
            "would open the endpoint to the internet",
        ),
        (
            _del("keyVault.purgeProtection"),
            "stratus:azure.keyVault.purgeProtection",
            "Field required",
        ),
        (
            _set("cluster.maintenance", {"durationHours": 2}),
            "stratus:azure.cluster.maintenance.durationHours",
            "greater than or equal to 4",
        ),
        (
            _set("cluster.privateCluster", False),
            "stratus:azure.cluster.privateCluster",
            "Extra inputs are not permitted",
        ),
        (
            _del("keyVault"),
            "stratus:azure.keyVault",
            "Field required",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_invalid_value_fails_naming_the_key(edit: Edit, key: str, reason: str) -> None:
    section = azure_section("azure-dev")  # Burstable, so zone-redundant HA is invalid there
    edit(section)
    with pytest.raises(StratusConfigError) as caught:
        run_stack("azure-dev", override={"stratus:azure": section})
    message = str(caught.value)
    assert f"{key}: " in message
    assert reason in message


def test_missing_section_fails() -> None:
    config = {k: v for k, v in stack_config("azure-prod").items() if k != "stratus:azure"}
    with pytest.raises(StratusConfigError, match=r"stratus:azure: required section is missing"):
        run_stack("azure-prod", config=config)


def test_missing_location_fails() -> None:
    config = {k: v for k, v in stack_config("azure-prod").items() if k != "azure-native:location"}
    with pytest.raises(StratusConfigError, match=r"azure-native:location: required"):
        run_stack("azure-prod", config=config)


def test_section_that_is_not_an_object_fails() -> None:
    with pytest.raises(StratusConfigError, match=r"stratus:azure: expected an object"):
        run_stack("azure-dev", override={"stratus:azure": "not-json"})


def test_shipped_stack_files_hold_no_org_specific_value() -> None:
    """Admin groups are org-specific: the shipped files carry none (offline runs take an example
    from stacks/offline-overrides.yaml), so a real stack without one fails with the command."""
    for stack in ("azure-dev", "azure-prod"):
        raw = stack_config(stack, with_overrides=False)
        config = {**raw}
        with pytest.raises(StratusConfigError) as caught:
            run_stack(stack, config=config)
        assert "adminGroupObjectIds" in str(caught.value)
        assert f"--stack {stack}" in str(caught.value)
