"""Can the foundation's ``api`` pool hold the ML API at its maximum? Checked before anything is
deployed, with the shortfall in the error.

A node offers its vCPUs and memory minus what the kubelet, the OS and the per-node DaemonSets
(CNI, kube-proxy, log and metrics agents) take; :data:`ALLOCATABLE_FRACTION` of each is counted
as available to workloads (EKS and AKS reserve 6 to 10 % for the system, the DaemonSets take the
rest of the margin on the node sizes Stratus uses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi

from infra.config import StratusConfigError
from infra.foundation import PoolInfo
from infra.k8s.config import ApiConfig, cpu_cores, memory_gib

ALLOCATABLE_FRACTION = 0.8
#: The rolling update of the active colour adds this many pods at most (``maxSurge``).
SURGE = 1


@dataclass(frozen=True)
class Need:
    pods: int
    cpu: float
    memory_gib: float


def api_need(api: ApiConfig) -> Need:
    """The active colour at its HPA maximum, the idle colour at its size, one surge pod."""
    pods = api.replicas.max + api.idle_replicas + SURGE
    return Need(
        pods=pods,
        cpu=pods * cpu_cores(api.resources.cpu),
        memory_gib=pods * memory_gib(api.resources.memory),
    )


def check_api_capacity(api: ApiConfig, pool: PoolInfo) -> None:
    """Raise :class:`StratusConfigError` when the pool's maximum cannot hold :func:`api_need`;
    warn (and pass) when the pool's machine type is unknown."""
    need = api_need(api)
    if pool.node_vcpus is None or pool.node_memory_gib is None:
        pulumi.log.warn(
            f"cannot check the api pool's capacity: machine type {pool.machine_types} has no "
            "known size (infra/machines.py)"
        )
        return
    per_node_cpu = pool.node_vcpus * ALLOCATABLE_FRACTION
    per_node_memory = pool.node_memory_gib * ALLOCATABLE_FRACTION
    cpu = pool.max_size * per_node_cpu
    memory = pool.max_size * per_node_memory
    short = []
    if need.cpu > cpu:
        short.append(f"{need.cpu - cpu:.1f} CPU short ({need.cpu:.1f} needed, {cpu:.1f} available)")
    if need.memory_gib > memory:
        short.append(
            f"{need.memory_gib - memory:.1f} GiB short "
            f"({need.memory_gib:.1f} GiB needed, {memory:.1f} GiB available)"
        )
    if short:
        nodes = max(
            math.ceil(need.cpu / per_node_cpu), math.ceil(need.memory_gib / per_node_memory)
        )
        raise StratusConfigError(
            f"stratus:apps.api.replicas.max: {api.replicas.max} replicas (+{api.idle_replicas} "
            f"idle, +{SURGE} surge) of {api.resources.cpu} CPU / {api.resources.memory} do not "
            f"fit the foundation's api pool (maxSize {pool.max_size} x "
            f"{pool.machine_types[0]}: {pool.node_vcpus} vCPU, {pool.node_memory_gib:g} GiB, "
            f"{ALLOCATABLE_FRACTION:.0%} allocatable): " + "; ".join(short) + f". Raise the "
            f"api pool's maxSize to {nodes} in the foundation stack, or lower "
            "stratus:apps.api.replicas.max or the requests."
        )
