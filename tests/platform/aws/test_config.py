"""A missing or invalid ``stratus:aws`` value fails the program, naming the key and what it
expects; the shipped stacks are valid."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from infra.aws.config import AwsConfig
from infra.config import StratusConfigError, validate_section
from infra.offline import run_stack
from tests.platform.aws.conftest import AWS_STACKS, aws_section, stack_file

Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    def edit(section: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = section
        for part in parents:
            target = target[part]
        target[last] = value

    return edit


def _delete(path: str) -> Edit:
    def edit(section: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = section
        for part in parents:
            target = target[part]
        del target[last]

    return edit


INVALID: list[tuple[str, Edit, str]] = [
    (
        "unsupported-kubernetes-version",
        _set("cluster.kubernetesVersion", "1.19"),
        r"stratus:aws\.cluster\.kubernetesVersion: Value error, expected a supported Kubernetes "
        r"minor version, one of 1\.32, 1\.33, 1\.34 .*\(got '1\.19'\)",
    ),
    (
        "missing-database-section",
        _delete("database"),
        r"stratus:aws\.database: Field required",
    ),
    (
        "node-group-bounds",
        _set("cluster.nodeGroups.api.minSize", 9),
        r"stratus:aws\.cluster\.nodeGroups\.api: Value error, expected minSize <= desiredSize "
        r"<= maxSize",
    ),
    (
        "spot-instance-type",
        _set("cluster.nodeGroups.training.instanceTypes", ["m5 xlarge"]),
        r"stratus:aws\.cluster\.nodeGroups\.training\.instanceTypes\[0\]: String should match",
    ),
    (
        "public-endpoint-open-to-the-internet",
        _set("cluster.publicAccessCidrs", ["0.0.0.0/0"]),
        r"stratus:aws\.cluster\.publicAccessCidrs\[0\]: Value error, 0\.0\.0\.0/0 would open",
    ),
    (
        "vpc-too-small",
        _set("network.cidr", "10.0.0.0/24"),
        r"stratus:aws\.network\.cidr: Value error, expected an IPv4 CIDR block of /20 or larger",
    ),
    (
        "nat-mode",
        _set("network.natGateways", "many"),
        r"stratus:aws\.network\.natGateways: Input should be 'perAz' or 'single'",
    ),
    (
        "deployer-network-open-to-the-internet",
        _set("cluster.deployerCidrs", ["0.0.0.0/0"]),
        r"stratus:aws\.cluster\.deployerCidrs\[0\]: Value error, 0\.0\.0\.0/0 would open",
    ),
    (
        "service-range-inside-the-vpc",
        _set("network.serviceCidr", "10.50.128.0/20"),
        r"stratus:aws\.network: Value error, serviceCidr 10\.50\.128\.0/20 overlaps the VPC cidr "
        r"10\.50\.0\.0/16",
    ),
    (
        "kubernetes-patch-version",
        _set("cluster.kubernetesVersion", "1.33.2"),
        r"stratus:aws\.cluster\.kubernetesVersion: Value error, expected a supported Kubernetes "
        r"minor version",
    ),
    (
        "admin-role-twice",
        _set(
            "cluster.adminRoleArns",
            ["arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:role/a"],
        ),
        r"stratus:aws\.cluster\.adminRoleArns: Value error, lists a role twice",
    ),
    (
        "backup-retention",
        _set("database.backupRetentionDays", 0),
        r"stratus:aws\.database\.backupRetentionDays: Input should be greater than or equal to 1",
    ),
    (
        "unknown-key",
        _set("cluster.endpointPublic", True),
        r"stratus:aws\.cluster\.endpointPublic: Extra inputs are not permitted",
    ),
    (
        "admin-role-arn",
        _set("cluster.adminRoleArns", ["admins"]),
        r"stratus:aws\.cluster\.adminRoleArns: Value error, 'admins' is not an IAM role ARN",
    ),
    (
        "replication-to-the-same-region",
        _set("storage.modelReplicationRegion", "eu-west-1"),
        r"stratus:aws\.storage\.modelReplicationRegion: expected a region other than aws:region",
    ),
    (
        "zone-in-another-region",
        _set("network.availabilityZones", ["us-east-1a", "us-east-1b"]),
        r"stratus:aws\.network\.availabilityZones: \['us-east-1a', 'us-east-1b'\] are not in "
        r"aws:region 'eu-west-1'",
    ),
]


@pytest.mark.parametrize(
    ("edit", "message"), [(e, m) for _, e, m in INVALID], ids=[i for i, _, _ in INVALID]
)
def test_invalid_config_fails_naming_the_key(edit: Edit, message: str) -> None:
    section = aws_section("aws-prod")
    edit(section)
    with pytest.raises(StratusConfigError, match=message):
        run_stack("aws-prod", override={"stratus:aws": section})


def test_missing_section_fails() -> None:
    config = {k: v for k, v in stack_file("aws-dev").items() if k != "stratus:aws"}
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    with pytest.raises(
        StratusConfigError, match=re.escape("stratus:aws: required section is missing")
    ):
        run_stack("aws-dev", config=values)


def test_missing_region_fails() -> None:
    config = stack_file("aws-dev")
    values = {
        k: v if isinstance(v, str) else json.dumps(v)
        for k, v in config.items()
        if k != "aws:region"
    }
    with pytest.raises(StratusConfigError, match=re.escape("aws:region: required")):
        run_stack("aws-dev", config=values)


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_shipped_stacks_are_valid(stack: str) -> None:
    config = validate_section(AwsConfig, "stratus:aws", stack_file(stack)["stratus:aws"])
    assert config.network.zone_count == 3


def test_shipped_stacks_differ_where_it_matters() -> None:
    dev = validate_section(AwsConfig, "stratus:aws", stack_file("aws-dev")["stratus:aws"])
    prod = validate_section(AwsConfig, "stratus:aws", stack_file("aws-prod")["stratus:aws"])
    assert (dev.network.nat_gateways, prod.network.nat_gateways) == ("single", "perAz")
    assert (dev.database.multi_az, prod.database.multi_az) == (False, True)
    assert dev.storage.model_replication_region is None
    assert prod.storage.model_replication_region is not None
    assert dev.cluster.node_groups.gpu is None
    assert prod.cluster.node_groups.gpu is not None
    assert dev.network.cidr != prod.network.cidr
