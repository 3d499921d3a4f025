"""The stack's monthly Azure consumption budget, scoped to its resource group, alerting the
configured e-mails / action groups when the forecast or the actual spend passes each threshold.

``azure-native:consumption:Budget`` with the resource group's id as ``scope`` is the ARM
``Microsoft.Consumption/budgets`` resource at resource-group scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pulumi
import pulumi_azure_native.consumption as consumption
from pydantic import Field

from infra.budget import BudgetConfig

_THRESHOLD_TYPE = {"forecast": "Forecasted", "actual": "Actual"}


class AzureBudgetConfig(BudgetConfig):
    """``stratus:azure.budget``."""

    #: Action groups (resource ids; webhooks, chat, runbooks) alerted besides e-mail.
    action_group_ids: list[Annotated[str, Field(pattern=r"^/subscriptions/[^/]+/")]] = Field(
        default_factory=list, max_length=10
    )

    def recipients(self) -> int:
        return len(self.emails) + len(self.action_group_ids)


@dataclass(frozen=True)
class BudgetArgs:
    config: AzureBudgetConfig
    budget_name: str
    resource_group_id: pulumi.Input[str]


class Budget(pulumi.ComponentResource):
    budget: consumption.Budget

    def __init__(
        self, name: str, args: BudgetArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:azure:Budget", name, None, opts)
        config = args.config
        self.budget = consumption.Budget(
            f"{name}-monthly",
            budget_name=args.budget_name,
            scope=args.resource_group_id,
            amount=config.monthly_limit_usd,
            category=consumption.CategoryType.COST,
            time_grain=consumption.TimeGrainType.MONTHLY,
            time_period=consumption.BudgetTimePeriodArgs(
                start_date=f"{config.start_date}T00:00:00Z"
            ),
            notifications={
                f"{threshold.kind}-{threshold.percent:g}pct": consumption.NotificationArgs(
                    enabled=True,
                    operator=consumption.OperatorType.GREATER_THAN,
                    threshold=threshold.percent,
                    threshold_type=_THRESHOLD_TYPE[threshold.kind],
                    contact_emails=list(config.emails),
                    contact_groups=list(config.action_group_ids) or None,
                )
                for threshold in config.thresholds
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"budgetName": self.budget.name})
