"""The typed ``stratus:apps`` section of the ``<cloud>-<env>-apps`` stacks, validated once.

Every knob of the in-cluster layer has a default matching the seed (ML API 3 to 20 replicas, HPA on
CPU, weekly retraining); a bad value fails naming the key (``stratus:apps.api.replicas.max``).
Two values are org-specific and have no default: ``stratus:dnsZone`` (the API's host name is
``ml-api.<env>.<dnsZone>`` unless ``ingress.host`` is set) and ``ingress.tls.acmeEmail`` when the
stack creates its ACME issuer.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field, field_validator, model_validator

from infra.config import ConfigModel
from infra.k8s.config_types import Chart as Chart
from infra.k8s.config_types import Cpu as Cpu
from infra.k8s.config_types import Memory as Memory
from infra.k8s.config_types import Resources as Resources
from infra.k8s.config_types import cpu_cores as cpu_cores
from infra.k8s.config_types import memory_gib as memory_gib
from infra.k8s.observability.config import (
    LoggingConfig,
    MeshConfig,
    MonitoringConfig,
    TracingConfig,
)

Colour = Literal["blue", "green"]
COLOURS: tuple[Colour, ...] = ("blue", "green")

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CRON = re.compile(r"^(\S+\s+){4}\S+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _image(value: str) -> str:
    """An immutable image reference: a tag other than ``latest``, or a ``sha256:`` digest."""
    if value == "latest":
        raise ValueError("'latest' is not a release: use an immutable tag or a sha256 digest")
    if not (_TAG.match(value) or _DIGEST.match(value)):
        raise ValueError(f"{value!r} is neither an image tag nor a sha256:<64 hex> digest")
    return value


#: An image tag (``v1.4.2``, ``git-3f2a9c1``) or digest (``sha256:…``) in the stack's registry.
ImageVersion = Annotated[str, AfterValidator(_image)]


class ModelRef(ConfigModel):
    """What a colour serves: ``alias`` (a pointer in the cloud's model store, default
    ``champion``) or a fixed registry ``version`` (read through the in-cluster MLflow)."""

    name: str = Field(default="stratus-classifier", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    alias: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    version: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _champion_by_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("alias") is None and data.get("version") is None:
            return {**data, "alias": "champion"}
        return data

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if self.alias is not None and self.version is not None:
            raise ValueError("set either alias or version, not both")
        return self


class ColourConfig(ConfigModel):
    image: ImageVersion
    model: ModelRef = Field(default_factory=lambda: ModelRef(alias="champion"))


class ReplicaBounds(ConfigModel):
    min: int = Field(default=3, ge=1, le=1000)
    max: int = Field(default=20, ge=1, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be >= min ({self.min})")
        return self


ApiKeysSource = Literal["generated", "secretStore"]


class ApiConfig(ConfigModel):
    """``stratus:apps.api``: the ML API, blue/green."""

    active_colour: Colour = "blue"
    blue: ColourConfig
    green: ColourConfig
    replicas: ReplicaBounds = Field(default_factory=ReplicaBounds)
    #: The idle colour stays at this size, ready for an instant rollback.
    idle_replicas: int = Field(default=1, ge=0, le=100)
    cpu_target_percent: int = Field(default=70, ge=10, le=100)
    scale_down_stabilization_seconds: int = Field(default=300, ge=0, le=3600)
    #: One uvicorn worker per pod, so one core is what a pod can use: the CPU limit equals it
    #: and is never the bottleneck; requests are what the HPA and the scheduler count.
    resources: Resources = Field(
        default_factory=lambda: Resources(
            cpu="500m", memory="512Mi", cpu_limit="1", memory_limit="1Gi"
        )
    )
    watch_interval_seconds: int = Field(default=30, ge=0, le=3600)
    #: The service's own drain (``STRATUS_GRACEFUL_TIMEOUT_S``).
    graceful_shutdown_seconds: int = Field(default=30, ge=1, le=600)
    #: Time for the load balancer to stop sending new requests before the drain starts.
    pre_stop_seconds: int = Field(default=10, ge=0, le=120)
    #: Seconds the model may take to load before the pod is restarted.
    startup_seconds: int = Field(default=300, ge=10, le=3600)
    #: ``generated``: the stack creates one key (output ``apiKey``, secret) — for dev;
    #: ``secretStore``: the key entries come from the foundation's secret store (External Secrets).
    api_keys: ApiKeysSource = "secretStore"

    def colour(self, colour: Colour) -> ColourConfig:
        return self.blue if colour == "blue" else self.green

    @property
    def idle_colour(self) -> Colour:
        return "green" if self.active_colour == "blue" else "blue"

    @property
    def termination_grace_seconds(self) -> int:
        """preStop pause + the service's drain + a margin for the process to exit."""
        return self.pre_stop_seconds + self.graceful_shutdown_seconds + 5


