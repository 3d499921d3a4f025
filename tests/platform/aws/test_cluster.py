"""EKS: private endpoint, KMS secrets, logs, access entries, OIDC, node groups, add-ons."""

from __future__ import annotations

import json

import pytest

from infra.aws import caller_role_name
from infra.config import StratusConfigError
from infra.offline import StackRun, run_stack
from infra.offline.aws import ACCOUNT_ID, OIDC_ISSUER, REGION
from tests.platform.aws.conftest import aws_section, stack_file

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def test_api_endpoint_is_private(stack: StackRun) -> None:
    vpc = stack.one(CLUSTER).inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc


def test_public_endpoint_only_for_the_allow_list() -> None:
    section = aws_section("aws-dev")
    section["cluster"]["publicAccessCidrs"] = ["198.51.100.0/24"]
    run = run_stack("aws-dev", override={"stratus:aws": section})
    vpc = run.one(CLUSTER).inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["198.51.100.0/24"]


def test_control_plane_is_in_the_private_subnets(stack: StackRun) -> None:
    private = sorted(
        f"{s.name}-id" for s in stack.of_type("aws:ec2/subnet:Subnet") if "private" in s.name
    )
    assert sorted(stack.one(CLUSTER).inputs["vpcConfig"]["subnetIds"]) == private


def test_secrets_are_encrypted_with_a_rotated_kms_key(stack: StackRun) -> None:
    encryption = stack.one(CLUSTER).inputs["encryptionConfig"]
    assert encryption["resources"] == ["secrets"]
    key = stack.one("aws:kms/key:Key", "cluster-secrets-key")
    assert (
        encryption["provider"]["keyArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key.name}-id"
    )
    assert key.inputs["enableKeyRotation"] is True


def test_all_control_plane_log_types_with_retention(stack: StackRun) -> None:
    cluster = stack.one(CLUSTER)
    assert sorted(cluster.inputs["enabledClusterLogTypes"]) == sorted(
        ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    )
    name = cluster.inputs["name"]
    logs = stack.one("aws:cloudwatch/logGroup:LogGroup", "control-plane-logs")
    assert logs.inputs["name"] == f"/aws/eks/{name}/cluster"
    expected = stack_file(stack.stack)["stratus:aws"]["cluster"]["logRetentionDays"]
    assert logs.inputs["retentionInDays"] == expected


def test_access_entries_and_version_from_config(stack: StackRun) -> None:
    cluster = stack.one(CLUSTER).inputs
    config = stack_file(stack.stack)["stratus:aws"]["cluster"]
    assert cluster["accessConfig"]["authenticationMode"] == "API"
    assert cluster["version"] == config["kubernetesVersion"]
    assert cluster["bootstrapSelfManagedAddons"] is False
    assert cluster["deletionProtection"] is config["deletionProtection"]


def test_admin_roles_get_cluster_admin_access_entries() -> None:
    section = aws_section("aws-prod")
    admin = f"arn:aws:iam::{ACCOUNT_ID}:role/platform-admins"
    section["cluster"]["adminRoleArns"] = [admin]
    run = run_stack("aws-prod", override={"stratus:aws": section})
    entry = run.one("aws:eks/accessEntry:AccessEntry", "cluster-admin")
    assert entry.inputs["principalArn"] == admin
    assert entry.inputs["type"] == "STANDARD"
    association = run.one(
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "cluster-admin"
    )
    assert association.inputs["policyArn"].endswith("/AmazonEKSClusterAdminPolicy")
    assert association.inputs["accessScope"] == {"type": "cluster"}
    assert association.inputs["principalArn"] == admin


def test_oidc_provider_for_workload_identity(stack: StackRun) -> None:
    provider = stack.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "cluster-oidc")
    assert provider.inputs["url"] == OIDC_ISSUER
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]


def _groups(run: StackRun) -> dict[str, dict]:
    return {g.inputs["tags"]["stratus-node-group"]: dict(g.inputs) for g in run.of_type(NODE_GROUP)}


def test_node_groups_follow_the_config(stack: StackRun) -> None:
    config = stack_file(stack.stack)["stratus:aws"]["cluster"]["nodeGroups"]
    groups = _groups(stack)
    assert set(groups) == set(config)
    for role, group in groups.items():
        expected = config[role]
        assert group["instanceTypes"] == expected["instanceTypes"]
        assert group["scalingConfig"] == {
            "minSize": expected["minSize"],
            "maxSize": expected["maxSize"],
            "desiredSize": expected["desiredSize"],
        }
        assert group["labels"]["stratus.io/pool"] == role
        assert group["clusterName"] == stack.one(CLUSTER).inputs["name"]


