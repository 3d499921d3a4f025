"""The four shipped ``-apps`` stacks, run offline once per session (cached by ``infra.offline``)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.offline import Registered, StackRun, run_stack, stack_values

APPS = ("aws-dev-apps", "aws-prod-apps", "azure-dev-apps", "azure-prod-apps")


@pytest.fixture(params=APPS)
def apps(request: pytest.FixtureRequest) -> StackRun:
    return run_stack(request.param)


def apps_section(stack: str) -> dict[str, Any]:
    """A copy of the stack's ``stratus:apps`` section (file + offline overrides), to edit."""
    import copy

    return copy.deepcopy(stack_values(stack)["stratus:apps"])


def objects(run: StackRun, kind: str) -> list[Registered]:
    return [
        r for r in run.resources if r.type.startswith("kubernetes:") and r.type.endswith(f":{kind}")
    ]


def named(run: StackRun, kind: str, name: str, namespace: str | None = None) -> Registered:
    found = [
        r
        for r in objects(run, kind)
        if r.get("metadata.name") == name
        and (namespace is None or r.get("metadata.namespace") == namespace)
    ]
    assert len(found) == 1, f"expected one {kind} {namespace}/{name}, got {len(found)}"
    return found[0]


def pod_spec(workload: Registered) -> dict[str, Any]:
    """The pod spec of a Deployment, Job or CronJob."""
    if workload.type.endswith(":CronJob"):
        return dict(workload.get("spec.jobTemplate.spec.template.spec"))
    return dict(workload.get("spec.template.spec"))


def pod_labels(workload: Registered) -> dict[str, str]:
    if workload.type.endswith(":CronJob"):
        return dict(workload.get("spec.jobTemplate.spec.template.metadata.labels"))
    return dict(workload.get("spec.template.metadata.labels"))
