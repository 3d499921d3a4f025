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


# --- the global layer: Route 53, the ingress load balancers, the site-to-site VPN ---------------

#: The hosted zone id an existing zone is looked up by in offline runs, and its name.
EXISTING_ZONE_ID = "Z0EXISTINGZONE01"
EXISTING_ZONE_NAME = "ml.example.org"
#: Route 53's canonical hosted zone ids of Network Load Balancers, per region (AWS's table).
NLB_HOSTED_ZONE_IDS = {"eu-west-1": "Z2IFOLAFXWLO4F", "eu-central-1": "Z3F0SRJ5LGBH90"}
#: The public IPs of an internet-facing NLB's nodes, one per zone (documentation range).
NLB_NODE_IPS = ["203.0.113.10", "203.0.113.11", "203.0.113.12"]


@computed_outputs("aws:route53/zone:Zone")
def _hosted_zone(args: MockResourceArgs) -> Mapping[str, Any]:
    zone_id = "Z0" + "".join(c for c in args.name.upper() if c.isalnum())[:18]
    return {
        "zoneId": zone_id,
        "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
        "nameServers": [
            "ns-101.awsdns-12.com",
            "ns-1402.awsdns-47.org",
            "ns-1971.awsdns-54.co.uk",
            "ns-645.awsdns-16.net",
        ],
    }


@computed_outputs("aws:route53/record:Record")
def _record(args: MockResourceArgs) -> Mapping[str, Any]:
    return {"fqdn": str(args.inputs.get("name", ""))}


@computed_outputs("aws:ec2/vpnConnection:VpnConnection")
def _vpn_connection(args: MockResourceArgs) -> Mapping[str, Any]:
    outputs: dict[str, Any] = {
        "tunnel1Address": "192.0.2.11",
        "tunnel2Address": "192.0.2.12",
        "arn": _arn("ec2", f"vpn-connection/{args.name}-id"),
    }
    for tunnel, default in ((1, "169.254.44.0/30"), (2, "169.254.45.0/30")):
        inside = str(args.inputs.get(f"tunnel{tunnel}InsideCidr") or default)
        prefix = inside.rsplit(".", 1)[0]
        outputs[f"tunnel{tunnel}VgwInsideAddress"] = f"{prefix}.1"
        outputs[f"tunnel{tunnel}CgwInsideAddress"] = f"{prefix}.2"
    return outputs


@invoke_result("aws:route53/getZone:getZone")
def _get_zone(args: Mapping[str, Any]) -> Mapping[str, Any]:
    zone_id = args.get("zoneId")
    name = EXISTING_ZONE_NAME if zone_id == EXISTING_ZONE_ID else "elsewhere.example.com"
    return {"id": zone_id, "zoneId": zone_id, "name": name, "nameServers": [], "tags": {}}


@invoke_result("aws:lb/getHostedZoneId:getHostedZoneId")
def _lb_hosted_zone(args: Mapping[str, Any]) -> Mapping[str, Any]:
    assert args.get("loadBalancerType") == "network", args
    return {"id": NLB_HOSTED_ZONE_IDS[str(args.get("region") or REGION)]}


@invoke_result("aws:ec2/getNetworkInterfaces:getNetworkInterfaces")
def _interfaces(args: Mapping[str, Any]) -> Mapping[str, Any]:
    (description,) = [f["values"][0] for f in args.get("filters", []) if f["name"] == "description"]
    assert description.startswith("ELB net/"), description
    return {"id": REGION, "ids": [f"eni-0nlb{index}" for index in range(len(NLB_NODE_IPS))]}


@invoke_result("aws:ec2/getNetworkInterface:getNetworkInterface")
def _interface(args: Mapping[str, Any]) -> Mapping[str, Any]:
    index = int(str(args["id"]).removeprefix("eni-0nlb"))
    return {
        "id": args["id"],
        "associations": [{"publicIp": NLB_NODE_IPS[index], "publicDnsName": ""}],
    }
