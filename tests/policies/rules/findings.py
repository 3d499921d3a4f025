"""Findings of one policy, keyed by the resource's logical name (the URN's last part)."""

from __future__ import annotations

from policies.report import StackReport


def found(report: StackReport, policy: str) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for v in report.violations:
        if v.policy == policy:
            result.setdefault(v.urn.rsplit("::", 1)[-1] if v.urn else "(stack)", []).append(
                v.message
            )
    return result


def levels(report: StackReport, policy: str) -> set[str]:
    return {v.level for v in report.violations if v.policy == policy}
