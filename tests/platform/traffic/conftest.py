"""Helpers for the global-layer tests: the shipped ``stratus:global`` sections, edited copies,
and runs of the global stacks with such edits or with doctored lower-stack outputs."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from infra.offline import StackRun, run_stack, stack_values

RECORD = "aws:route53/record:Record"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
PROFILE = "azure-native:trafficmanager:Profile"
TM_ENDPOINT = "azure-native:trafficmanager:Endpoint"


def global_section(stack: str = "global-prod") -> dict[str, Any]:
    """A deep copy of the shipped ``stratus:global`` section, to edit in a test."""
    return copy.deepcopy(stack_values(stack)["stratus:global"])


def run_global(
    section: Mapping[str, Any],
    stack: str = "global-prod",
    *,
    references: Mapping[str, StackRun] | None = None,
    **override: Any,
) -> StackRun:
    """``stack`` run offline with ``section`` as its ``stratus:global``."""
    return run_stack(
        stack, override={"stratus:global": dict(section), **override}, references=references
    )


def doctored(stack: str, **outputs: Any) -> StackRun:
    """The offline run of ``stack`` with some outputs replaced (``None`` removes one)."""
    run = run_stack(stack)
    changed = {**run.outputs, **outputs}
    return StackRun(
        stack=run.stack,
        resources=run.resources,
        outputs={k: v for k, v in changed.items() if v is not None},
        secret_outputs=run.secret_outputs,
        config=run.config,
    )


def records(run: StackRun) -> dict[str, Any]:
    """Route 53 records by resource name (without the component prefix)."""
    prefix = "stratus-prod-dns-" if run.stack == "global-prod" else "stratus-dev-dns-"
    return {r.name.removeprefix(prefix): r for r in run.of_type(RECORD)}
