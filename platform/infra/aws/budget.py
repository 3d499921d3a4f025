"""The stack's monthly AWS Budget: cost of the resources tagged with this stack, alerting the
configured e-mails / SNS topics when the forecast or the actual spend passes each threshold.

The cost filter is the ``stack`` tag every resource carries (``user:stack$<stack>``): activate
``stack`` as a cost allocation tag in the Billing console once, or the budget sees no spend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

import pulumi
import pulumi_aws as aws
from pydantic import Field

from infra.budget import BudgetConfig

_NOTIFICATION_TYPE = {"forecast": "FORECASTED", "actual": "ACTUAL"}


class AwsBudgetConfig(BudgetConfig):
    """``stratus:aws.budget``."""

    #: SNS topics (e.g. one with an HTTPS webhook or chat subscription) alerted besides e-mail.
    sns_topic_arns: list[
        Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:")]
    ] = Field(default_factory=list, max_length=10)

    def recipients(self) -> int:
        return len(self.emails) + len(self.sns_topic_arns)


@dataclass(frozen=True)
class BudgetArgs:
    config: AwsBudgetConfig
    budget_name: str
    stack: str
    tags: Mapping[str, str]


class Budget(pulumi.ComponentResource):
    budget: aws.budgets.Budget

    def __init__(
        self, name: str, args: BudgetArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:aws:Budget", name, None, opts)
        config = args.config
        self.budget = aws.budgets.Budget(
            f"{name}-monthly",
            name=args.budget_name,
            budget_type="COST",
            limit_amount=f"{config.monthly_limit_usd:.2f}",
            limit_unit="USD",
            time_unit="MONTHLY",
            time_period_start=f"{config.start_date}_00:00",
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(
                    name="TagKeyValue", values=[f"user:stack${args.stack}"]
                )
            ],
            notifications=[
                aws.budgets.BudgetNotificationArgs(
                    comparison_operator="GREATER_THAN",
                    notification_type=_NOTIFICATION_TYPE[threshold.kind],
                    threshold=threshold.percent,
                    threshold_type="PERCENTAGE",
                    subscriber_email_addresses=list(config.emails) or None,
                    subscriber_sns_topic_arns=list(config.sns_topic_arns) or None,
                )
                for threshold in config.thresholds
            ],
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"budgetName": self.budget.name})
