"""Observability of the in-cluster layer: metrics, SLO alerts and dashboards
(kube-prometheus-stack), logs (ECK + Fluent Bit), traces (OpenTelemetry Collector + Jaeger) and
the optional Istio mesh.

Each concern is its own module; :mod:`infra.k8s.observability.stack` composes them for an
``-apps`` stack. This package's ``__init__`` imports nothing, so ``infra.k8s.config`` can use its
config models without an import cycle.
"""
