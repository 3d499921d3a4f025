"""The MLflow tracking server: backend store the foundation's PostgreSQL (the URI, with the
password, from the secret store through External Secrets), artifacts proxied
(``--serve-artifacts``) to the cloud's artifact store with the server's workload identity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.foundation import FoundationContract
from infra.k8s import pods
from infra.k8s.config import MlflowConfig
from infra.k8s.secrets import database_uri_template, external_secret

NAME = "mlflow"
PORT = 5000
DATABASE_SECRET = "mlflow-database"
URI_KEY = "MLFLOW_BACKEND_STORE_URI"


def service_url(namespace: str) -> str:
    return f"http://{NAME}.{namespace}.svc.cluster.local:{PORT}"


def allowed_hosts(namespace: str) -> str:
    """Host headers the server accepts (MLflow refuses others against DNS rebinding): its
    Service names, loopback, and the private ranges pod IPs come from (probes)."""
    names = [NAME, f"{NAME}.{namespace}", f"{NAME}.{namespace}.svc"]
    names.append(f"{NAME}.{namespace}.svc.cluster.local")
    hosts = [h for name in names for h in (name, f"{name}:{PORT}")]
    return ",".join([*hosts, "localhost:*", "127.0.0.1:*", "10.*", "172.*", "192.168.*"])


@dataclass(frozen=True)
class MlflowServerArgs:
    contract: FoundationContract
    config: MlflowConfig
    image: str
    namespace: str
    service_account: pulumi.Input[str]
    labels: Mapping[str, str]
    depends_on: tuple[pulumi.Resource, ...] = ()


class MlflowServer(pulumi.ComponentResource):
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    url: str

    def __init__(
        self, name: str, args: MlflowServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:k8s:MlflowServer", name, None, opts)
        contract = args.contract
        config = args.config
        labels = {**args.labels, "app.kubernetes.io/name": NAME}
        selector = {"app.kubernetes.io/name": NAME}
        identity = contract.identity("mlflow")
        scheduling = contract.schedule("system")
        database = external_secret(
            f"{name}-database",
            namespace=args.namespace,
            secret_name=DATABASE_SECRET,
            data={"password": contract.database.password},
            template={URI_KEY: database_uri_template(contract)},
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        arguments = [
            "-m", "mlflow", "server",
            "--backend-store-uri", f"$({URI_KEY})",
            "--artifacts-destination", contract.stores.mlflow_artifacts_uri,
            "--serve-artifacts",
            "--host", "0.0.0.0",
            "--port", str(PORT),
            "--workers", str(config.workers),
            "--allowed-hosts", allowed_hosts(args.namespace),
            "--expose-prometheus", "/tmp/prometheus",
        ]  # fmt: skip
        container = k8s.core.v1.ContainerArgs(
            name=NAME,
            image=args.image,
            command=["python"],
            args=arguments,
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=PORT)],
            env=[
                *pods.env({"HOME": "/tmp", **contract.stores.environment}),
                k8s.core.v1.EnvVarArgs(
                    name=URI_KEY,
                    value_from=k8s.core.v1.EnvVarSourceArgs(
                        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(
                            name=DATABASE_SECRET, key=URI_KEY
                        )
                    ),
                ),
            ],
            resources=pods.resources(config.resources),
            security_context=pods.container_security_context(),
            readiness_probe=pods.http_probe("/health", "http", period=10, failures=3),
            liveness_probe=pods.http_probe("/health", "http", period=20, failures=3, timeout=5),
            startup_probe=pods.http_probe("/health", "http", period=5, failures=60),
            volume_mounts=[pods.tmp_mount()],
        )
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=args.namespace, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=config.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                        max_unavailable=0, max_surge=1
                    ),
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=pods.pod_labels({**labels, **selector}, identity)
                    ),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=args.service_account,
                        automount_service_account_token=False,
                        security_context=pods.pod_security_context(),
                        node_selector=dict(scheduling.node_selector),
                        tolerations=pods.tolerations(scheduling),
                        topology_spread_constraints=pods.spread_by_zone_and_node(selector),
                        containers=[container],
                        volumes=[pods.tmp_volume()],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[database]),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=args.namespace, labels=labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="http", port=PORT, target_port="http", protocol="TCP"
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        if config.replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=NAME, namespace=args.namespace, labels=labels
                ),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    max_unavailable=1,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.url = service_url(args.namespace)
        self.register_outputs({"url": self.url})
