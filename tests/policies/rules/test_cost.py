"""Machine families from the approved list; training pools on spot."""

from __future__ import annotations

import pulumi_aws as aws
import pulumi_azure_native.containerservice as aks
import pytest

from policies.rules.cost import instance_family
from tests.policies.harness import Packs
from tests.policies.rules.findings import found

ROLE = "arn:aws:iam::123456789012:role/r"
SCALING = aws.eks.NodeGroupScalingConfigArgs(min_size=0, max_size=3, desired_size=0)


@pytest.mark.parametrize(
    ("machine", "family"),
    [
        ("m6i.xlarge", "m6i"),
        ("Standard_D4ds_v5", "Standard_Dds_v5"),
        ("Standard_NC4as_T4_v3", "Standard_NCas_T4_v3"),
        ("Standard_B2s", "Standard_Bs"),
    ],
)
def test_instance_family(machine: str, family: str) -> None:
    assert instance_family(machine) == family


def _node_group(name: str, types: list[str], capacity: str, pool: str) -> None:
    aws.eks.NodeGroup(
        name,
        cluster_name="c",
        node_role_arn=ROLE,
        subnet_ids=["s"],
        scaling_config=SCALING,
        instance_types=types,
        capacity_type=capacity,
        labels={"stratus.io/pool": pool},
    )


def test_aws_node_groups(packs: Packs) -> None:
    def program() -> None:
        _node_group("training", ["m6i.2xlarge", "m5.2xlarge"], "SPOT", "training")
        _node_group("api", ["c6i.xlarge"], "ON_DEMAND", "api")
        _node_group("training-od", ["m6i.2xlarge"], "ON_DEMAND", "training")
        _node_group("exotic", ["x2iedn.32xlarge"], "ON_DEMAND", "api")

    report = packs.judge(program)
    assert found(report, "training-pools-spot") == {
        "training-od": [
            "pool training-od (stratus.io/pool=training) runs on on-demand capacity, not spot"
        ]
    }
    assert found(report, "allowed-instance-families") == {
        "exotic": [
            "instanceTypes: x2iedn.32xlarge (family x2iedn) is not an allowed family (t3, m5, "
            "m6i, m6a, m7i, c5, c6i, c7i, r6i, g5, g6)"
        ]
    }


def test_aks_pools(packs: Packs) -> None:
    def pool(name: str, size: str, priority: str, label: str) -> None:
        aks.AgentPool(
            name,
            resource_group_name="rg",
            resource_name_="aks",
            agent_pool_name=name,
            vm_size=size,
            scale_set_priority=priority,
            node_labels={"stratus.io/pool": label},
        )

    def program() -> None:
        pool("training", "Standard_D8ds_v5", "Spot", "training")
        pool("trainingod", "Standard_D8ds_v5", "Regular", "training")
        pool("m", "Standard_M64s", "Regular", "api")

    report = packs.judge(program, stack="azure-dev")
    assert found(report, "training-pools-spot") == {
        "trainingod": [
            "pool trainingod (stratus.io/pool=training) runs on on-demand capacity, not spot"
        ]
    }
    assert list(found(report, "allowed-instance-families")) == ["m"]
    assert (
        "Standard_M64s (family Standard_Ms)" in found(report, "allowed-instance-families")["m"][0]
    )
