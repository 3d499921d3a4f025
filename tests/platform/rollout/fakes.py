"""An in-memory deployment for the rollout logic: stack config that ``up`` applies, Deployments
that become available, Services that serve what their colour runs — and scripted failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.rollout.execute import StepFailedError
from infra.rollout.plan import Cloud, CloudState, Colour, ColourState


@dataclass
class FakeStack:
    config: dict[str, Any]
    deployed: dict[str, Any] = field(default_factory=dict)
    ups: int = 0


def initial_config(image: str = "1.0.0", version: int = 3) -> dict[str, Any]:
    return {
        "stratus:apps.api.activeColour": "blue",
        "stratus:apps.api.blue.image": image,
        "stratus:apps.api.blue.model.name": "stratus-classifier",
        "stratus:apps.api.blue.model.alias": "champion",
        "stratus:apps.api.blue.model.version": None,
        "stratus:apps.api.green.image": image,
        "stratus:apps.api.green.model.name": "stratus-classifier",
        "stratus:apps.api.green.model.alias": "champion",
        "stratus:apps.api.green.model.version": None,
        "champion": version,
    }


def state_of(cloud: Cloud, stack: str, config: dict[str, Any]) -> CloudState:
    def colour(c: Colour) -> ColourState:
        return ColourState(
            image=config[f"stratus:apps.api.{c}.image"],
            model_name=config[f"stratus:apps.api.{c}.model.name"],
            model_alias=config[f"stratus:apps.api.{c}.model.alias"],
            model_version=config[f"stratus:apps.api.{c}.model.version"],
        )

    return CloudState(
        cloud=cloud,
        stack=stack,
        active=config["stratus:apps.api.activeColour"],
        colours={"blue": colour("blue"), "green": colour("green")},
        idle_replicas=1,
        min_replicas=3,
    )


class FakeEdges:
    """``broken_images`` never become available or answer wrong; ``fail`` scripts failures as
    ``(stack, what)`` with what in ``up``, ``wait:<deployment>``, ``smoke:<service>``,
    ``version``; each scripted failure fires once."""

    def __init__(
        self,
        stacks: dict[str, FakeStack],
        *,
        broken_images: set[str] | None = None,
        fail: list[tuple[str, str]] | None = None,
    ) -> None:
        self.stacks = stacks
        self.broken_images = broken_images or set()
        self.fail = list(fail or [])
        self.calls: list[tuple[str, str]] = []
        for stack in stacks.values():
            stack.deployed = dict(stack.config)

    def _maybe_fail(self, stack: str, what: str) -> None:
        self.calls.append((stack, what))
        if (stack, what) in self.fail:
            self.fail.remove((stack, what))
            raise StepFailedError(f"scripted failure of {what}")

    def serving(self, stack: str, service: str) -> tuple[str, str]:
        """(image, model version) that ``service`` serves on the deployed state."""
        deployed = self.stacks[stack].deployed
        active = deployed["stratus:apps.api.activeColour"]
        colour = active if service == "ml-api" else ("green" if active == "blue" else "blue")
        version = deployed[f"stratus:apps.api.{colour}.model.version"] or deployed["champion"]
        return deployed[f"stratus:apps.api.{colour}.image"], str(version)

    def set_config(self, stack: str, values: dict[str, Any]) -> None:
        self._maybe_fail(stack, "set-config")
        self.stacks[stack].config.update(values)

    def up(self, stack: str) -> None:
        self._maybe_fail(stack, "up")
        target = self.stacks[stack]
        target.deployed = dict(target.config)
        target.ups += 1

    def wait_available(self, stack: str, deployment: str, replicas: int) -> None:
        self._maybe_fail(stack, f"wait:{deployment}")
        colour = deployment.removeprefix("ml-api-")
        image = self.stacks[stack].deployed[f"stratus:apps.api.{colour}.image"]
        if image in self.broken_images:
            raise StepFailedError(f"{deployment} not available: image {image} crash-loops")

    def served_version(self, stack: str, service: str) -> str:
        self._maybe_fail(stack, "version")
        return self.serving(stack, service)[1]

    def smoke(self, stack: str, service: str, expected_version: str) -> None:
        self._maybe_fail(stack, f"smoke:{service}")
        image, version = self.serving(stack, service)
        if image in self.broken_images:
            raise StepFailedError(f"{service} answered 500 (image {image})")
        if version != expected_version:
            raise StepFailedError(
                f"{service} serves version {version}, expected {expected_version}"
            )
