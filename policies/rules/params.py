"""Parameter models several rules share (so one policy-config key means one thing everywhere)."""

from __future__ import annotations

from pydantic import Field

from policies.rules.base import Params


class EnvironmentParams(Params):
    environments: tuple[str, ...] = Field(
        default=("prod",), description="environments (from the stack name) the rule applies to"
    )


class BackupParams(Params):
    min_backup_retention_days: int = Field(default=7, ge=1, le=35)


class AdminPortParams(Params):
    admin_ports: tuple[int, ...] = Field(
        default=(22, 3389, 5432, 3306, 6443, 10250),
        description="ports never open to the internet (SSH, RDP, databases, Kubernetes APIs)",
    )
