"""Compose a stack from its configuration.

``aws-<env>`` and ``azure-<env>`` stacks build that cloud's foundation; ``global-<env>`` builds the
cross-cloud traffic layer from the cloud stacks' outputs.
"""

from __future__ import annotations

from infra.config import StackIdentity, StratusConfigError, read_identity


def build_aws(identity: StackIdentity) -> None:
    from infra.aws import build_stack

    build_stack(identity)


def build_azure(identity: StackIdentity) -> None:
    from infra.azure import build_stack

    build_stack(identity)


def main() -> None:
    identity = read_identity()
    builders = {"aws": build_aws, "azure": build_azure}
    builder = builders.get(identity.kind)
    if builder is None:
        raise StratusConfigError(f"stack kind {identity.kind!r} has no program yet")
    builder(identity)
