"""The blue/green rollout as data: what to do on each cloud, in which order, and what to restore
when a step fails. Plain Python, no I/O: :mod:`infra.rollout.execute` runs a plan through the
thin edges (Pulumi Automation API, kubectl, HTTP).

One cloud at a time, so the others keep serving in active-active. On a cloud:

1. set the idle colour's image (and model) in the ``-apps`` stack config, ``pulumi up``;
2. wait until the idle Deployment is fully available;
3. smoke-test it through the preview Service (readiness, served model version, a known answer
   per protocol);
4. flip ``activeColour`` to it, ``pulumi up``; wait until it is available at the HPA minimum;
5. verify through the stable Service.

The old colour keeps running at ``idleReplicas`` for an instant rollback. A failure stops the
rollout: before the flip, the idle colour's config is restored (the active colour never
changed); after it, the active colour is flipped back. Clouds already done stay on the new
version (the command says so); clouds not reached are untouched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Colour = Literal["blue", "green"]
Cloud = Literal["aws", "azure"]
CLOUDS: tuple[Cloud, ...] = ("aws", "azure")

_VERSION = re.compile(r"^(sha256:[a-f0-9]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")


class PlanError(ValueError):
    """The rollout cannot be planned (bad request or a stack in a state it cannot start from)."""


def other(colour: Colour) -> Colour:
    return "green" if colour == "blue" else "blue"


@dataclass(frozen=True)
class ColourState:
    image: str
    model_name: str
    model_alias: str | None
    model_version: int | None


@dataclass(frozen=True)
class CloudState:
    """What a cloud's ``-apps`` stack config says today."""

    cloud: Cloud
    stack: str
    active: Colour
    colours: dict[Colour, ColourState]
    idle_replicas: int
    min_replicas: int

    @property
    def idle(self) -> Colour:
        return other(self.active)


@dataclass(frozen=True)
class RolloutRequest:
    env: str
    image: str
    model_version: int | None = None
    clouds: tuple[Cloud, ...] = CLOUDS

    def __post_init__(self) -> None:
        if self.image == "latest" or not _VERSION.match(self.image):
            raise PlanError(
                f"--image {self.image!r}: expected an immutable tag or a sha256:<64 hex> digest"
            )
        if self.model_version is not None and self.model_version < 1:
            raise PlanError("--model-version must be a positive registry version")
        if not self.clouds or len(set(self.clouds)) != len(self.clouds):
            raise PlanError("--clouds: name each cloud once (aws, azure)")


# --- steps -------------------------------------------------------------------------------------

StepKind = Literal["read", "set-config", "up", "wait", "smoke", "verify"]


@dataclass(frozen=True)
class SetConfig:
    """Set config keys (``stratus:apps`` paths → values) on the stack; ``None`` removes a key."""

    values: tuple[tuple[str, str | int | None], ...]

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values)


@dataclass(frozen=True)
class Up:
    reason: str


@dataclass(frozen=True)
class WaitAvailable:
    deployment: str
    replicas: int


@dataclass(frozen=True)
class Smoke:
    """Readiness, model version and known answers through ``service``."""

    service: str
    #: ``None``: the version the stable Service serves now (same model, new image).
    expected_version: str | None


Action = SetConfig | Up | WaitAvailable | Smoke


@dataclass(frozen=True)
class Step:
    name: str
    action: Action


@dataclass(frozen=True)
class CloudPlan:
    cloud: Cloud
    stack: str
    steps: tuple[Step, ...]
    #: Steps before this index run with the active colour unchanged (restore = reset the idle
    #: colour's config); from it on, restore = flip the active colour back.
    flip_index: int
    restore_before_flip: tuple[Step, ...]
    restore_after_flip: tuple[Step, ...]


@dataclass(frozen=True)
class Plan:
    kind: Literal["rollout", "rollback"]
    env: str
    clouds: tuple[CloudPlan, ...]
    target_seconds: int = 300

    def describe(self) -> list[str]:
        lines = [f"{self.kind} of the {self.env} ML API, one cloud at a time:"]
        for cloud in self.clouds:
            lines.append(f"  {cloud.cloud} ({cloud.stack}):")
            for index, step in enumerate(cloud.steps, 1):
                lines.append(f"    {index}. {step.name}")
            if cloud.restore_after_flip or cloud.restore_before_flip:
                lines.append(
                    "    on failure: "
                    + "; ".join(s.name for s in cloud.restore_before_flip)
                    + " (before the flip) / "
                    + "; ".join(s.name for s in cloud.restore_after_flip)
                    + " (after it)"
                )
        return lines


def _colour_config(colour: Colour, state: ColourState) -> tuple[tuple[str, str | int | None], ...]:
    prefix = f"stratus:apps.api.{colour}"
    return (
        (f"{prefix}.image", state.image),
        (f"{prefix}.model.name", state.model_name),
        (f"{prefix}.model.alias", state.model_alias),
        (f"{prefix}.model.version", state.model_version),
    )


def _serve(colour: Colour, min_replicas: int, expected: str | None) -> tuple[Step, ...]:
    """Make ``colour`` the active one, wait for its minimum replicas, verify through ``ml-api``."""
    return (
        Step(
            f"flip the active colour to {colour}",
            SetConfig((("stratus:apps.api.activeColour", colour),)),
        ),
        Step(f"pulumi up (serve {colour})", Up(f"serve {colour}")),
        Step(
            f"wait for ml-api-{colour} ({min_replicas} ready)",
            WaitAvailable(f"ml-api-{colour}", min_replicas),
        ),
        Step("verify through ml-api", Smoke("ml-api", expected)),
    )


