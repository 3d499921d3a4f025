"""The in-cluster layer (``<cloud>-<env>-apps`` stacks), the same code on both clouds.

It reads its foundation's contract through a ``StackReference`` (``stratus:pulumiOrg``, the
project, and ``stratus:foundationStack`` or ``<cloud>-<env>``), builds its Kubernetes provider
from the contract's kubeconfig, and never asks which cloud it runs on: everything cloud-specific
comes from the contract's values. It deploys the cluster add-ons, the platform namespaces (with
their quotas, network policies and service accounts), the MLflow tracking server, the training
CronJob and the blue/green ML API with its Ingress.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from app.core.config import Settings as ServiceSettings
from infra.config import (
    NAMESPACE,
    StackIdentity,
    StratusConfigError,
    missing_org_value,
    read_pulumi_org,
    read_section,
)
from infra.foundation import FoundationContract, FoundationOutputs, reference_foundation
from infra.k8s import network
from infra.k8s.addons import ClusterAddons, ClusterAddonsArgs
from infra.k8s.api import API_KEYS_FILE, MlApi, MlApiArgs, image_ref
from infra.k8s.api import NAME as API_NAME
from infra.k8s.api import PORT as API_PORT
from infra.k8s.capacity import check_api_capacity
from infra.k8s.config import AppsConfig
from infra.k8s.labels import standard_labels
from infra.k8s.mlflow import PORT as MLFLOW_PORT
from infra.k8s.mlflow import MlflowServer, MlflowServerArgs
from infra.k8s.namespaces import PlatformNamespace, PlatformNamespaceArgs
from infra.k8s.observability import stack as observability
from infra.k8s.quotas import quotas
from infra.k8s.secrets import GeneratedApiKeys, external_secret
from infra.k8s.training import NAME as TRAINING_NAME
from infra.k8s.training import Training, TrainingArgs

API_KEYS_SECRET = "ml-api-keys"
#: The ML API's queue capacity: the service's default (the pods do not set ``STRATUS_MAX_QUEUE``).
SERVICE_DEFAULT_MAX_QUEUE: int = ServiceSettings.model_fields["max_queue"].default


def read_foundation(identity: StackIdentity) -> FoundationOutputs:
    """The foundation this ``-apps`` stack runs on, checked to be the same cloud and environment."""
    org = read_pulumi_org()
    stack = pulumi.Config(NAMESPACE).get("foundationStack") or identity.foundation_stack
    foundation = reference_foundation(
        f"{identity.base_name}-foundation", org=org, project=identity.project, stack=stack
    )
    contract = foundation.contract
    if (contract.cloud, contract.environment) != (identity.cloud, identity.environment):
        raise StratusConfigError(
            f"{NAMESPACE}:foundationStack: {foundation.stack} is the {contract.cloud} "
            f"{contract.environment} foundation, but {identity.stack} is an "
            f"{identity.cloud} {identity.environment} stack"
        )
    return foundation


def read_apps_config() -> AppsConfig:
    config = read_section("apps", AppsConfig, required=True)
    assert config is not None
    return config


def api_host(identity: StackIdentity, config: AppsConfig) -> str:
    """``ingress.host``, else ``ml-api.<env>.<stratus:dnsZone>`` (the same on every cloud)."""
    if config.ingress.host:
        return config.ingress.host
    zone = pulumi.Config(NAMESPACE).get("dnsZone")
    if not zone:
        raise missing_org_value(
            f"{NAMESPACE}:dnsZone",
            "the DNS zone the ML API is served under (its host is ml-api.<env>.<zone> unless "
            "stratus:apps.ingress.host is set)",
            "ml.example.com",
        )
    return f"ml-api.{identity.environment}.{zone.strip('.')}"


def _allows(contract: FoundationContract) -> dict[str, list[network.Allow]]:
    """The exact flows each platform namespace allows (everything else is denied)."""
    api_ns = contract.identity("ml-api").namespace
    training_ns = contract.identity("training").namespace
    mlflow_ns = contract.identity("mlflow").namespace
    to_mlflow = network.Allow(
        "mlflow", "egress", [network.Peer(namespace=mlflow_ns)], [MLFLOW_PORT]
    )
    return {
        "ml-api": [
            network.Allow(
                "ingress-controller",
                "ingress",
                [network.Peer(namespace=contract.ingress.namespace)],
                [API_PORT],
            ),
            network.from_monitoring(API_PORT),
            network.dns(),
            network.https_anywhere("model-store"),
            to_mlflow,
        ],
        "training": [
            network.dns(),
            network.https_anywhere("stores"),
            to_mlflow,
        ],
        "mlflow": [
            network.Allow(
                "clients",
                "ingress",
                [network.Peer(namespace=training_ns), network.Peer(namespace=api_ns)],
                [MLFLOW_PORT],
            ),
            network.from_monitoring(MLFLOW_PORT),
            network.dns(),
            network.https_anywhere("artifact-store"),
            network.Allow(
                "database",
                "egress",
                [network.Peer(cidr=cidr) for cidr in contract.network.cidrs],
                [contract.database.port],
            ),
        ],
    }


def build_stack(identity: StackIdentity) -> None:
    foundation = read_foundation(identity)
    contract = foundation.contract
    config = read_apps_config()
    host = api_host(identity, config)
    check_api_capacity(config.api, contract.pools["api"])
    observed = observability.plan(config)
    base = identity.base_name
    labels = standard_labels(identity)
    provider = k8s.Provider(
        f"{base}-k8s", kubeconfig=foundation.kubeconfig, enable_server_side_apply=True
    )
    on_cluster = pulumi.ResourceOptions(provider=provider)

    addons = ClusterAddons(
        f"{base}-addons",
        ClusterAddonsArgs(
            contract=contract,
            config=config.addons,
            tls=config.ingress.tls,
            labels=labels,
            is_prod=identity.is_prod,
        ),
        opts=on_cluster,
    )
    limits = quotas(config)
    allows = _allows(contract)
    spaces = {
        workload: PlatformNamespace(
            f"{base}-{workload}",
            PlatformNamespaceArgs(
                identity=contract.identity(workload),
                workload=workload,
                quota=limits[quota_key],
                allows=[*allows[workload], *observed.platform_allows],
                labels=labels,
                namespace_labels=observed.namespace_labels,
            ),
            opts=on_cluster,
        )
        for workload, quota_key in (
            ("ml-api", "mlApi"),
            ("training", "mlTraining"),
            ("mlflow", "mlflow"),
        )
    }

    mlflow_ns = spaces["mlflow"].name
    mlflow_image = image_ref(
        contract.registry.training, config.mlflow.image or config.training.image
    )
    mlflow = MlflowServer(
        f"{base}-mlflow",
        MlflowServerArgs(
            contract=contract,
            config=config.mlflow,
            image=mlflow_image,
            namespace=mlflow_ns,
            service_account=spaces["mlflow"].service_account.metadata.name,
            labels=labels,
            depends_on=(spaces["mlflow"], *addons.ready),
        ),
        opts=on_cluster,
    )
    Training(
        f"{base}-training",
        TrainingArgs(
            contract=contract,
            config=config.training,
            image=image_ref(contract.registry.training, config.training.image),
            image_version=config.training.image,
            namespace=spaces["training"].name,
            service_account=spaces["training"].service_account.metadata.name,
            mlflow_url=mlflow.url,
            labels=labels,
        ),
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[spaces["training"]]),
    )

    api_ns = spaces["ml-api"].name
    keys: GeneratedApiKeys | None = None
    if config.api.api_keys == "generated":
        keys = GeneratedApiKeys(
            f"{base}-api-keys",
            namespace=api_ns,
            secret_name=API_KEYS_SECRET,
            labels=labels,
            opts=pulumi.ResourceOptions(provider=provider, depends_on=[spaces["ml-api"]]),
        )
        keys_ready: pulumi.Resource = keys
    else:
        keys_ready = external_secret(
            f"{base}-api-keys",
            namespace=api_ns,
            secret_name=API_KEYS_SECRET,
            data={API_KEYS_FILE: contract.secret_store.api_keys},
            template=None,
            labels=labels,
            opts=pulumi.ResourceOptions(
                provider=provider, depends_on=[spaces["ml-api"], *addons.ready]
            ),
        )
    api = MlApi(
        f"{base}-ml-api",
        MlApiArgs(
            contract=contract,
            config=config.api,
            ingress=config.ingress,
            host=host,
            namespace=api_ns,
            service_account=spaces["ml-api"].service_account.metadata.name,
            api_keys_secret=API_KEYS_SECRET,
            mlflow_url=mlflow.url,
            labels=labels,
            extra_env=observed.api_env,
            depends_on=(keys_ready, spaces["ml-api"], *addons.ready),
        ),
        opts=on_cluster,
    )

    observability.deploy(
        f"{base}-observability",
        observability.DeployArgs(
            contract=contract,
            config=config,
            plan=observed,
            labels=labels,
            is_prod=identity.is_prod,
            api_namespace=api_ns,
            training_namespace=spaces["training"].name,
            mlflow_namespace=mlflow_ns,
            api_services=[API_NAME, f"{API_NAME}-preview"],
            api_port=API_PORT,
            hpa=API_NAME,
            cronjob=TRAINING_NAME,
            max_queue=SERVICE_DEFAULT_MAX_QUEUE,
            depends_on=tuple(addons.ready),
        ),
        on_cluster,
    )

    pulumi.export("foundationStack", foundation.stack)
    pulumi.export("cloud", contract.cloud)
    pulumi.export("ingressHost", host)
    pulumi.export("healthUrl", f"https://{host}/readyz")
    pulumi.export(
        "ingressAddress",
        api.ingress.status.apply(_load_balancer_address),
    )
    pulumi.export("activeColour", config.api.active_colour)
    pulumi.export(
        "services",
        {
            "stable": pulumi.Output.concat(api_ns, "/", api.service.metadata.name),
            "preview": pulumi.Output.concat(api_ns, "/", api.preview_service.metadata.name),
        },
    )
    pulumi.export("mlflowUrl", mlflow.url)
    if keys is not None:
        pulumi.export("apiKeys", keys.keys)


def _load_balancer_address(status: k8s.networking.v1.outputs.IngressStatus | None) -> str | None:
    """The load balancer's host name (AWS) or IP (Azure) once the controller has published it."""
    if status is None or status.load_balancer is None:
        return None
    for entry in status.load_balancer.ingress or []:
        if entry.hostname or entry.ip:
            return entry.hostname or entry.ip
    return None
