"""ResourceQuotas of the platform namespaces: from config, or derived from the workloads they
hold with :data:`HEADROOM` to spare. An explicit quota too small for its workload is an error
(a quota that cannot admit the ML API at its HPA maximum would cap the autoscaler silently)."""

from __future__ import annotations

import math

from infra.config import StratusConfigError
from infra.k8s.capacity import SURGE
from infra.k8s.config import AppsConfig, Quota, Resources, cpu_cores, memory_gib

HEADROOM = 1.2


def _need(pods: int, resources: Resources) -> Quota:
    cpu_limit = resources.cpu_limit or resources.cpu
    return Quota(
        requests_cpu=f"{math.ceil(pods * cpu_cores(resources.cpu) * 1000)}m",
        requests_memory=f"{math.ceil(pods * memory_gib(resources.memory) * 1024)}Mi",
        limits_cpu=f"{math.ceil(pods * cpu_cores(cpu_limit) * 1000)}m",
        limits_memory=f"{math.ceil(pods * memory_gib(resources.memory_limit) * 1024)}Mi",
        pods=pods,
    )


def _with_headroom(need: Quota) -> Quota:
    def scale(value: str) -> str:
        number, unit = int(value[:-2] if value.endswith("Mi") else value[:-1]), value[-2:]
        if value.endswith("m"):
            return f"{math.ceil(number * HEADROOM)}m"
        return f"{math.ceil(number * HEADROOM)}{unit}"

    return Quota(
        requests_cpu=scale(need.requests_cpu),
        requests_memory=scale(need.requests_memory),
        limits_cpu=scale(need.limits_cpu),
        limits_memory=scale(need.limits_memory),
        pods=math.ceil(need.pods * HEADROOM) + 1,
    )


def _fits(key: str, quota: Quota, need: Quota) -> None:
    checks = (
        ("requestsCpu", cpu_cores(quota.requests_cpu), cpu_cores(need.requests_cpu)),
        ("requestsMemory", memory_gib(quota.requests_memory), memory_gib(need.requests_memory)),
        ("limitsCpu", cpu_cores(quota.limits_cpu), cpu_cores(need.limits_cpu)),
        ("limitsMemory", memory_gib(quota.limits_memory), memory_gib(need.limits_memory)),
        ("pods", float(quota.pods), float(need.pods)),
    )
    for name, have, needed in checks:
        if have < needed:
            raise StratusConfigError(
                f"stratus:apps.namespaces.{key}.quota.{name}: too small for the namespace's "
                f"workload ({getattr(quota, _snake(name))} < {getattr(need, _snake(name))})"
            )


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def quotas(config: AppsConfig) -> dict[str, Quota]:
    """Quota per platform namespace key (``mlApi``, ``mlTraining``, ``mlflow``)."""
    api = config.api
    needs = {
        "mlApi": _need(api.replicas.max + api.idle_replicas + SURGE, api.resources),
        # The scheduled run and one on-demand run may overlap (each one pod per shard).
        "mlTraining": _need(2 * config.training.pods_per_run, config.training.pod_resources),
        "mlflow": _need(config.mlflow.replicas + SURGE, config.mlflow.resources),
    }
    explicit = {
        "mlApi": config.namespaces.ml_api.quota,
        "mlTraining": config.namespaces.ml_training.quota,
        "mlflow": config.namespaces.mlflow.quota,
    }
    result: dict[str, Quota] = {}
    for key, need in needs.items():
        given = explicit[key]
        if given is None:
            result[key] = _with_headroom(need)
        else:
            _fits(key, given, need)
            result[key] = given
    return result
