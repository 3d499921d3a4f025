"""Compose a stack from its name and configuration.

* ``aws-<env>`` / ``azure-<env>``: that cloud's foundation (exports the foundation contract);
* ``aws-<env>-apps`` / ``azure-<env>-apps``: the in-cluster layer, reading the foundation contract;
* ``global-<env>``: the cross-cloud traffic layer.
"""

from __future__ import annotations

from infra.config import StackIdentity, read_identity


def build_foundation(identity: StackIdentity) -> None:
    if identity.cloud == "aws":
        from infra.aws import build_stack as build_aws

        build_aws(identity)
    else:
        from infra.azure import build_stack as build_azure

        build_azure(identity)


def build_apps(identity: StackIdentity) -> None:
    from infra.k8s import build_stack

    build_stack(identity)


def build_global(identity: StackIdentity) -> None:
    from infra.traffic import build_stack

    build_stack(identity)


def main() -> None:
    identity = read_identity()
    builders = {"foundation": build_foundation, "apps": build_apps, "global": build_global}
    builders[identity.layer](identity)
