"""The monthly budget of every foundation stack, on both clouds, run offline from the shipped
stack files (``stratus:aws.budget`` / ``stratus:azure.budget``)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.config import StratusConfigError
from infra.offline import run_stack, stack_values

AWS_BUDGET = "aws:budgets/budget:Budget"
AZURE_BUDGET = "azure-native:consumption:Budget"


def section(stack: str) -> dict[str, Any]:
    cloud = stack.split("-", 1)[0]
    return copy.deepcopy(stack_values(stack)[f"stratus:{cloud}"])


@pytest.mark.parametrize("stack", ["aws-dev", "aws-prod"])
def test_aws_budget_filters_the_stack_tag_and_alerts_on_forecast_and_actual(stack: str) -> None:
    run = run_stack(stack)
    budget = run.one(AWS_BUDGET)
    expected_limit = section(stack)["budget"]["monthlyLimitUsd"]
    assert budget.get("limitAmount") == f"{expected_limit:.2f}"
    assert (budget.get("limitUnit"), budget.get("timeUnit"), budget.get("budgetType")) == (
        "USD",
        "MONTHLY",
        "COST",
    )
    assert budget.get("costFilters") == [{"name": "TagKeyValue", "values": [f"user:stack${stack}"]}]
    kinds = {(n["notificationType"], n["threshold"]) for n in budget.get("notifications")}
    assert kinds == {("FORECASTED", 80.0), ("ACTUAL", 100.0)}
    for notification in budget.get("notifications"):
        assert notification["subscriberEmailAddresses"] == ["platform-budget@example.com"]
        assert notification["thresholdType"] == "PERCENTAGE"
    assert budget.get("tags.stack") == stack
    assert run.by_urn()[budget.parent].type == "stratus:aws:Budget"


@pytest.mark.parametrize("stack", ["azure-dev", "azure-prod"])
def test_azure_budget_is_scoped_to_the_resource_group(stack: str) -> None:
    run = run_stack(stack)
    budget = run.one(AZURE_BUDGET)
    group = run.one("azure-native:resources:ResourceGroup")
    assert budget.get("scope") == f"{group.name}-id"
    assert budget.get("amount") == section(stack)["budget"]["monthlyLimitUsd"]
    assert (budget.get("timeGrain"), budget.get("category")) == ("Monthly", "Cost")
    assert budget.get("timePeriod.startDate") == "2025-01-01T00:00:00Z"
    notifications = budget.get("notifications")
    assert set(notifications) == {"forecast-80pct", "actual-100pct"}
    assert notifications["forecast-80pct"]["thresholdType"] == "Forecasted"
    assert notifications["actual-100pct"]["thresholdType"] == "Actual"
    assert notifications["actual-100pct"]["contactEmails"] == ["platform-budget@example.com"]


@pytest.mark.parametrize("stack", ["aws-dev", "azure-dev"])
def test_a_budget_without_recipients_fails_with_the_config_command(stack: str) -> None:
    cloud = stack.split("-", 1)[0]
    edited = section(stack)
    edited["budget"]["emails"] = []
    with pytest.raises(StratusConfigError) as caught:
        run_stack(stack, override={f"stratus:{cloud}": edited})
    message = str(caught.value)
    assert f"stratus:{cloud}.budget.emails[0]: required" in message
    assert f"pulumi config set --path 'stratus:{cloud}.budget.emails[0]'" in message


@pytest.mark.parametrize("stack", ["aws-dev", "azure-dev"])
def test_a_disabled_budget_needs_no_recipient_and_creates_nothing(stack: str) -> None:
    cloud = stack.split("-", 1)[0]
    edited = section(stack)
    edited["budget"] = {"enabled": False, "monthlyLimitUsd": 1}
    run = run_stack(stack, override={f"stratus:{cloud}": edited})
    assert not run.of_type(AWS_BUDGET)
    assert not run.of_type(AZURE_BUDGET)


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        ({"monthlyLimitUsd": 0}, "budget.monthlyLimitUsd", "greater than 0"),
        (
            {"thresholds": [{"percent": 80, "kind": "weekly"}]},
            "budget.thresholds[0].kind",
            "'forecast' or 'actual'",
        ),
        (
            {"thresholds": [{"percent": 80, "kind": "actual"}, {"percent": 80, "kind": "actual"}]},
            "budget",
            "same percent and kind twice",
        ),
        ({"emails": ["not-an-address"]}, "budget.emails[0]", "String should match pattern"),
        ({"startDate": "2025-01-15"}, "budget.startDate", "String should match pattern"),
    ],
)
@pytest.mark.parametrize("stack", ["aws-dev", "azure-dev"])
def test_invalid_budget_config_names_the_key(
    stack: str, change: dict[str, Any], key: str, reason: str
) -> None:
    cloud = stack.split("-", 1)[0]
    edited = section(stack)
    edited["budget"].update(change)
    with pytest.raises(StratusConfigError) as caught:
        run_stack(stack, override={f"stratus:{cloud}": edited})
    assert f"stratus:{cloud}.{key}: " in str(caught.value)
    assert reason in str(caught.value)


def test_webhook_recipients_replace_emails() -> None:
    edited = section("aws-dev")
    edited["budget"]["emails"] = []
    edited["budget"]["snsTopicArns"] = ["arn:aws:sns:eu-west-1:123456789012:budget-alerts"]
    budget = run_stack("aws-dev", override={"stratus:aws": edited}).one(AWS_BUDGET)
    for notification in budget.get("notifications"):
        assert notification["subscriberSnsTopicArns"] == [
            "arn:aws:sns:eu-west-1:123456789012:budget-alerts"
        ]
        assert "subscriberEmailAddresses" not in notification
