"""Labels every Kubernetes object of the in-cluster layer carries (what tags are in the clouds)."""

from __future__ import annotations

import re

from infra.config import StackIdentity

_INVALID = re.compile(r"[^A-Za-z0-9._-]")


def label_value(value: str) -> str:
    """``value`` made a valid label value: at most 63 characters of ``[A-Za-z0-9._-]``, starting
    and ending alphanumeric."""
    cleaned = _INVALID.sub("-", value)[:63].strip("-._")
    return cleaned


def standard_labels(identity: StackIdentity) -> dict[str, str]:
    return {
        "app.kubernetes.io/part-of": "stratus",
        "app.kubernetes.io/managed-by": "pulumi",
        "stratus.io/stack": label_value(identity.stack),
        "stratus.io/environment": identity.environment,
        "stratus.io/owner": label_value(identity.common.owner),
        "stratus.io/cost-center": label_value(identity.common.cost_center),
    }
