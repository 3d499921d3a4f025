"""One EKS managed node group with its launch template (IMDSv2, encrypted root volume, tags) and
the Auto Scaling group tags the Cluster Autoscaler reads to scale it from zero."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from infra.aws.config import NodeGroupConfig
from infra.scheduling import Taint

AmiType = Literal["AL2023_x86_64_STANDARD", "AL2023_x86_64_NVIDIA"]

#: Kubernetes taint effects as the EKS API spells them.
_EKS_EFFECT = {
    "NoSchedule": "NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
}

#: The Cluster Autoscaler's auto-discovery tags (``--node-group-auto-discovery=asg:tag=...``).
AUTOSCALER_ENABLED_TAG = "k8s.io/cluster-autoscaler/enabled"


def autoscaler_owner_tag(cluster_name: str) -> str:
    return f"k8s.io/cluster-autoscaler/{cluster_name}"


def node_template_tags(labels: Mapping[str, str], taints: Sequence[Taint]) -> dict[str, str]:
    """``k8s.io/cluster-autoscaler/node-template/...`` tags: what a node of an empty group would
    look like, so the autoscaler can scale a tainted, labelled group up from zero nodes."""
    tags = {f"k8s.io/cluster-autoscaler/node-template/label/{k}": v for k, v in labels.items()}
    tags.update(
        {
            f"k8s.io/cluster-autoscaler/node-template/taint/{t.key}": f"{t.value}:{t.effect}"
            for t in taints
        }
    )
    return tags


@dataclass(frozen=True)
class NodeGroupArgs:
    cluster_name: pulumi.Input[str]
    node_role_arn: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    config: NodeGroupConfig
    tags: Mapping[str, str]
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    ami_type: AmiType = "AL2023_x86_64_STANDARD"
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Taint] = ()
    #: Resources the nodes need before they join (e.g. the VPC CNI add-on).
    depends_on: Sequence[pulumi.Resource] = ()


class NodeGroup(pulumi.ComponentResource):
    """A managed node group; the desired size is left to the cluster autoscaler after creation."""

    node_group: aws.eks.NodeGroup

    def __init__(
        self, name: str, args: NodeGroupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:aws:NodeGroup", name, None, opts)
        config = args.config
        tags = {**args.tags, "Name": name}

        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"Stratus node group {name}",
            update_default_version=True,
            # IMDSv2 only, hop limit 1: pods cannot reach the node's metadata (and its role);
            # they get their own credentials through IRSA.
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=config.disk_size_gib,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.node_group = aws.eks.NodeGroup(
            f"{name}-ng",
            cluster_name=args.cluster_name,
            node_role_arn=args.node_role_arn,
            subnet_ids=list(args.subnet_ids),
            capacity_type=args.capacity_type,
            ami_type=args.ami_type,
            instance_types=list(config.instance_types),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=config.min_size, max_size=config.max_size, desired_size=config.desired_size
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable_percentage=33),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            labels=dict(args.labels),
            taints=[
                aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value, effect=_EKS_EFFECT[t.effect])
                for t in args.taints
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(args.depends_on),
                ignore_changes=["scalingConfig.desiredSize"],
            ),
        )

        # EKS tags the group's Auto Scaling group for auto-discovery itself, but not with the
        # node template: without it a group at zero nodes never scales up for a pod that needs
        # its labels or tolerates its taints.
        if config.min_size == 0:
            asg_name = self.node_group.resources.apply(_first_asg_name)
            for index, (key, value) in enumerate(
                sorted(node_template_tags(args.labels, args.taints).items())
            ):
                aws.autoscaling.Tag(
                    f"{name}-asg-tag-{index}",
                    autoscaling_group_name=asg_name,
                    tag=aws.autoscaling.TagTagArgs(key=key, value=value, propagate_at_launch=False),
                    opts=pulumi.ResourceOptions(parent=self),
                )
        self.register_outputs({"nodeGroupArn": self.node_group.arn})


def _first_asg_name(resources: Sequence[aws.eks.outputs.NodeGroupResource] | None) -> str:
    for resource in resources or []:
        for group in resource.autoscaling_groups or []:
            if group.name:
                return group.name
    raise ValueError("EKS reported no Auto Scaling group for the node group")
