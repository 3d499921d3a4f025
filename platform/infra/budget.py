"""The monthly budget every foundation stack carries (``stratus:aws.budget``,
``stratus:azure.budget``), the same shape on both clouds.

The amount and the alert thresholds are platform decisions and ship in the stack files. Who is
alerted is org-specific: like ``stratus:pulumiOrg``, no shipped file can know it, so a budget
with no recipient fails with the ``pulumi config set`` command to run (a budget that alerts
nobody is the failure budgets exist to prevent). ``enabled: false`` turns the budget off
explicitly. Offline runs take an example address from ``stacks/offline-overrides.yaml``.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from infra.config import ConfigModel, missing_org_value

Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
#: Both clouds allow at most five notifications per budget.
MAX_THRESHOLDS = 5


class Threshold(ConfigModel):
    """Alert when ``actual`` spend or the month's ``forecast`` passes ``percent`` of the limit."""

    percent: float = Field(gt=0, le=1000)
    kind: Literal["forecast", "actual"]


def _default_thresholds() -> list[Threshold]:
    return [Threshold(percent=80, kind="forecast"), Threshold(percent=100, kind="actual")]


class BudgetConfig(ConfigModel):
    """Common keys; each cloud adds its own non-e-mail recipients."""

    enabled: bool = True
    monthly_limit_usd: float = Field(gt=0, le=10_000_000)
    thresholds: list[Threshold] = Field(
        default_factory=_default_thresholds, min_length=1, max_length=MAX_THRESHOLDS
    )
    #: Org-specific: who receives the alerts.
    emails: list[Email] = Field(default_factory=list, max_length=10)
    #: The first month the budget counts (the first of a month; Azure requires it).
    start_date: str = Field(default="2025-01-01", pattern=r"^20\d\d-(0[1-9]|1[0-2])-01$")

    @model_validator(mode="after")
    def _distinct_thresholds(self) -> Self:
        seen = {(t.percent, t.kind) for t in self.thresholds}
        if len(seen) != len(self.thresholds):
            raise ValueError("thresholds lists the same percent and kind twice")
        return self

    def recipients(self) -> int:
        return len(self.emails)

    def require_recipients(self, section: str) -> None:
        """A budget that is on must alert someone (org-specific, like ``pulumiOrg``)."""
        if self.enabled and self.recipients() == 0:
            raise missing_org_value(
                f"stratus:{section}.budget.emails[0]",
                "an address that receives the monthly budget alerts (or set "
                f"stratus:{section}.budget.enabled to false)",
                "finops@your-org.example",
                path=True,
            )