class AcmeConfig(ConfigModel):
    email: str
    server: str = "https://acme-v02.api.letsencrypt.org/directory"

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value


class TlsConfig(ConfigModel):
    """Certificates from cert-manager: ``issuer`` names a ClusterIssuer; with ``acme`` set the
    stack creates it (HTTP-01 through the ingress class)."""

    issuer: str = Field(default="letsencrypt", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    acme: AcmeConfig | None = None


class IngressConfig(ConfigModel):
    #: The API's host name, the same on every cloud of the environment (the global layer points
    #: one DNS name at all of them). Default ``ml-api.<env>.<stratus:dnsZone>``.
    host: str | None = None
    tls: TlsConfig = Field(default_factory=TlsConfig)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not _HOST.match(value):
            raise ValueError(f"{value!r} is not a DNS host name")
        return value


class ShardedSearchConfig(ConfigModel):
    """``stratus:apps.training.sharded``: the search spread over the pods of an Indexed Job
    (``completions`` = ``parallelism`` = ``shards``), MLflow as the meeting point; shard 0
    finalizes (see ``infra/k8s/training.py``)."""

    shards: int = Field(ge=2, le=64)
    #: Requests/limits of each shard's pod (default: ``training.resources``).
    resources: Resources | None = None


class TrainingConfig(ConfigModel):
    """``stratus:apps.training``: scheduled retraining and on-demand runs."""

    image: ImageVersion
    #: Cron schedule of the retraining CronJob (in ``timeZone``).
    schedule: str = "0 3 * * 0"
    time_zone: str = "Etc/UTC"
    #: The pipeline's own config (``training/configs/*.yaml``); the stack fills in the stores,
    #: the landing zone, the tracking server and the work directory from the foundation.
    pipeline: dict[str, Any] = Field(default_factory=dict)
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu="2", memory="8Gi", cpu_limit="4", memory_limit="12Gi")
    )
    #: GPUs per training pod; > 0 schedules on the foundation's ``gpu`` pool.
    gpus: int = Field(default=0, ge=0, le=8)
    backoff_limit: int = Field(default=1, ge=0, le=10)
    active_deadline_seconds: int = Field(default=6 * 3600, ge=60)
    ttl_seconds_after_finished: int = Field(default=7 * 24 * 3600, ge=0)
    successful_jobs_history: int = Field(default=3, ge=0, le=20)
    failed_jobs_history: int = Field(default=3, ge=0, le=20)
    #: Off by default: one pod runs the whole search.
    sharded: ShardedSearchConfig | None = None

    @property
    def pods_per_run(self) -> int:
        return self.sharded.shards if self.sharded else 1

    @property
    def pod_resources(self) -> Resources:
        if self.sharded and self.sharded.resources:
            return self.sharded.resources
        return self.resources

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not _CRON.match(value.strip()):
            raise ValueError(f"{value!r} is not a five-field cron schedule")
        return value.strip()


class MlflowConfig(ConfigModel):
    """``stratus:apps.mlflow``: the tracking server (defaults to the training image)."""

    image: ImageVersion | None = None
    replicas: int = Field(default=1, ge=1, le=10)
    workers: int = Field(default=2, ge=1, le=16)
    resources: Resources = Field(
        default_factory=lambda: Resources(
            cpu="250m", memory="512Mi", cpu_limit="1", memory_limit="1Gi"
        )
    )


class Quota(ConfigModel):
    requests_cpu: Cpu
    requests_memory: Memory
    limits_cpu: Cpu
    limits_memory: Memory
    pods: int = Field(ge=1)


class NamespaceLimits(ConfigModel):
    """A namespace's ResourceQuota (``None``: derived from its workloads with headroom)."""

    quota: Quota | None = None


class NamespacesConfig(ConfigModel):
    ml_api: NamespaceLimits = Field(default_factory=NamespaceLimits)
    ml_training: NamespaceLimits = Field(default_factory=NamespaceLimits)
    mlflow: NamespaceLimits = Field(default_factory=NamespaceLimits)


ISTIO_CHARTS = "https://istio-release.storage.googleapis.com/charts"

