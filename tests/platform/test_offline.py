"""``infra.offline``: the one offline runner for tests, render, policies and cost."""

from __future__ import annotations

import pytest

from infra.config import StratusConfigError
from infra.offline import (
    MOCK_PASSWORD,
    OfflineError,
    apply_overrides,
    mock_password,
    offline_overrides,
    run_stack,
    shipped_stacks,
    stack_config,
    stack_values,
)


def test_shipped_stacks_are_the_four_foundations_and_their_apps_stacks() -> None:
    assert {
        "aws-dev",
        "aws-prod",
        "azure-dev",
        "azure-prod",
        "aws-dev-apps",
        "aws-prod-apps",
        "azure-dev-apps",
        "azure-prod-apps",
    } <= set(shipped_stacks())


def test_unknown_stack_is_a_clear_error() -> None:
    with pytest.raises(OfflineError, match=r"unknown stack 'aws-qa'.*shipped stacks: .*aws-dev"):
        run_stack("aws-qa")


def test_a_malformed_stack_name_is_refused_by_the_program() -> None:
    with pytest.raises(StratusConfigError, match="is not one of <cloud>-<env>"):
        run_stack("global-dev-apps", config={"stratus:owner": "x", "stratus:costCenter": "y"})


def test_overrides_set_plain_keys_everywhere_and_merge_objects_only_into_their_own() -> None:
    base = {"stratus:owner": "team", "stratus:azure": {"cluster": {"skuTier": "Free"}}}
    overrides = {
        "stratus:pulumiOrg": "acme",
        "stratus:azure": {"cluster": {"adminGroupObjectIds": ["g"]}},
        "stratus:aws": {"cluster": {"adminRoleArns": ["r"]}},
    }
    merged = apply_overrides(base, overrides)
    assert merged == {
        "stratus:owner": "team",
        "stratus:pulumiOrg": "acme",
        "stratus:azure": {"cluster": {"skuTier": "Free", "adminGroupObjectIds": ["g"]}},
    }


def test_offline_values_come_from_the_overrides_file_not_the_stack_files() -> None:
    overrides = offline_overrides()
    assert overrides["stratus:pulumiOrg"]
    azure = stack_values("azure-prod")["stratus:azure"]["cluster"]
    assert (
        azure["adminGroupObjectIds"] == overrides["stratus:azure"]["cluster"]["adminGroupObjectIds"]
    )
    raw = stack_values("azure-prod", with_overrides=False)["stratus:azure"]["cluster"]
    assert "adminGroupObjectIds" not in raw
    assert "stratus:azure" not in stack_values("aws-dev")


def test_config_reaches_the_program_as_the_engine_hands_it() -> None:
    config = stack_config("aws-dev")
    assert config["aws:region"] == "eu-west-1"
    assert config["stratus:aws"].startswith("{")  # structured values as JSON


def test_each_generated_password_is_its_own_secret() -> None:
    """One value for every mocked password made unrelated secrets look like one: the policy that
    follows secrets into stack outputs saw the API keys in the log writer's password."""
    run = run_stack("aws-dev-apps")
    writer = run.named("stratus-dev-observability-logging-log-writer-user")
    values = [
        writer.get("stringData.password"),
        run.outputs["apiKeys"]["predict"],
        run.outputs["apiKeys"]["admin"],
    ]
    assert len(set(values)) == len(values)
    assert all(value.startswith(MOCK_PASSWORD) for value in values)
    assert values[0] == mock_password("stratus-dev-observability-logging-log-writer-password")
