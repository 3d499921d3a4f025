"""The AWS foundation: network, EKS, ECR, S3, the MLflow database and workload identity.

``build_stack(identity)`` is what ``platform/infra/program.py`` calls for ``aws-<env>`` stacks.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.aws.cluster import STORAGE_CLASS, Cluster, ClusterArgs
from infra.aws.config import AwsConfig
from infra.aws.database import Database, DatabaseArgs
from infra.aws.identity import WorkloadIdentities, WorkloadIdentityArgs
from infra.aws.network import Network, NetworkArgs
from infra.aws.registry import Registry, RegistryArgs
from infra.aws.storage import Storage, StorageArgs
from infra.config import StackIdentity, StratusConfigError, read_section
from infra.foundation import (
    WORKLOADS,
    CloudFoundation,
    Ingress,
    ObjectStores,
    WorkloadIdentity,
)
from infra.foundation import Database as DatabaseResult
from infra.foundation import Registry as RegistryResult

__all__ = ["build_stack", "ingress", "read_config", "read_region"]


def read_config() -> AwsConfig:
    config = read_section("aws", AwsConfig, required=True)
    assert config is not None
    return config


def read_region() -> str:
    region = pulumi.Config("aws").get("region")
    if not region:
        raise StratusConfigError(
            "aws:region: required, the AWS region of the stack (e.g. 'eu-west-1')"
        )
    return region


def _check_consistency(config: AwsConfig, region: str) -> None:
    """Rules that span keys; each names the key to change."""
    replica = config.storage.model_replication_region
    if replica == region:
        raise StratusConfigError(
            "stratus:aws.storage.modelReplicationRegion: expected a region other than "
            f"aws:region ({region!r}), the replica protects against the loss of that region"
        )
    zones = config.network.availability_zones or []
    foreign = [zone for zone in zones if not zone.startswith(region)]
    if foreign:
        raise StratusConfigError(
            f"stratus:aws.network.availabilityZones: {foreign} are not in aws:region {region!r}"
        )


def ingress(tags: dict[str, str]) -> Ingress:
    """AWS Load Balancer Controller annotations: an internet-facing ALB (Ingress) or NLB
    (Service) targeting pod IPs, tagged like everything else."""
    tag_list = ",".join(f"{key}={value}" for key, value in sorted(tags.items()))
    return Ingress(
        class_name="alb",
        annotations={
            "alb.ingress.kubernetes.io/scheme": "internet-facing",
            "alb.ingress.kubernetes.io/target-type": "ip",
            "alb.ingress.kubernetes.io/tags": tag_list,
        },
        service_annotations={
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
            "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags": tag_list,
        },
    )


def build_stack(identity: StackIdentity) -> CloudFoundation:
    """Build the AWS foundation of ``identity``'s stack and export its outputs."""
    config = read_config()
    region = read_region()
    _check_consistency(config, region)
    tags = identity.tags("aws")
    base = f"{identity.project}-{identity.environment}"

    network = Network(
        f"{base}-network", NetworkArgs(config=config.network, region=region, tags=tags)
    )
    cluster = Cluster(
        f"{base}-cluster",
        ClusterArgs(
            cluster_name=base,
            config=config.cluster,
            region=region,
            subnet_ids=network.private_subnet_ids,
            tags=tags,
        ),
    )
    registry = Registry(
        f"{base}-registry", RegistryArgs(prefix=base, config=config.registry, tags=tags)
    )
    account_id = aws.get_caller_identity_output().account_id
    storage = Storage(
        f"{base}-storage", StorageArgs(config=config.storage, account_id=account_id, tags=tags)
    )
    database = Database(
        f"{base}-mlflow-db",
        DatabaseArgs(
            config=config.database,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            client_security_group_id=cluster.security_group_id,
            tags=tags,
        ),
    )
    identities = WorkloadIdentities(
        f"{base}-workloads",
        WorkloadIdentityArgs(
            oidc=cluster.oidc,
            namespace=config.workloads.namespace,
            bucket_arns={store: bucket.arn for store, bucket in storage.buckets.items()},
            storage_key_arn=storage.key_arn,
            tags=tags,
        ),
    )
    provider = k8s.Provider(
        f"{base}-k8s",
        kubeconfig=cluster.kubeconfig,
        opts=pulumi.ResourceOptions(depends_on=list(cluster.node_groups.values())),
    )

    def store_url(store: str) -> pulumi.Output[str]:
        return storage.buckets[store].bucket.apply(lambda bucket: f"s3://{bucket}")

    foundation = CloudFoundation(
        cloud="aws",
        region=region,
        cluster_name=cluster.name,
        kubeconfig=cluster.kubeconfig,
        k8s_provider=provider,
        registry=RegistryResult(api=registry.urls["api"], training=registry.urls["training"]),
        stores=ObjectStores(
            data_raw=store_url("data_raw"),
            data_processed=store_url("data_processed"),
            models=store_url("models"),
            mlflow_artifacts=store_url("mlflow_artifacts"),
            storage_options=pulumi.Output.from_input({}),
        ),
        database=DatabaseResult(
            host=database.host,
            port=database.port,
            name=database.name,
            user=database.user,
            dsn=database.dsn,
        ),
        workload_identities={
            workload: WorkloadIdentity(
                service_account=workload,
                namespace=config.workloads.namespace,
                service_account_annotations=identities.annotations(workload),
            )
            for workload in WORKLOADS
        },
        ingress=ingress(tags),
        storage_class=STORAGE_CLASS,
    )
    foundation.export()
    pulumi.export("vpcId", network.vpc_id)
    pulumi.export("clusterEndpoint", cluster.endpoint)
    pulumi.export("databaseSecretArn", database.secret_arn)
    pulumi.export("workloadRoleArns", identities.role_arns)
    return foundation
