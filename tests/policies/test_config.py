"""The Stratus policy config: validated once, turned into the engine's per-policy config."""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel

from policies.config import (
    PolicyConfigError,
    load_policy_config,
    pulumi_policy_config,
)
from policies.policy_pack import initial_config
from policies.rules import ALL_RULES


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_shipped_config_maps_shared_parameters_to_the_rules_that_take_them() -> None:
    document = pulumi_policy_config(load_policy_config())
    assert document["k8s-hpa-bounds"] == {"minReplicas": 2, "maxReplicas": 100}
    assert document["required-tags"]["requiredTags"] == [
        "owner",
        "cost-center",
        "environment",
        "project",
        "stack",
    ]
    assert document["allowed-regions"]["allowedRegions"]["azure"] == ["westeurope", "northeurope"]
    assert "k8s-namespace-default-deny" not in document  # mandatory, the default
    (exemption,) = document["aws-s3-kms-encryption"]["exemptions"]
    assert exemption["reason"].startswith("S3 delivers server access logs only to")


def test_initial_config_names_a_level_for_every_entry() -> None:
    # The engine reads an initial-config entry without a level as ADVISORY.
    config = initial_config(load_policy_config())
    assert config["k8s-hpa-bounds"]["enforcementLevel"] is EnforcementLevel.MANDATORY  # type: ignore[index]
    assert config["aws-s3-kms-encryption"]["enforcementLevel"] is EnforcementLevel.MANDATORY  # type: ignore[index]
    assert all("enforcementLevel" in entry for entry in config.values() if isinstance(entry, dict))


def test_rules_section_overrides_shared_parameters_for_one_rule(tmp_path: Path) -> None:
    config = load_policy_config(
        _write(
            tmp_path,
            "parameters: {environments: [prod]}\n"
            "rules: {aws-rds-deletion-protection: {environments: [prod, staging]}}\n"
            "enforcement: {all: advisory}\n",
        )
    )
    document = pulumi_policy_config(config)
    assert document["aws-rds-deletion-protection"]["environments"] == ["prod", "staging"]
    assert document["azure-postgres-backups"]["environments"] == ["prod"]
    assert document["all"] == "advisory"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("parameters: {requiredTagz: [a]}", "parameters: unknown key(s) requiredTagz"),
        (
            "enforcement: {no-such-rule: advisory}",
            "enforcement: unknown policy name(s) no-such-rule",
        ),
        ("enforcement: {k8s-probes: sometimes}", "enforcement.k8s-probes"),
        ("parameters: {maxReplicas: many}", "parameters of k8s-hpa-bounds: maxReplicas"),
        ("parameters: {minReplicas: 50, maxReplicas: 10}", "minReplicas 50 > maxReplicas 10"),
        (
            "exemptions: [{policy: k8s-probes, urn: '*', reason: short}]",
            "exemptions.0.reason",
        ),
        ("[1, 2]", "expected a mapping at the top level"),
        ("parameters: [", "cannot read policy config"),
    ],
)
def test_a_bad_config_is_a_clear_error_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PolicyConfigError, match=None) as caught:
        load_policy_config(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_every_rule_names_the_controls_it_mirrors() -> None:
    assert len(ALL_RULES) >= 30
    for rule in ALL_RULES:
        assert rule.controls, rule.name
        assert "(mirrors " in rule.description


def test_docs_rule_table_lists_every_rule_with_its_level() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "policies.md").read_text()
    for rule in ALL_RULES:
        assert f"| `{rule.name}` | {rule.level} |" in page, rule.name
