"""Shared helpers for the Azure stack tests: the shipped stack files and their expected tags."""

from __future__ import annotations

import copy
from typing import Any

from infra.offline import stack_values


def stack_document(stack: str) -> dict[str, Any]:
    """The stack's config as offline runs see it (file + ``stacks/offline-overrides.yaml``)."""
    return stack_values(stack)


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