def _serve_again(colour: Colour) -> tuple[Step, ...]:
    """Restore: ``colour`` (the one that served before) is the active one again."""
    return (
        Step(
            f"flip the active colour back to {colour}",
            SetConfig((("stratus:apps.api.activeColour", colour),)),
        ),
        Step(f"pulumi up (serve {colour} again)", Up(f"serve {colour}")),
    )


def plan_rollout(request: RolloutRequest, states: Sequence[CloudState]) -> Plan:
    """The rollout of ``request.image`` (and model) to every requested cloud, in order."""
    by_cloud = {state.cloud: state for state in states}
    plans = []
    for cloud in request.clouds:
        state = by_cloud.get(cloud)
        if state is None:
            raise PlanError(f"no -apps stack state for {cloud} in {request.env}")
        if state.idle_replicas < 1:
            raise PlanError(
                f"{state.stack}: stratus:apps.api.idleReplicas is 0; the idle colour needs a pod "
                "to be smoke-tested before it takes traffic"
            )
        idle, active = state.idle, state.active
        current = state.colours[idle]
        new = ColourState(
            image=request.image,
            model_name=current.model_name,
            model_alias=None if request.model_version is not None else current.model_alias,
            model_version=request.model_version
            if request.model_version is not None
            else current.model_version,
        )
        expected = str(request.model_version) if request.model_version is not None else None
        steps = (
            Step(
                f"set {idle} to image {request.image}"
                + (f", model version {request.model_version}" if request.model_version else ""),
                SetConfig(_colour_config(idle, new)),
            ),
            Step(f"pulumi up (deploy {idle})", Up(f"deploy {idle}")),
            Step(
                f"wait for ml-api-{idle} ({state.idle_replicas} ready)",
                WaitAvailable(f"ml-api-{idle}", state.idle_replicas),
            ),
            Step(f"smoke-test {idle} through ml-api-preview", Smoke("ml-api-preview", expected)),
            *_serve(idle, state.min_replicas, expected),
        )
        restore_before = (
            Step(f"restore {idle}'s previous config", SetConfig(_colour_config(idle, current))),
            Step(f"pulumi up (restore {idle})", Up(f"restore {idle}")),
        )
        restore_after = (
            *_serve_again(active),
            Step(
                f"wait for ml-api-{active} ({state.min_replicas} ready)",
                WaitAvailable(f"ml-api-{active}", state.min_replicas),
            ),
        )
        plans.append(
            CloudPlan(
                cloud=cloud,
                stack=state.stack,
                steps=steps,
                flip_index=4,
                restore_before_flip=restore_before,
                restore_after_flip=restore_after,
            )
        )
    return Plan(kind="rollout", env=request.env, clouds=tuple(plans))


def plan_rollback(env: str, clouds: Sequence[Cloud], states: Sequence[CloudState]) -> Plan:
    """Serve the idle colour again (it still runs the previous version) on every cloud."""
    by_cloud = {state.cloud: state for state in states}
    plans = []
    for cloud in clouds:
        state = by_cloud.get(cloud)
        if state is None:
            raise PlanError(f"no -apps stack state for {cloud} in {env}")
        if state.idle_replicas < 1:
            raise PlanError(
                f"{state.stack}: the idle colour runs no pod (idleReplicas 0); nothing to roll "
                "back to instantly"
            )
        idle, active = state.idle, state.active
        steps = (
            Step(f"check ml-api-{idle} is available", WaitAvailable(f"ml-api-{idle}", 1)),
            Step(f"smoke-test {idle} through ml-api-preview", Smoke("ml-api-preview", None)),
            *_serve(idle, state.min_replicas, None),
        )
        restore_after = _serve_again(active)
        plans.append(
            CloudPlan(
                cloud=cloud,
                stack=state.stack,
                steps=steps,
                flip_index=2,
                restore_before_flip=(),
                restore_after_flip=restore_after,
            )
        )
    return Plan(kind="rollback", env=env, clouds=tuple(plans))


# --- outcome -----------------------------------------------------------------------------------

StepStatus = Literal["ok", "failed", "skipped"]


@dataclass
class StepRecord:
    cloud: Cloud
    name: str
    status: StepStatus
    seconds: float
    detail: str = ""
    restore: bool = False


@dataclass
class Outcome:
    plan: Plan
    records: list[StepRecord] = field(default_factory=list)
    #: Clouds that finished on the new colour.
    done: list[Cloud] = field(default_factory=list)
    #: The cloud that failed (restored or not), if any.
    failed: Cloud | None = None
    restored: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.failed is None

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.records)

    @property
    def untouched(self) -> list[Cloud]:
        reached = set(self.done) | ({self.failed} if self.failed else set())
        return [c.cloud for c in self.plan.clouds if c.cloud not in reached]

    def summary(self) -> str:
        total = f"{self.seconds:.0f} s (target {self.plan.target_seconds} s)"
        if self.ok:
            return f"{self.plan.kind} done on {', '.join(self.done)} in {total}"
        parts = [f"{self.plan.kind} FAILED on {self.failed}: {self.error}"]
        parts.append(
            f"{self.failed} restored to its previous colour"
            if self.restored
            else f"{self.failed} could NOT be restored: check it by hand"
        )
        if self.done:
            parts.append(f"{', '.join(self.done)} already serve the new version")
        if self.untouched:
            parts.append(f"{', '.join(self.untouched)} untouched")
        parts.append(f"after {total}")
        return "; ".join(parts)
