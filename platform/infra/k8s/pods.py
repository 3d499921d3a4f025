"""Building blocks every pod of the in-cluster layer shares: the Pod Security Standard
``restricted`` security context, a writable ``/tmp`` on a read-only root filesystem, placement
from the foundation contract, and the workload identity's labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi_kubernetes as k8s

from infra.foundation import IdentityInfo, SchedulingInfo
from infra.k8s.config import Resources

#: The images run as this user (``app/Dockerfile``, ``training/Dockerfile``).
RUN_AS_USER = 10001
TMP_VOLUME = "tmp"


def pod_security_context() -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=RUN_AS_USER,
        run_as_group=RUN_AS_USER,
        fs_group=RUN_AS_USER,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def container_security_context() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        privileged=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def tmp_volume(size: str = "1Gi") -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(
        name=TMP_VOLUME, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=size)
    )


def tmp_mount() -> k8s.core.v1.VolumeMountArgs:
    return k8s.core.v1.VolumeMountArgs(name=TMP_VOLUME, mount_path="/tmp")


def resources(
    config: Resources, extra_limits: Mapping[str, str] | None = None
) -> k8s.core.v1.ResourceRequirementsArgs:
    requirements = config.requirements()
    limits = {**requirements["limits"], **(extra_limits or {})}
    requests = {**requirements["requests"], **(extra_limits or {})}
    return k8s.core.v1.ResourceRequirementsArgs(requests=requests, limits=limits)


def tolerations(scheduling: SchedulingInfo) -> list[k8s.core.v1.TolerationArgs]:
    return [
        k8s.core.v1.TolerationArgs(key=t.key, operator=t.operator, value=t.value, effect=t.effect)
        for t in scheduling.tolerations
    ]


def env(values: Mapping[str, str]) -> list[k8s.core.v1.EnvVarArgs]:
    return [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in sorted(values.items())]


def pod_labels(base: Mapping[str, str], identity: IdentityInfo | None) -> dict[str, str]:
    """``base`` plus what the workload identity needs on the pod (Azure's ``use`` label)."""
    return {**base, **(dict(identity.pod_labels) if identity else {})}


def http_probe(
    path: str, port: str, *, period: int, failures: int, timeout: int = 2, initial: int = 0
) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=port),
        period_seconds=period,
        failure_threshold=failures,
        timeout_seconds=timeout,
        initial_delay_seconds=initial or None,
    )


def spread_by_zone_and_node(
    selector: Mapping[str, str],
) -> Sequence[k8s.core.v1.TopologySpreadConstraintArgs]:
    """Spread replicas across zones and nodes; never block scheduling on it."""
    return [
        k8s.core.v1.TopologySpreadConstraintArgs(
            max_skew=1,
            topology_key=key,
            when_unsatisfiable="ScheduleAnyway",
            label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(selector)),
        )
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]
