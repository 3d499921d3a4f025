"""Prometheus metrics of one service instance (own registry, so apps and tests stay isolated)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "stratus_requests", "HTTP requests", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "stratus_request_duration_seconds",
            "HTTP request latency",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "stratus_batch_size_rows", "rows per predict call", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_requests = Histogram(
            "stratus_batch_requests",
            "requests coalesced per predict call",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge("stratus_queue_depth", "requests waiting for a batch", registry=r)
        self.rejected = Counter(
            "stratus_rejected_requests",
            "requests refused by overload control",
            ["reason"],
            registry=r,
        )
        self.model_loads = Counter(
            "stratus_model_loads", "models loaded and warmed", ["version"], registry=r
        )
        self.model_swaps = Counter("stratus_model_swaps", "models swapped in", registry=r)
        self.model_load_failures = Counter(
            "stratus_model_load_failures", "failed model loads or checks", ["reason"], registry=r
        )
        self.model_info = Gauge(
            "stratus_model_info",
            "the model being served (value 1)",
            ["name", "version", "source"],
            registry=r,
        )
        self.ignored_features = Counter(
            "stratus_ignored_features",
            "requests whose features unknown to the model were ignored (lenient input)",
            registry=r,
        )
        self.auth_failures = Counter(
            "stratus_auth_failures", "rejected credentials", ["reason"], registry=r
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        #: The version being served (also in ``stratus_model_info``), for the access log.
        self.model_version: str | None = None

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            labels = (route, method, str(status))
            children = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def set_model(self, name: str, version: str, source: str) -> None:
        self.model_info.clear()
        self.model_info.labels(name, version, source).set(1)
        self.model_version = version
