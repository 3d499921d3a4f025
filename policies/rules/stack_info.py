"""Which stack a policy is judging: its cloud, environment and layer, from the stack name.

The engine hands the stack name to the policy pack process (``PULUMI_STACK``), and the CrossGuard
SDK sets it as the Pulumi runtime's stack before each analysis. Stratus stacks are named
``<cloud>-<env>`` (a foundation), ``<cloud>-<env>-apps`` (the in-cluster layer) and
``global-<env>``; a stack of another shape gets no cloud or environment, and rules that need them
judge it by the resource alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi

_STACK_NAME = re.compile(r"^(?P<kind>aws|azure|global)-(?P<env>[a-z0-9]+)(?P<apps>-apps)?$")


@dataclass(frozen=True)
class StackInfo:
    name: str
    cloud: str | None = None
    environment: str | None = None
    layer: str | None = None

    @staticmethod
    def parse(name: str) -> StackInfo:
        match = _STACK_NAME.match(name)
        if match is None:
            return StackInfo(name)
        kind = match["kind"]
        layer = "global" if kind == "global" else ("apps" if match["apps"] else "foundation")
        return StackInfo(name, None if kind == "global" else kind, match["env"], layer)

    @staticmethod
    def current() -> StackInfo:
        return StackInfo.parse(pulumi.get_stack())
