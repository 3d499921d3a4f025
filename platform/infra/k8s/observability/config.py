"""``stratus:apps.monitoring``, ``.logging``, ``.tracing`` and ``.mesh``: typed, validated once.

Defaults are a small single-replica setup; the shipped prod stacks raise replicas, storage and
resources (HA). SLO targets, alert windows, thresholds and severities live here too, so the rules
the stack emits are a function of this config alone (:mod:`infra.k8s.observability.rules`).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, field_validator, model_validator

from infra.config import ConfigModel
from infra.k8s.config_types import Memory, Resources

Severity = Literal["critical", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError(f"{value!r} is not a Prometheus duration like '30s', '5m', '1h' or '30d'")
    return value


#: A Prometheus duration with one unit (``30s``, ``5m``, ``6h``, ``30d``).
Duration = Annotated[str, AfterValidator(_duration)]


def seconds(duration: str) -> float:
    """``duration`` (a :data:`Duration`) in seconds."""
    match = _DURATION.match(duration)
    if match is None:
        raise ValueError(f"{duration!r} is not a Prometheus duration")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


#: The scoring routes the SLOs cover (route templates, as the service labels its metrics).
SCORING_ROUTES = (
    "/predict",
    "/invocations",
    "/v2/models/{name}/infer",
    "/v2/models/{name}/versions/{version}/infer",
)


# --- metrics, SLOs and alerts -------------------------------------------------------------------


class PrometheusConfig(ConfigModel):
    replicas: int = Field(default=1, ge=1, le=5)
    retention: Duration = "15d"
    #: The volume per replica (of the foundation's ``storageClass``); Prometheus deletes the
    #: oldest blocks at 85 % of it even before ``retention``.
    storage: Memory = "50Gi"
    scrape_interval: Duration = "30s"
    evaluation_interval: Duration = "30s"
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu="500m", memory="2Gi", memory_limit="4Gi")
    )


class AlertmanagerConfig(ConfigModel):
    replicas: int = Field(default=1, ge=1, le=5)
    storage: Memory = "2Gi"
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu="50m", memory="128Mi", memory_limit="256Mi")
    )


class GrafanaConfig(ConfigModel):
    replicas: int = Field(default=1, ge=1, le=5)
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu="100m", memory="256Mi", memory_limit="512Mi")
    )


class BurnRateAlert(ConfigModel):
    """One multiwindow burn-rate alert (SRE workbook, ch. 5): fires when the error ratio over
    both ``longWindow`` and ``shortWindow`` exceeds ``factor`` x the error budget."""

    long_window: Duration
    short_window: Duration
    factor: float = Field(gt=0, le=1000)
    severity: Severity
    for_: Duration = Field(default="0s", alias="for")

    @model_validator(mode="after")
    def _short_is_shorter(self) -> Self:
        if seconds(self.short_window) >= seconds(self.long_window):
            raise ValueError(
                f"shortWindow {self.short_window} must be shorter than longWindow "
                f"{self.long_window}"
            )
        return self


def _workbook_burn_rates() -> list[BurnRateAlert]:
    """The workbook's recommendation for a 30-day window: page on 2 % of the budget in 1 h or
    5 % in 6 h, ticket on 10 % in 1 day or 3 days."""
    return [
        BurnRateAlert(long_window="1h", short_window="5m", factor=14.4, severity="critical"),
        BurnRateAlert(long_window="6h", short_window="30m", factor=6, severity="critical"),
        BurnRateAlert(long_window="1d", short_window="2h", factor=3, severity="warning"),
        BurnRateAlert(long_window="3d", short_window="6h", factor=1, severity="warning"),
    ]


class AvailabilitySlo(ConfigModel):
    """The share of scoring requests answered without a 5xx (503 shedding and 504 included)."""

    target: float = Field(default=0.999, gt=0.5, lt=1)


class LatencySlo(ConfigModel):
    """The share of successful scoring requests answered within ``thresholdSeconds`` (p99 under
    100 ms = 99 % within 0.1 s). The threshold must be a bucket of the service's latency
    histogram (``app.core.metrics.LATENCY_BUCKETS``), or the rule could not be computed."""

    target: float = Field(default=0.99, gt=0.5, lt=1)
    threshold_seconds: float = Field(default=0.1, gt=0)

    @field_validator("threshold_seconds")
    @classmethod
    def _a_bucket(cls, value: float) -> float:
        from app.core.metrics import LATENCY_BUCKETS

        if value not in LATENCY_BUCKETS:
            raise ValueError(
                f"{value} is not a bucket of stratus_request_duration_seconds (one of "
                + ", ".join(str(b) for b in LATENCY_BUCKETS)
                + ")"
            )
        return value


class SloConfig(ConfigModel):
    """The ML API's SLOs, measured over ``window``."""

    window: Duration = "30d"
    routes: list[str] = Field(default_factory=lambda: list(SCORING_ROUTES), min_length=1)
    availability: AvailabilitySlo = Field(default_factory=AvailabilitySlo)
    latency: LatencySlo = Field(default_factory=LatencySlo)
    burn_rates: list[BurnRateAlert] = Field(default_factory=_workbook_burn_rates, min_length=1)
    #: How often the long-window (``window``) recordings are evaluated.
    budget_evaluation_interval: Duration = "5m"

    @model_validator(mode="after")
    def _windows_fit(self) -> Self:
        for alert in self.burn_rates:
            if seconds(alert.long_window) > seconds(self.window):
                raise ValueError(
                    f"burn-rate window {alert.long_window} is longer than the SLO window "
                    f"{self.window}"
                )
        return self

    def windows(self) -> list[str]:
        """Every window a recording rule is needed for, shortest first (``window`` excluded)."""
        found = {w for a in self.burn_rates for w in (a.long_window, a.short_window)}
        return sorted(found, key=seconds)


