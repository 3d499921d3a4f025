"""The AWS foundation: network, EKS, ECR, S3, the MLflow database, secrets and identities.

``build_stack(identity)`` is what ``platform/infra/program.py`` calls for ``aws-<env>`` stacks; it
exports the foundation contract (:mod:`infra.foundation`).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra.aws.budget import Budget, BudgetArgs
from infra.aws.cluster import STORAGE_CLASS, Cluster, ClusterArgs
from infra.aws.config import AwsConfig, NodeGroupConfig
from infra.aws.database import Database, DatabaseArgs
from infra.aws.delivery import DeliveryIdentities, DeliveryIdentitiesArgs
from infra.aws.identity import WorkloadIdentities, WorkloadIdentityArgs
from infra.aws.network import Network, NetworkArgs
from infra.aws.registry import Registry, RegistryArgs
from infra.aws.secrets import PlatformSecrets, PlatformSecretsArgs
from infra.aws.storage import Storage, StorageArgs
from infra.config import StackIdentity, StratusConfigError, read_section
from infra.delivery import read_repository, subjects
from infra.foundation import AWS_ADDON_WORKLOADS, WORKLOADS, CloudFoundation, scheduling_for
from infra.machines import aws_shape, smallest

__all__ = ["build_stack", "ingress", "read_config", "read_region"]


def read_config() -> AwsConfig:
    config = read_section("aws", AwsConfig, required=True)
    assert config is not None
    config.budget.require_recipients("aws")
    return config


def read_region() -> str:
    region = pulumi.Config("aws").get("region")
    if not region:
        raise StratusConfigError(
            "aws:region: required, the AWS region of the stack (e.g. 'eu-west-1')"
        )
    return region


def caller_role_name(caller_arn: str) -> str | None:
    """The IAM role behind a caller ARN (``arn:aws:sts::1:assumed-role/NAME/session`` or
    ``arn:aws:iam::1:role/path/NAME``), ``None`` for users and root."""
    resource = caller_arn.split(":", 5)[-1]
    if resource.startswith("assumed-role/"):
        return resource.split("/")[1]
    if resource.startswith("role/"):
        return resource.rsplit("/", 1)[-1]
    return None


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


def _check_admin_entries(config: AwsConfig) -> None:
    """EKS creates an access entry for the creator when ``bootstrapCreatorAdmin`` is on; a second
    entry for the same role (from ``adminRoleArns``) makes the cluster creation fail."""
    if not config.cluster.bootstrap_creator_admin or not config.cluster.admin_role_arns:
        return
    caller = aws.get_caller_identity()
    role = caller_role_name(caller.arn)
    clashing = [arn for arn in config.cluster.admin_role_arns if arn.rsplit("/", 1)[-1] == role]
    if clashing:
        raise StratusConfigError(
            f"stratus:aws.cluster.adminRoleArns: {clashing[0]} is the role running this "
            f"deployment ({caller.arn}), which bootstrapCreatorAdmin already makes cluster "
            "admin; EKS rejects a second access entry for it. Remove it from adminRoleArns, or "
            "set stratus:aws.cluster.bootstrapCreatorAdmin to false"
        )


def ingress(tags: dict[str, str]) -> dict[str, Any]:
    """Traefik (installed by the in-cluster layer) behind an internet-facing NLB that the AWS Load
    Balancer Controller creates for its Service, targeting pod IPs, tagged like everything else.

    Not an ALB: an ALB terminates TLS only with ACM certificates, while the platform's TLS comes
    from cert-manager in the cluster, the same on both clouds (a DNS name shared by both clouds
    cannot wait for one cloud's certificate service).
    """
    tag_list = ",".join(f"{key}={value}" for key, value in sorted(tags.items()))
    return {
        "className": "traefik",
        "controller": "traefik",
        "namespace": "traefik",
        "annotations": {},
        "serviceAnnotations": {
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
            "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags": tag_list,
        },
    }


def pool_info(group: NodeGroupConfig, *, spot: bool) -> dict[str, Any]:
    shape = smallest([aws_shape(t) for t in group.instance_types])
    return {
        "minSize": group.min_size,
        "maxSize": group.max_size,
        "desiredSize": group.desired_size,
        "machineTypes": list(group.instance_types),
        "spot": spot,
        "nodeVcpus": shape.vcpus if shape else None,
        "nodeMemoryGib": shape.memory_gib if shape else None,
    }


def build_stack(identity: StackIdentity) -> CloudFoundation:
    """Build the AWS foundation of ``identity``'s stack and export its contract."""
    config = read_config()
    region = read_region()
    _check_consistency(config, region)
    _check_admin_entries(config)
    tags = identity.tags("aws")
    base = identity.base_name

    network = Network(
        f"{base}-network", NetworkArgs(config=config.network, region=region, tags=tags)
    )
    cluster = Cluster(
        f"{base}-cluster",
        ClusterArgs(
            cluster_name=base,
            config=config.cluster,
            region=region,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            deployer_security_group_id=network.deployer_security_group_id,
            service_cidr=config.network.service_cidr,
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
            identifier=f"{base}-mlflow",
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            client_security_group_id=cluster.security_group_id,
            tags=tags,
        ),
    )
    secrets = PlatformSecrets(
        f"{base}-platform-secrets",
        PlatformSecretsArgs(
            prefix=base,
            recovery_window_days=30 if identity.is_prod else 7,
            tags=tags,
        ),
    )
    identities = WorkloadIdentities(
        f"{base}-workloads",
        WorkloadIdentityArgs(
            oidc=cluster.oidc,
            cluster_name=base,
            bucket_arns={store: bucket.arn for store, bucket in storage.buckets.items()},
            storage_key_arn=storage.key_arn,
            secret_arns=[database.secret_arn, secrets.api_keys_arn],
            secret_key_arns=[database.key_arn, secrets.key_arn],
            tags=tags,
        ),
    )

    def store_url(store: str) -> pulumi.Output[str]:
        return storage.buckets[store].bucket.apply(lambda bucket: f"s3://{bucket}")

    pools = {
        "system": pool_info(config.cluster.node_groups.system, spot=False),
        "api": pool_info(config.cluster.node_groups.api, spot=False),
        "training": pool_info(config.cluster.node_groups.training, spot=True),
    }
    if config.cluster.node_groups.gpu is not None:
        pools["gpu"] = pool_info(config.cluster.node_groups.gpu, spot=False)

    if config.delivery.enabled:
        delivery = DeliveryIdentities(
            f"{base}-delivery",
            DeliveryIdentitiesArgs(
                subjects=subjects(read_repository(), config.delivery, identity.environment),
                cluster_name=cluster.name,
                repository_arns=list(registry.arns.values()),
                registry_key_arn=registry.key_arn,
                existing_provider_arn=config.delivery.github_oidc_provider_arn,
                account_id=account_id,
                name_prefix=f"{base}-",
                tags=tags,
            ),
        )
        # For the workflow maintainers (GitHub variables), not part of the contract.
        pulumi.export(
            "delivery", {f"{role}RoleArn": arn for role, arn in delivery.role_arns.items()}
        )

    if config.budget.enabled:
        Budget(
            f"{base}-budget",
            BudgetArgs(
                config=config.budget, budget_name=f"{base}-monthly", stack=identity.stack, tags=tags
            ),
        )

    foundation = CloudFoundation(
        cloud="aws",
        environment=identity.environment,
        region=region,
        cluster={
            "name": cluster.name,
            "kubernetesVersion": cluster.version,
            "endpoint": cluster.endpoint,
            "oidcIssuerUrl": cluster.oidc.issuer_url,
        },
        kubeconfig=cluster.kubeconfig,
        registry={
            "server": registry.urls["api"].apply(lambda url: url.split("/", 1)[0]),
            "api": registry.urls["api"],
            "training": registry.urls["training"],
        },
        stores={
            "dataRaw": store_url("data_raw"),
            "dataProcessed": store_url("data_processed"),
            "models": store_url("models"),
            "mlflowArtifacts": store_url("mlflow_artifacts"),
            "mlflowArtifactsUri": store_url("mlflow_artifacts"),
            "storageOptions": {},
            "environment": {"AWS_REGION": region, "AWS_DEFAULT_REGION": region},
        },
        database={
            "host": database.host,
            "port": database.port,
            "name": database.name,
            "user": database.user,
            "sslMode": "require",
            "password": {
                "store": "aws-secrets-manager",
                "name": database.secret_arn,
                "property": "password",
            },
        },
        secret_store={
            "kind": "aws-secrets-manager",
            "region": region,
            "apiKeys": {"store": "aws-secrets-manager", "name": secrets.api_keys_name},
        },
        identities={
            workload: {
                "namespace": namespace,
                "serviceAccount": service_account,
                "annotations": identities.annotations(workload),
                "podLabels": {},
            }
            for workload, (namespace, service_account) in {
                **WORKLOADS,
                **AWS_ADDON_WORKLOADS,
            }.items()
        },
        ingress=ingress(tags),
        storage_class=STORAGE_CLASS,
        scheduling=scheduling_for(pools),
        pools=pools,
        network={
            "id": network.vpc_id,
            "cidrs": [config.network.cidr],
            "podCidr": None,  # the VPC CNI gives pods VPC addresses
            "serviceCidr": config.network.service_cidr,
            "details": {
                "privateSubnetIds": network.private_subnet_ids,
                "privateRouteTableIds": network.private_route_table_ids,
                "deployerSecurityGroupId": network.deployer_security_group_id,
                "clusterSecurityGroupId": cluster.security_group_id,
            },
        },
        capabilities={
            "metricsServer": "install",
            "clusterAutoscaler": "install",
            "gpuDevicePlugin": "install",
            "loadBalancerController": "install",
        },
    )
    foundation.export()
    return foundation
