"""The ML API, blue/green: two Deployments (one per colour), a stable Service on the active colour
and a preview Service on the idle one, the HPA on the active colour, a PodDisruptionBudget per
colour, and the Ingress with its cert-manager certificate.

Flipping ``stratus:apps.api.activeColour`` moves the stable Service, the preview Service and the
HPA at once; the old colour stays at ``idleReplicas`` for an instant rollback. Each pod serves
from its own cloud's model store, so a cloud keeps serving while the other is down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.foundation import FoundationContract
from infra.k8s import pods
from infra.k8s.config import ApiConfig, Colour, ColourConfig, IngressConfig

NAME = "ml-api"
PORT = 8080
SERVICE_PORT = 80
COLOUR_LABEL = "stratus.io/colour"
API_KEYS_MOUNT = "/etc/stratus/api-keys"
API_KEYS_FILE = "keys.json"
TLS_SECRET = "ml-api-tls"


def image_ref(repository: str, version: str) -> str:
    """``repo:tag`` or ``repo@sha256:…``."""
    return f"{repository}@{version}" if version.startswith("sha256:") else f"{repository}:{version}"


def model_uri(contract: FoundationContract, colour: ColourConfig) -> str:
    """What ``STRATUS_MODEL_URI`` says: a pointer in this cloud's model store, or a registry
    version through MLflow."""
    model = colour.model
    if model.version is not None:
        return f"models:/{model.name}/{model.version}"
    return f"{contract.stores.models.rstrip('/')}/{model.name}@{model.alias}"


@dataclass(frozen=True)
class MlApiArgs:
    contract: FoundationContract
    config: ApiConfig
    ingress: IngressConfig
    host: str
    namespace: pulumi.Input[str]
    service_account: pulumi.Input[str]
    #: The Secret holding ``keys.json`` (hashed API key entries).
    api_keys_secret: pulumi.Input[str]
    mlflow_url: str
    labels: Mapping[str, str]
    #: Extra environment for every API pod (e.g. the OTLP endpoint).
    extra_env: Mapping[str, str] | None = None
    depends_on: tuple[pulumi.Resource, ...] = ()


class MlApi(pulumi.ComponentResource):
    deployments: dict[Colour, k8s.apps.v1.Deployment]
    service: k8s.core.v1.Service
    preview_service: k8s.core.v1.Service
    hpa: k8s.autoscaling.v2.HorizontalPodAutoscaler
    ingress: k8s.networking.v1.Ingress

    def __init__(self, name: str, args: MlApiArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stratus:k8s:MlApi", name, None, opts)
        config = args.config
        labels = {**args.labels, "app.kubernetes.io/name": NAME}
        self.deployments = {
            colour: self._deployment(name, colour, args, labels) for colour in ("blue", "green")
        }
        for colour in ("blue", "green"):
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-{colour}-pdb",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"{NAME}-{colour}", namespace=args.namespace, labels=labels
                ),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    max_unavailable=1,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector(colour)),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.service = self._service(name, NAME, config.active_colour, args, labels)
        self.preview_service = self._service(
            f"{name}-preview", f"{NAME}-preview", config.idle_colour, args, labels
        )
        active = self.deployments[config.active_colour]
        self.hpa = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=args.namespace, labels=labels),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=active.metadata.name
                ),
                min_replicas=config.replicas.min,
                max_replicas=config.replicas.max,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization",
                                average_utilization=config.cpu_target_percent,
                            ),
                        ),
                    )
                ],
                behavior=k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs(
                    scale_down=k8s.autoscaling.v2.HPAScalingRulesArgs(
                        stabilization_window_seconds=config.scale_down_stabilization_seconds
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ingress = self._ingress(name, args, labels)
        self.register_outputs(
            {
                "activeColour": config.active_colour,
                "service": self.service.metadata.name,
                "previewService": self.preview_service.metadata.name,
            }
        )

    @staticmethod
    def _selector(colour: Colour) -> dict[str, str]:
        return {"app.kubernetes.io/name": NAME, COLOUR_LABEL: colour}

    def _deployment(
        self, name: str, colour: Colour, args: MlApiArgs, labels: Mapping[str, str]
    ) -> k8s.apps.v1.Deployment:
        config = args.config
        contract = args.contract
        version = config.colour(colour)
        active = colour == config.active_colour
        identity = contract.identity("ml-api")
        scheduling = contract.schedule("api")
        selector = self._selector(colour)
        environment = {
            "STRATUS_MODEL_URI": model_uri(contract, version),
            "STRATUS_MLFLOW_TRACKING_URI": args.mlflow_url,
            "STRATUS_AUTH_MODE": "api-key",
            "STRATUS_API_KEYS_FILE": f"{API_KEYS_MOUNT}/{API_KEYS_FILE}",
            "STRATUS_HOST": "0.0.0.0",
            "STRATUS_PORT": str(PORT),
            "STRATUS_WATCH_INTERVAL_S": str(config.watch_interval_seconds),
            "STRATUS_GRACEFUL_TIMEOUT_S": str(config.graceful_shutdown_seconds),
            "STRATUS_MODEL_CACHE_DIR": "/tmp/models",
            "HOME": "/tmp",
            **contract.stores.environment,
            **(args.extra_env or {}),
        }
        container = k8s.core.v1.ContainerArgs(
            name=NAME,
            image=image_ref(contract.registry.api, version.image),
            image_pull_policy="IfNotPresent",
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=PORT)],
            env=pods.env(environment),
            resources=pods.resources(config.resources),
            security_context=pods.container_security_context(),
            readiness_probe=pods.http_probe("/readyz", "http", period=5, failures=2),
            liveness_probe=pods.http_probe("/healthz", "http", period=10, failures=3),
            # Liveness waits until the process is up and the model loaded (up to startupSeconds).
            startup_probe=pods.http_probe(
                "/healthz", "http", period=5, failures=max(1, config.startup_seconds // 5)
            ),
            lifecycle=k8s.core.v1.LifecycleArgs(
                # Endpoints are removed asynchronously: keep serving while load balancers and
                # kube-proxy catch up, then SIGTERM starts the service's own drain.
                pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                    sleep=k8s.core.v1.SleepActionArgs(seconds=config.pre_stop_seconds)
                )
                if config.pre_stop_seconds
                else None
            ),
            volume_mounts=[
                pods.tmp_mount(),
                k8s.core.v1.VolumeMountArgs(
                    name="api-keys", mount_path=API_KEYS_MOUNT, read_only=True
                ),
            ],
        )
        return k8s.apps.v1.Deployment(
            f"{name}-{colour}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{NAME}-{colour}",
                namespace=args.namespace,
                labels={**labels, COLOUR_LABEL: colour},
                annotations={"stratus.io/role": "active" if active else "idle"},
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # The HPA owns the active colour's size; the idle one waits at idleReplicas.
                replicas=None if active else config.idle_replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                        max_unavailable=0, max_surge=1
                    ),
                ),
                revision_history_limit=5,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=pods.pod_labels({**labels, **selector}, identity),
                    ),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=args.service_account,
                        automount_service_account_token=False,
                        security_context=pods.pod_security_context(),
                        termination_grace_period_seconds=config.termination_grace_seconds,
                        node_selector=dict(scheduling.node_selector),
                        tolerations=pods.tolerations(scheduling),
                        topology_spread_constraints=pods.spread_by_zone_and_node(selector),
                        containers=[container],
                        volumes=[
                            pods.tmp_volume("2Gi"),
                            k8s.core.v1.VolumeArgs(
                                name="api-keys",
                                secret=k8s.core.v1.SecretVolumeSourceArgs(
                                    secret_name=args.api_keys_secret, default_mode=0o440
                                ),
                            ),
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )

    def _service(
        self,
        resource_name: str,
        service_name: str,
        colour: Colour,
        args: MlApiArgs,
        labels: Mapping[str, str],
    ) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            resource_name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=service_name,
                namespace=args.namespace,
                labels={**labels, COLOUR_LABEL: colour},
            ),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=self._selector(colour),
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="http", port=SERVICE_PORT, target_port="http", protocol="TCP"
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _ingress(
        self, name: str, args: MlApiArgs, labels: Mapping[str, str]
    ) -> k8s.networking.v1.Ingress:
        contract = args.contract
        return k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAME,
                namespace=args.namespace,
                labels=labels,
                annotations={
                    **contract.ingress.annotations,
                    "cert-manager.io/cluster-issuer": args.ingress.tls.issuer,
                },
            ),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=contract.ingress.class_name,
                tls=[k8s.networking.v1.IngressTLSArgs(hosts=[args.host], secret_name=TLS_SECRET)],
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=args.host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                            paths=[
                                k8s.networking.v1.HTTPIngressPathArgs(
                                    path="/",
                                    path_type="Prefix",
                                    backend=k8s.networking.v1.IngressBackendArgs(
                                        service=k8s.networking.v1.IngressServiceBackendArgs(
                                            name=self.service.metadata.name,
                                            port=k8s.networking.v1.ServiceBackendPortArgs(
                                                name="http"
                                            ),
                                        )
                                    ),
                                )
                            ]
                        ),
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
