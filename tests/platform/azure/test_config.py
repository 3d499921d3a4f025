"""Invalid ``stratus:azure`` configuration fails before anything is registered, naming the key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.config import StratusConfigError
from tests.platform.azure import mocks  # noqa: F401 - registers the Azure mocks
from tests.platform.azure.conftest import azure_section
from tests.platform.harness import run_stack, stack_config

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
            "Kubernetes version",
        ),
        (
            _set("cluster.nodePools.api.maxCount", 0),
            "stratus:azure.cluster.nodePools.api.maxCount",
            "greater than or equal to 1",
        ),
        (
            _set("cluster.nodePools.api.minCount", 5),
            "stratus:azure.cluster.nodePools.api.maxCount",
            "must be >= minCount (5)",
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
            _set("cluster.adminGroupObjectIds", []),
            "stratus:azure.cluster.adminGroupObjectIds",
            "at least 1 item",
        ),
        (
            _set("storage.replication", "Standard_LRS"),
            "stratus:azure.storage.replication",
            "'LRS'",
        ),
        (
            _set("database.highAvailability", "ZoneRedundant"),
            "stratus:azure.database.highAvailability",
            "Burstable",
        ),
        (
            _set("database.backupRetentionDays", 3),
            "stratus:azure.database.backupRetentionDays",
            "greater than or equal to 7",
        ),
        (
            _set("network.databaseSubnet", "10.99.0.0/24"),
            "stratus:azure.network.databaseSubnet",
            "not inside addressSpace",
        ),
        (
            _set("network.endpointsSubnet", "10.20.0.0/24"),
            "stratus:azure.network.endpointsSubnet",
            "overlaps subnet",
        ),
        (
            _set("network.nodesSubnet", "10.20.0.1/20"),
            "stratus:azure.network.nodesSubnet",
            "not a CIDR block",
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