#: The add-on charts, pinned; override a version per stack under ``addons.<name>.version``.
DEFAULT_CHARTS: dict[str, Chart] = {
    "metricsServer": Chart(
        repository="https://kubernetes-sigs.github.io/metrics-server/",
        chart="metrics-server",
        version="3.13.1",
    ),
    "awsLoadBalancerController": Chart(
        repository="https://aws.github.io/eks-charts",
        chart="aws-load-balancer-controller",
        version="3.5.0",
    ),
    "clusterAutoscaler": Chart(
        repository="https://kubernetes.github.io/autoscaler",
        chart="cluster-autoscaler",
        version="9.59.0",
    ),
    "nvidiaDevicePlugin": Chart(
        repository="https://nvidia.github.io/k8s-device-plugin",
        chart="nvidia-device-plugin",
        version="0.20.0",
    ),
    "certManager": Chart(
        repository="https://charts.jetstack.io", chart="cert-manager", version="v1.21.1"
    ),
    "externalSecrets": Chart(
        repository="https://charts.external-secrets.io", chart="external-secrets", version="2.9.0"
    ),
    "traefik": Chart(
        repository="https://traefik.github.io/charts", chart="traefik", version="41.3.0"
    ),
    # Observability (infra.k8s.observability) and the optional mesh.
    "kubePrometheusStack": Chart(
        repository="https://prometheus-community.github.io/helm-charts",
        chart="kube-prometheus-stack",
        version="88.5.3",
    ),
    "eckOperator": Chart(
        repository="https://helm.elastic.co", chart="eck-operator", version="3.5.0"
    ),
    "fluentBit": Chart(
        repository="https://fluent.github.io/helm-charts", chart="fluent-bit", version="0.58.1"
    ),
    "openTelemetryCollector": Chart(
        repository="https://open-telemetry.github.io/opentelemetry-helm-charts",
        chart="opentelemetry-collector",
        version="0.170.0",
    ),
    "jaeger": Chart(
        repository="https://jaegertracing.github.io/helm-charts", chart="jaeger", version="4.11.1"
    ),
    "istioBase": Chart(repository=ISTIO_CHARTS, chart="base", version="1.30.3"),
    "istiod": Chart(repository=ISTIO_CHARTS, chart="istiod", version="1.30.3"),
    "istioCni": Chart(repository=ISTIO_CHARTS, chart="cni", version="1.30.3"),
}


class AddonConfig(ConfigModel):
    version: str | None = Field(default=None, pattern=r"^v?\d+\.\d+\.\d+$")
    replicas: int | None = Field(default=None, ge=1, le=10)


class AddonsConfig(ConfigModel):
    metrics_server: AddonConfig = Field(default_factory=AddonConfig)
    aws_load_balancer_controller: AddonConfig = Field(default_factory=AddonConfig)
    cluster_autoscaler: AddonConfig = Field(default_factory=AddonConfig)
    nvidia_device_plugin: AddonConfig = Field(default_factory=AddonConfig)
    cert_manager: AddonConfig = Field(default_factory=AddonConfig)
    external_secrets: AddonConfig = Field(default_factory=AddonConfig)
    traefik: AddonConfig = Field(default_factory=AddonConfig)
    kube_prometheus_stack: AddonConfig = Field(default_factory=AddonConfig)
    eck_operator: AddonConfig = Field(default_factory=AddonConfig)
    fluent_bit: AddonConfig = Field(default_factory=AddonConfig)
    open_telemetry_collector: AddonConfig = Field(default_factory=AddonConfig)
    jaeger: AddonConfig = Field(default_factory=AddonConfig)
    istio_base: AddonConfig = Field(default_factory=AddonConfig)
    istiod: AddonConfig = Field(default_factory=AddonConfig)
    istio_cni: AddonConfig = Field(default_factory=AddonConfig)

    def chart(self, name: str) -> Chart:
        """The pinned chart of add-on ``name`` (camelCase key of :data:`DEFAULT_CHARTS`)."""
        default = DEFAULT_CHARTS[name]
        field = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        override: AddonConfig = getattr(self, field)
        if override.version is None:
            return default
        return default.model_copy(update={"version": override.version})

    def replicas(self, name: str, default: int) -> int:
        field = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        override: AddonConfig = getattr(self, field)
        return override.replicas or default


class AppsConfig(ConfigModel):
    """The whole ``stratus:apps`` section."""

    ingress: IngressConfig = Field(default_factory=IngressConfig)
    api: ApiConfig
    training: TrainingConfig
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)
    namespaces: NamespacesConfig = Field(default_factory=NamespacesConfig)
    addons: AddonsConfig = Field(default_factory=AddonsConfig)
    #: Observability (``infra.k8s.observability``): metrics, alerts and dashboards; logs; traces.
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    #: The optional Istio service mesh.
    mesh: MeshConfig = Field(default_factory=MeshConfig)
