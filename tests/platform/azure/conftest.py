"""Shared helpers for the Azure stack tests: the shipped stack files and their expected tags."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from pulumi.runtime.mocks import MockMonitor

from tests.platform.harness import STACKS


def stack_document(stack: str) -> dict[str, Any]:
    return yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]


def azure_section(stack: str) -> dict[str, Any]:
    """A deep copy of the stack's ``stratus:azure`` section, to modify in a test."""
    return copy.deepcopy(stack_document(stack)["stratus:azure"])


def expected_tags(stack: str) -> dict[str, str]:
    document = stack_document(stack)
    return {
        "project": "stratus",
        "stack": stack,
        "environment": stack.split("-", 1)[1],
        "cloud": "azure",
        "owner": document["stratus:owner"],
        "cost-center": document["stratus:costCenter"],
    }


@dataclass(frozen=True)
class Options:
    """Resource options as the engine receives them (the harness records inputs only)."""

    type: str
    parent: str
    ignore_changes: tuple[str, ...]


@pytest.fixture(scope="module")
def registration_options() -> Iterator[dict[str, Options]]:
    """Record each registration's parent URN and ``ignoreChanges``, keyed by resource name."""
    recorded: dict[str, Options] = {}
    original = MockMonitor.RegisterResource

    def record(self: MockMonitor, request: Any) -> Any:
        recorded[request.name] = Options(
            type=request.type,
            parent=request.parent,
            ignore_changes=tuple(request.ignoreChanges),
        )
        return original(self, request)

    patch = pytest.MonkeyPatch()
    patch.setattr(MockMonitor, "RegisterResource", record)
    yield recorded
    patch.undo()
