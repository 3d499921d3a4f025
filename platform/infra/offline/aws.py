"""What AWS computes on create, for offline runs: ids, ARNs, endpoints, and the invokes' results.

Importing this module registers the tables with :mod:`infra.offline.runner`. Values follow the
shapes AWS returns (ARNs, ids, endpoints) so the program's derived strings look like real ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.runtime.mocks import MockResourceArgs

from infra.offline.runner import computed_outputs, invoke_result

ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"
ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
OIDC_ISSUER = f"https://oidc.eks.{REGION}.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
CLUSTER_SECURITY_GROUP = "sg-0c1a2b3c4d5e6f708"
#: What the mocked RandomPassword generates (alphanumeric, as the program asks for).


def _arn(service: str, resource: str, *, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


def _physical(args: MockResourceArgs, key: str = "name") -> str:
    """The physical name: the explicit one, or the auto-name Pulumi would generate."""
    explicit = args.inputs.get(key)
    return str(explicit) if explicit else f"{args.name}-a1b2c3d"


@computed_outputs("aws:ec2/vpc:Vpc")
def _vpc(args: MockResourceArgs) -> Mapping[str, Any]:
    return {"arn": _arn("ec2", f"vpc/{args.name}-id"), "defaultSecurityGroupId": "sg-default"}


@computed_outputs("aws:ec2/subnet:Subnet")
def _subnet(args: MockResourceArgs) -> Mapping[str, Any]:
    return {"arn": _arn("ec2", f"subnet/{args.name}-id")}


@computed_outputs("aws:ec2/eip:Eip")
def _eip(args: MockResourceArgs) -> Mapping[str, Any]:
    return {"allocationId": f"eipalloc-{args.name}", "publicIp": "198.51.100.10"}


@computed_outputs("aws:ec2/securityGroup:SecurityGroup")
def _security_group(args: MockResourceArgs) -> Mapping[str, Any]:
    return {"arn": _arn("ec2", f"security-group/{args.name}-id")}


@computed_outputs("aws:kms/key:Key")
def _kms_key(args: MockResourceArgs) -> Mapping[str, Any]:
    region = args.inputs.get("region") or REGION
    return {"arn": _arn("kms", f"key/{args.name}-id", region=region), "keyId": f"{args.name}-id"}


@computed_outputs("aws:iam/role:Role")
def _role(args: MockResourceArgs) -> Mapping[str, Any]:
    name = _physical(args)
    return {"name": name, "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"}


@computed_outputs("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
def _oidc_provider(args: MockResourceArgs) -> Mapping[str, Any]:
    host = str(args.inputs["url"]).removeprefix("https://")
    return {"arn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{host}"}


@computed_outputs("aws:cloudwatch/logGroup:LogGroup")
def _log_group(args: MockResourceArgs) -> Mapping[str, Any]:
    name = _physical(args)
    return {"name": name, "arn": _arn("logs", f"log-group:{name}")}


@computed_outputs("aws:eks/cluster:Cluster")
def _cluster(args: MockResourceArgs) -> Mapping[str, Any]:
    name = _physical(args)
    return {
        "arn": _arn("eks", f"cluster/{name}"),
        "endpoint": f"https://0123456789ABCDEF0123456789ABCDEF.gr7.{REGION}.eks.amazonaws.com",
        "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
        "identities": [{"oidcs": [{"issuer": OIDC_ISSUER}]}],
        "vpcConfig": {
            **dict(args.inputs.get("vpcConfig") or {}),
            "clusterSecurityGroupId": CLUSTER_SECURITY_GROUP,
        },
    }


@computed_outputs("aws:ec2/launchTemplate:LaunchTemplate")
def _launch_template(args: MockResourceArgs) -> Mapping[str, Any]:
    return {"latestVersion": 1, "arn": _arn("ec2", f"launch-template/lt-{args.name}")}


@computed_outputs("aws:eks/nodeGroup:NodeGroup")
def _node_group(args: MockResourceArgs) -> Mapping[str, Any]:
    return {
        "arn": _arn("eks", f"nodegroup/{args.name}"),
        "resources": [{"autoscalingGroups": [{"name": f"eks-{args.name}-0a1b2c3d"}]}],
    }


@computed_outputs("aws:ecr/repository:Repository")
def _repository(args: MockResourceArgs) -> Mapping[str, Any]:
    name = _physical(args)
    return {
        "arn": _arn("ecr", f"repository/{name}"),
        "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{name}",
    }


@computed_outputs("aws:s3/bucket:Bucket")
def _bucket(args: MockResourceArgs) -> Mapping[str, Any]:
    name = _physical(args, "bucket")
    return {"bucket": name, "arn": f"arn:aws:s3:::{name}"}


@computed_outputs("aws:rds/subnetGroup:SubnetGroup")
def _db_subnet_group(args: MockResourceArgs) -> Mapping[str, Any]:
    return {"name": _physical(args)}


@computed_outputs("aws:rds/parameterGroup:ParameterGroup")
def _db_parameter_group(args: MockResourceArgs) -> Mapping[str, Any]:
    return {"name": _physical(args)}


@computed_outputs("aws:rds/instance:Instance")
def _db_instance(args: MockResourceArgs) -> Mapping[str, Any]:
    identifier = _physical(args, "identifier")
    host = f"{identifier}.c9akciq32.{REGION}.rds.amazonaws.com"
    secrets = []
    if args.inputs.get("manageMasterUserPassword"):
        secrets = [
            {
                "secretArn": _arn("secretsmanager", f"secret:rds!db-{identifier}-AbCdEf"),
                "secretStatus": "active",
                "kmsKeyId": args.inputs.get("masterUserSecretKmsKeyId"),
            }
        ]
    return {
        "address": host,
        "endpoint": f"{host}:5432",
        "arn": _arn("rds", f"db:{identifier}"),
        "masterUserSecrets": secrets,
    }


@computed_outputs("aws:secretsmanager/secret:Secret")
def _secret(args: MockResourceArgs) -> Mapping[str, Any]:
    name = _physical(args)
    return {"name": name, "arn": _arn("secretsmanager", f"secret:{name}-AbCdEf")}


@invoke_result("aws:index/getAvailabilityZones:getAvailabilityZones")
def _zones(args: Mapping[str, Any]) -> Mapping[str, Any]:
    assert args.get("state") == "available", args
    return {
        "id": REGION,
        "names": ZONES,
        "zoneIds": ["euw1-az1", "euw1-az2", "euw1-az3"],
        "groupNames": [REGION],
    }


@invoke_result("aws:index/getCallerIdentity:getCallerIdentity")
def _caller(args: Mapping[str, Any]) -> Mapping[str, Any]:
    return {
        "accountId": ACCOUNT_ID,
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/deployer",
        "userId": "AROAEXAMPLE:deployer",
        "id": ACCOUNT_ID,
    }
