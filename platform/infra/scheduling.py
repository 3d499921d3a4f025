"""Node pools and how workloads land on them — one definition for both clouds.

Every Stratus node carries the label ``stratus.io/pool=<pool>``; the pools that must stay free of
general workloads carry a taint. Both foundations label and taint their pools from this module,
and the foundation contract hands the resulting node selector and tolerations to the upper layers,
so the same workload code schedules identically on EKS and AKS.

* ``system``: cluster add-ons and platform services (MLflow, controllers, monitoring). Tainted
  ``CriticalAddonsOnly=true:NoSchedule`` (what AKS expects of a dedicated system pool; EKS's
  managed add-ons tolerate it too).
* ``api``: the ML API. Untainted, selected by label.
* ``training``: training Jobs, on spot / Spot VMs. Tainted ``stratus.io/pool=training``; AKS also
  puts ``kubernetes.azure.com/scalesetpriority=spot:NoSchedule`` on every Spot pool, so training
  pods tolerate that too (a toleration for a taint a node does not have changes nothing).
* ``gpu``: optional, GPU training. Tainted ``nvidia.com/gpu=present``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Pool = Literal["system", "api", "training", "gpu"]
POOLS: tuple[Pool, ...] = ("system", "api", "training", "gpu")

#: The label every Stratus node carries; workloads select their pool with it.
POOL_LABEL = "stratus.io/pool"
#: Capacity label: ``spot`` or ``on-demand``.
CAPACITY_LABEL = "stratus.io/capacity"

Effect = Literal["NoSchedule", "NoExecute", "PreferNoSchedule"]


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: Effect = "NoSchedule"

    def __str__(self) -> str:
        """The ``key=value:Effect`` form AKS node pools take."""
        return f"{self.key}={self.value}:{self.effect}"


CRITICAL_ADDONS_TAINT = Taint("CriticalAddonsOnly", "true")
TRAINING_TAINT = Taint(POOL_LABEL, "training")
GPU_TAINT = Taint("nvidia.com/gpu", "present")
#: The taint AKS adds to every Spot node pool by itself.
AZURE_SPOT_TAINT = Taint("kubernetes.azure.com/scalesetpriority", "spot")

#: The taints each pool carries on both clouds (AKS adds :data:`AZURE_SPOT_TAINT` to Spot pools).
POOL_TAINTS: dict[Pool, tuple[Taint, ...]] = {
    "system": (CRITICAL_ADDONS_TAINT,),
    "api": (),
    "training": (TRAINING_TAINT,),
    "gpu": (GPU_TAINT,),
}

#: What pods of each pool's workloads tolerate.
POOL_TOLERATIONS: dict[Pool, tuple[Taint, ...]] = {
    "system": (CRITICAL_ADDONS_TAINT,),
    "api": (),
    "training": (TRAINING_TAINT, AZURE_SPOT_TAINT),
    "gpu": (GPU_TAINT, TRAINING_TAINT, AZURE_SPOT_TAINT),
}


def node_labels(pool: Pool, *, spot: bool) -> dict[str, str]:
    return {POOL_LABEL: pool, CAPACITY_LABEL: "spot" if spot else "on-demand"}


def toleration(taint: Taint) -> dict[str, str]:
    """A Kubernetes toleration (``spec.tolerations[]``) matching ``taint`` exactly."""
    return {"key": taint.key, "operator": "Equal", "value": taint.value, "effect": taint.effect}


def pod_scheduling(pool: Pool) -> dict[str, object]:
    """``{"nodeSelector": ..., "tolerations": [...]}`` for pods of ``pool``'s workloads."""
    return {
        "nodeSelector": {POOL_LABEL: pool},
        "tolerations": [toleration(t) for t in POOL_TOLERATIONS[pool]],
    }
