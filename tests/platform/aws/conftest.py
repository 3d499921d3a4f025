"""Each shipped AWS stack runs once per test module, under the mocks of ``mocks.py``."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

import infra.offline  # noqa: F401 - registers the mock tables
from infra.offline import Registered, StackRun, run_stack, stack_values

AWS_STACKS = ("aws-dev", "aws-prod")


def stack_file(stack: str) -> dict[str, Any]:
    """The stack's config as offline runs see it (file + ``stacks/offline-overrides.yaml``)."""
    return stack_values(stack)


def aws_section(stack: str) -> dict[str, Any]:
    """A deep copy of the stack's ``stratus:aws`` section, to modify for override runs."""
    return copy.deepcopy(stack_file(stack)["stratus:aws"])


def policy(resource: Registered, key: str = "policy") -> dict[str, Any]:
    document = resource.inputs[key]
    assert isinstance(document, str), f"{resource.name}.{key} is not a JSON string"
    parsed: dict[str, Any] = json.loads(document)
    return parsed


@pytest.fixture(scope="module")
def dev() -> StackRun:
    return run_stack("aws-dev")


@pytest.fixture(scope="module")
def prod() -> StackRun:
    return run_stack("aws-prod")


@pytest.fixture(scope="module", params=AWS_STACKS)
def stack(request: pytest.FixtureRequest) -> StackRun:
    """Both shipped stacks, one after the other (the same runs as ``dev`` and ``prod``)."""
    run: StackRun = request.getfixturevalue("dev" if request.param == "aws-dev" else "prod")
    return run