def test_training_group_is_spot_and_tainted(stack: StackRun) -> None:
    training = _groups(stack)["training"]
    assert training["capacityType"] == "SPOT"
    assert training["labels"] == {"stratus.io/pool": "training", "stratus.io/capacity": "spot"}
    assert training["taints"] == [
        {"key": "stratus.io/pool", "value": "training", "effect": "NO_SCHEDULE"}
    ]


def test_system_group_is_kept_for_add_ons_and_api_group_is_untainted(stack: StackRun) -> None:
    groups = _groups(stack)
    assert groups["system"]["capacityType"] == "ON_DEMAND"
    assert groups["system"]["taints"] == [
        {"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}
    ]
    assert groups["api"]["capacityType"] == "ON_DEMAND"
    assert groups["api"].get("taints", []) == []


def test_gpu_group_only_in_prod_with_gpu_ami_taint_and_label(dev: StackRun, prod: StackRun) -> None:
    assert "gpu" not in _groups(dev)
    gpu = _groups(prod)["gpu"]
    assert gpu["amiType"] == "AL2023_x86_64_NVIDIA"
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert gpu["labels"]["stratus.io/pool"] == "gpu"


def test_node_groups_carry_the_cluster_autoscaler_discovery_tags(stack: StackRun) -> None:
    name = stack.one(CLUSTER).inputs["name"]
    for group in stack.of_type(NODE_GROUP):
        assert group.inputs["tags"]["k8s.io/cluster-autoscaler/enabled"] == "true"
        assert group.inputs["tags"][f"k8s.io/cluster-autoscaler/{name}"] == "owned"


def test_groups_that_start_empty_tell_the_autoscaler_their_labels_and_taints(
    stack: StackRun,
) -> None:
    """A group at zero nodes scales up only if its Auto Scaling group describes the node."""
    tags: dict[str, dict[str, str]] = {}
    for tag in stack.of_type("aws:autoscaling/tag:Tag"):
        group = tag.inputs["autoscalingGroupName"]
        tags.setdefault(group, {})[tag.inputs["tag"]["key"]] = tag.inputs["tag"]["value"]
        assert tag.inputs["tag"]["propagateAtLaunch"] is False
    training_asg = next(g for g in tags if "-training-ng" in g)
    assert tags[training_asg] == {
        "k8s.io/cluster-autoscaler/node-template/label/stratus.io/pool": "training",
        "k8s.io/cluster-autoscaler/node-template/label/stratus.io/capacity": "spot",
        "k8s.io/cluster-autoscaler/node-template/taint/stratus.io/pool": "training:NoSchedule",
    }
    # Only the groups whose minimum is zero need it (training; gpu in prod).
    zero_min = {role for role, g in _groups(stack).items() if g["scalingConfig"]["minSize"] == 0}
    assert {g.split("-ng")[0].rsplit("-", 1)[-1] for g in tags} == zero_min


def test_nodes_use_imdsv2_and_encrypted_root_volumes(stack: StackRun) -> None:
    config = stack_file(stack.stack)["stratus:aws"]["cluster"]["nodeGroups"]
    templates = {t.name: t.inputs for t in stack.of_type("aws:ec2/launchTemplate:LaunchTemplate")}
    assert len(templates) == len(config)
    for group in stack.of_type(NODE_GROUP):
        template = templates[group.inputs["launchTemplate"]["id"].removesuffix("-id")]
        assert template["metadataOptions"]["httpTokens"] == "required"
        # Pods must not reach the node role through the metadata service (they use IRSA).
        assert template["metadataOptions"]["httpPutResponseHopLimit"] == 1
        (disk,) = template["blockDeviceMappings"]
        assert disk["ebs"]["encrypted"] == "true"
        role = group.inputs["tags"]["stratus-node-group"]
        assert disk["ebs"]["volumeSize"] == config[role].get("diskSizeGib", 50)


def test_core_addons_with_irsa_for_cni_and_ebs(stack: StackRun) -> None:
    addons = {a.inputs["addonName"]: a.inputs for a in stack.of_type("aws:eks/addon:Addon")}
    assert set(addons) == {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver"}
    roles = {r.name: r for r in stack.of_type("aws:iam/role:Role")}
    for addon, account in (
        ("vpc-cni", "aws-node"),
        ("aws-ebs-csi-driver", "ebs-csi-controller-sa"),
    ):
        role_name = (
            addons[addon]["serviceAccountRoleArn"].rsplit("/", 1)[1].removesuffix("-a1b2c3d")
        )
        trust = json.loads(roles[role_name].inputs["assumeRolePolicy"])
        condition = trust["Statement"][0]["Condition"]["StringEquals"]
        assert f"system:serviceaccount:kube-system:{account}" in condition.values()
    ebs_config = json.loads(addons["aws-ebs-csi-driver"]["configurationValues"])
    assert ebs_config == {"defaultStorageClass": {"enabled": True}}


def test_vpc_cni_enforces_network_policies(stack: StackRun) -> None:
    cni = next(
        a for a in stack.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "vpc-cni"
    )
    assert json.loads(cni.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}


def test_kubeconfig_authenticates_with_aws_eks_get_token(stack: StackRun) -> None:
    assert "kubeconfig" in stack.secret_outputs
    kubeconfig = json.loads(stack.outputs["kubeconfig"])
    name = stack.one(CLUSTER).inputs["name"]
    (cluster,) = kubeconfig["clusters"]
    assert cluster["cluster"]["server"].startswith("https://")
    assert cluster["cluster"]["certificate-authority-data"]
    (user,) = kubeconfig["users"]
    assert user["user"]["exec"]["command"] == "aws"
    assert user["user"]["exec"]["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        name,
        "--region",
        stack_file(stack.stack)["aws:region"],
    ]
    # The foundation creates no Kubernetes objects: no Kubernetes provider either.
    assert stack.of_type("pulumi:providers:kubernetes") == []


def test_node_role_has_only_the_node_policies(stack: StackRun) -> None:
    node_role = stack.one("aws:iam/role:Role", "node-role").name
    attached = [
        a.inputs["policyArn"]
        for a in stack.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == f"{node_role}-a1b2c3d"
    ]
    assert sorted(attached) == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    ]


def test_deployers_reach_the_private_api_on_443(stack: StackRun) -> None:
    """The cluster's extra security group admits the deployer security group (runners in the
    VPC) on 443; nothing else reaches the private endpoint from the VPC but the nodes."""
    vpc = stack.one(CLUSTER).inputs["vpcConfig"]
    (api_group_id,) = vpc["securityGroupIds"]
    api_group = next(
        g
        for g in stack.of_type("aws:ec2/securityGroup:SecurityGroup")
        if f"{g.name}-id" == api_group_id
    )
    deployer = stack.one("aws:ec2/securityGroup:SecurityGroup", "deployer-sg")
    (rule,) = api_group.inputs["ingress"]
    assert (rule["protocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443)
    assert rule["securityGroups"] == [f"{deployer.name}-id"]
    assert stack.outputs["network"]["details"]["deployerSecurityGroupId"] == f"{deployer.name}-id"


def test_deployer_networks_from_config_reach_the_private_api() -> None:
    section = aws_section("aws-dev")
    section["cluster"]["deployerCidrs"] = ["10.99.0.0/16"]
    run = run_stack("aws-dev", override={"stratus:aws": section})
    api_group = run.one("aws:ec2/securityGroup:SecurityGroup", "cluster-api-access")
    by_source = {tuple(r.get("cidrBlocks") or []): r for r in api_group.inputs["ingress"]}
    assert by_source[("10.99.0.0/16",)]["fromPort"] == 443
    # The private endpoint stays private.
    assert run.one(CLUSTER).inputs["vpcConfig"]["endpointPublicAccess"] is False


def test_service_range_comes_from_config(stack: StackRun) -> None:
    config = stack_file(stack.stack)["stratus:aws"]["network"]
    network = stack.one(CLUSTER).inputs["kubernetesNetworkConfig"]
    assert network == {"serviceIpv4Cidr": config["serviceCidr"], "ipFamily": "ipv4"}


def test_the_deploying_role_in_admin_roles_is_rejected_before_anything_is_created() -> None:
    """EKS makes the creator admin (bootstrapCreatorAdmin) and rejects a second access entry
    for the same role: a config listing the deploying role fails at config time."""
    section = aws_section("aws-dev")
    # The mocked caller is arn:aws:iam::123456789012:role/deployer.
    section["cluster"]["adminRoleArns"] = [f"arn:aws:iam::{ACCOUNT_ID}:role/ci/deployer"]
    with pytest.raises(StratusConfigError, match=r"adminRoleArns: .*role/ci/deployer is the role"):
        run_stack("aws-dev", override={"stratus:aws": section})
    section["cluster"]["bootstrapCreatorAdmin"] = False
    run = run_stack("aws-dev", override={"stratus:aws": section})
    assert (
        run.one(CLUSTER).inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False
    )
    assert (
        run.one("aws:eks/accessEntry:AccessEntry", "cluster-admin")
        .inputs["principalArn"]
        .endswith("/deployer")
    )


@pytest.mark.parametrize(
    ("caller", "role"),
    [
        ("arn:aws:sts::123456789012:assumed-role/deployer/gh-actions-42", "deployer"),
        ("arn:aws:iam::123456789012:role/ci/deployer", "deployer"),
        ("arn:aws:iam::123456789012:user/alice", None),
    ],
)
def test_caller_role_name(caller: str, role: str | None) -> None:
    assert caller_role_name(caller) == role
