"""The one tag set every taggable resource carries, on both clouds."""

from __future__ import annotations

from collections.abc import Mapping

TAG_KEYS = ("project", "stack", "environment", "cloud", "owner", "cost-center")


def standard_tags(
    *,
    project: str,
    stack: str,
    environment: str,
    cloud: str,
    owner: str,
    cost_center: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Tags for one stack; ``extra`` may add keys but never override the standard ones."""
    tags = dict(extra or {})
    tags.update(
        {
            "project": project,
            "stack": stack,
            "environment": environment,
            "cloud": cloud,
            "owner": owner,
            "cost-center": cost_center,
        }
    )
    return tags