class AlertRule(ConfigModel):
    severity: Severity = "warning"
    for_: Duration = Field(default="10m", alias="for")


class ThresholdAlert(AlertRule):
    #: A ratio in (0, 1]: of the queue's capacity, or of all requests.
    ratio: float = Field(gt=0, le=1)


class TrainingMissedAlert(AlertRule):
    #: The newest successful training run may be at most this old.
    max_age: Duration = "8d"


def _alert(severity: Severity, for_: str) -> AlertRule:
    return AlertRule.model_validate({"severity": severity, "for": for_})


class AlertsConfig(ConfigModel):
    """Severities, durations and thresholds of the ML platform's alerts besides the SLOs."""

    model_load_failures: AlertRule = Field(default_factory=lambda: _alert("warning", "0s"))
    model_version_skew: AlertRule = Field(default_factory=lambda: _alert("warning", "15m"))
    queue_saturation: ThresholdAlert = Field(
        default_factory=lambda: ThresholdAlert.model_validate({"ratio": 0.8, "for": "5m"})
    )
    load_shedding: ThresholdAlert = Field(
        default_factory=lambda: ThresholdAlert.model_validate({"ratio": 0.01, "for": "5m"})
    )
    hpa_at_max: AlertRule = Field(default_factory=lambda: _alert("warning", "15m"))
    training_failed: AlertRule = Field(default_factory=lambda: _alert("warning", "0s"))
    training_missed: TrainingMissedAlert = Field(
        default_factory=lambda: TrainingMissedAlert.model_validate({"for": "0s"})
    )
    mlflow_down: AlertRule = Field(default_factory=lambda: _alert("critical", "5m"))


ReceiverKind = Literal["slack", "pagerduty", "webhook"]
_RECEIVER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


class SecretKey(ConfigModel):
    """A value in the foundation's secret store (Secrets Manager name or ARN / Key Vault secret
    name) and, for JSON secrets, its property."""

    key: str = Field(min_length=1)
    property: str | None = None


class Receiver(ConfigModel):
    """An Alertmanager receiver whose URL / routing key comes from the secret store: ``slack``
    (incoming-webhook URL), ``pagerduty`` (Events API v2 routing key) or ``webhook`` (URL)."""

    name: str
    kind: ReceiverKind
    secret: SecretKey
    #: Slack only: the channel (else the webhook's own).
    channel: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value == "null" or not _RECEIVER_NAME.match(value):
            raise ValueError(f"{value!r} is not a receiver name like 'oncall-pager'")
        return value


class AlertingConfig(ConfigModel):
    """Alertmanager routing: each severity goes to its receivers (none: the alert is only shown
    in Alertmanager and Grafana); a critical alert inhibits warnings of the same alert."""

    receivers: list[Receiver] = Field(default_factory=list)
    routes: dict[Severity, list[str]] = Field(default_factory=dict)
    group_by: list[str] = Field(default_factory=lambda: ["alertname", "namespace", "slo"])
    group_wait: Duration = "30s"
    group_interval: Duration = "5m"
    repeat_interval: Duration = "4h"

    @model_validator(mode="after")
    def _routes_name_receivers(self) -> Self:
        names = [r.name for r in self.receivers]
        if len(set(names)) != len(names):
            raise ValueError("receiver names must be unique")
        for severity, targets in self.routes.items():
            unknown = sorted(set(targets) - set(names))
            if unknown:
                raise ValueError(
                    f"routes.{severity} names receivers that are not configured: "
                    + ", ".join(unknown)
                )
        return self


