"""Run a rollout :class:`~infra.rollout.plan.Plan` through the edges, stopping and restoring as
the plan says. The edges are small typed interfaces (:class:`Edges`); the real ones drive Pulumi's
Automation API, kubectl and HTTP (:mod:`infra.rollout.edges`), tests use in-memory fakes."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Protocol

from infra.rollout.plan import (
    CloudPlan,
    Outcome,
    Plan,
    SetConfig,
    Smoke,
    Step,
    StepRecord,
    StepStatus,
    Up,
    WaitAvailable,
)


class StepFailedError(RuntimeError):
    """An edge reports that a step did not succeed; the message says why."""


class Edges(Protocol):
    """What the rollout needs from the outside world, per ``-apps`` stack."""

    def set_config(self, stack: str, values: dict[str, str | int | None]) -> None: ...

    def up(self, stack: str) -> None: ...

    def wait_available(self, stack: str, deployment: str, replicas: int) -> None: ...

    def served_version(self, stack: str, service: str) -> str: ...

    def smoke(self, stack: str, service: str, expected_version: str) -> None: ...


Clock = Callable[[], float]
Report = Callable[[StepRecord], None]


def _perform(edges: Edges, stack: str, step: Step, expected: dict[str, str]) -> str:
    action = step.action
    if isinstance(action, SetConfig):
        edges.set_config(stack, dict(action.values))
        return action.describe()
    if isinstance(action, Up):
        edges.up(stack)
        return ""
    if isinstance(action, WaitAvailable):
        edges.wait_available(stack, action.deployment, action.replicas)
        return ""
    if isinstance(action, Smoke):
        version = action.expected_version or expected[stack]
        edges.smoke(stack, action.service, version)
        return f"serving version {version}"
    raise TypeError(f"unknown action {action!r}")


def execute(
    plan: Plan,
    edges: Edges,
    *,
    clock: Clock = time.monotonic,
    report: Report | None = None,
) -> Outcome:
    """Run ``plan``; never raises for a failed step (the :class:`Outcome` says what happened)."""
    outcome = Outcome(plan=plan)

    def record(entry: StepRecord) -> None:
        outcome.records.append(entry)
        if report is not None:
            report(entry)

    expected: dict[str, str] = {}
    for cloud_plan in plan.clouds:
        if not _run_cloud(cloud_plan, edges, clock, record, expected, outcome):
            break
        outcome.done.append(cloud_plan.cloud)
    return outcome


def _timed(clock: Clock, action: Callable[[], str]) -> tuple[bool, float, str]:
    started = clock()
    try:
        detail = action()
    except StepFailedError as exc:
        return False, clock() - started, str(exc)
    return True, clock() - started, detail


def _run_cloud(
    cloud_plan: CloudPlan,
    edges: Edges,
    clock: Clock,
    record: Report,
    expected: dict[str, str],
    outcome: Outcome,
) -> bool:
    stack = cloud_plan.stack
    # What the stable Service serves before anything changes: the version a new image of the
    # same model must still serve.
    ok, seconds, detail = _timed(
        clock, lambda: expected.setdefault(stack, edges.served_version(stack, "ml-api"))
    )
    record(
        StepRecord(
            cloud_plan.cloud,
            "read the served model version",
            _status(ok),
            seconds,
            f"version {detail}" if ok else detail,
        )
    )
    if not ok:
        outcome.failed, outcome.error, outcome.restored = cloud_plan.cloud, detail, True
        return False
    for index, step in enumerate(cloud_plan.steps):
        ok, seconds, detail = _timed(
            clock, functools.partial(_perform, edges, stack, step, expected)
        )
        record(StepRecord(cloud_plan.cloud, step.name, _status(ok), seconds, detail))
        if ok:
            continue
        outcome.failed = cloud_plan.cloud
        outcome.error = f"{step.name}: {detail}"
        for skipped in cloud_plan.steps[index + 1 :]:
            record(StepRecord(cloud_plan.cloud, skipped.name, "skipped", 0.0))
        restore = (
            cloud_plan.restore_before_flip
            if index < cloud_plan.flip_index
            else cloud_plan.restore_after_flip
        )
        outcome.restored = _restore(cloud_plan, restore, edges, clock, record, expected)
        return False
    return True


def _restore(
    cloud_plan: CloudPlan,
    steps: tuple[Step, ...],
    edges: Edges,
    clock: Clock,
    record: Report,
    expected: dict[str, str],
) -> bool:
    for step in steps:
        ok, seconds, detail = _timed(
            clock, functools.partial(_perform, edges, cloud_plan.stack, step, expected)
        )
        record(StepRecord(cloud_plan.cloud, step.name, _status(ok), seconds, detail, restore=True))
        if not ok:
            return False
    return True


def _status(ok: bool) -> StepStatus:
    return "ok" if ok else "failed"