class MonitoringConfig(ConfigModel):
    """``stratus:apps.monitoring``: kube-prometheus-stack, the SLOs, alerts and routing."""

    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    alertmanager: AlertmanagerConfig = Field(default_factory=AlertmanagerConfig)
    grafana: GrafanaConfig = Field(default_factory=GrafanaConfig)
    #: How often the ML API and MLflow are scraped.
    scrape_interval: Duration = "15s"
    slo: SloConfig = Field(default_factory=SloConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)


# --- logs ----------------------------------------------------------------------------------------


class ElasticsearchConfig(ConfigModel):
    version: str = Field(default="9.4.3", pattern=r"^\d+\.\d+\.\d+$")
    nodes: int = Field(default=1, ge=1, le=20)
    storage: Memory = "30Gi"
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu="500m", memory="2Gi", memory_limit="2Gi")
    )
    #: Days an index is kept after its rollover (the ILM delete phase).
    retention_days: int = Field(default=7, ge=1, le=3650)
    #: Roll over to a new index after this long (or at ``rolloverSize`` per primary shard).
    rollover_age: str = Field(default="1d", pattern=r"^\d+[hd]$")
    rollover_size: str = Field(default="10gb", pattern=r"^\d+(mb|gb)$")


class KibanaConfig(ConfigModel):
    replicas: int = Field(default=1, ge=1, le=5)
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu="200m", memory="1Gi", memory_limit="1Gi")
    )


class FluentBitConfig(ConfigModel):
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu="50m", memory="64Mi", memory_limit="256Mi")
    )


class LoggingConfig(ConfigModel):
    """``stratus:apps.logging``: ELK through ECK, with Fluent Bit shipping container logs. Off
    when a team uses its cloud's log service instead."""

    enabled: bool = True
    elasticsearch: ElasticsearchConfig = Field(default_factory=ElasticsearchConfig)
    kibana: KibanaConfig = Field(default_factory=KibanaConfig)
    fluent_bit: FluentBitConfig = Field(default_factory=FluentBitConfig)


# --- traces --------------------------------------------------------------------------------------

TraceStorage = Literal["memory", "elasticsearch"]


class CollectorConfig(ConfigModel):
    replicas: int = Field(default=1, ge=1, le=10)
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu="100m", memory="256Mi", memory_limit="512Mi")
    )


class JaegerConfig(ConfigModel):
    #: ``memory`` (dev: lost on restart) or ``elasticsearch`` (the ECK cluster; needs logging).
    storage: TraceStorage = "memory"
    replicas: int = Field(default=1, ge=1, le=10)
    #: In-memory storage only: traces kept.
    max_traces: int = Field(default=50_000, ge=1000)
    #: Elasticsearch only: days of traces kept.
    retention_days: int = Field(default=7, ge=1, le=365)
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu="100m", memory="512Mi", memory_limit="1Gi")
    )


class TracingConfig(ConfigModel):
    """``stratus:apps.tracing``: the OpenTelemetry Collector and Jaeger; the ML API sends a
    ``samplingRatio`` share of its traces (parent-based: an upstream decision is kept)."""

    enabled: bool = True
    sampling_ratio: float = Field(default=0.1, ge=0, le=1)
    collector: CollectorConfig = Field(default_factory=CollectorConfig)
    jaeger: JaegerConfig = Field(default_factory=JaegerConfig)


# --- mesh ----------------------------------------------------------------------------------------


class ConnectionPoolConfig(ConfigModel):
    max_connections: int = Field(default=1024, ge=1)
    http1_max_pending_requests: int = Field(default=1024, ge=1)
    http2_max_requests: int = Field(default=1024, ge=1)
    max_requests_per_connection: int = Field(default=0, ge=0)


class OutlierDetectionConfig(ConfigModel):
    consecutive_5xx_errors: int = Field(default=5, ge=1)
    interval: Duration = "10s"
    base_ejection_time: Duration = "30s"
    max_ejection_percent: int = Field(default=50, ge=1, le=100)


class MeshConfig(ConfigModel):
    """``stratus:apps.mesh``: Istio (sidecars installed by its CNI plugin, so pods need no
    NET_ADMIN init container), STRICT mTLS, circuit breaking for the ML API."""

    enabled: bool = False
    connection_pool: ConnectionPoolConfig = Field(default_factory=ConnectionPoolConfig)
    outlier_detection: OutlierDetectionConfig = Field(default_factory=OutlierDetectionConfig)
