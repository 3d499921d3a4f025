"""The engine's policy-config reconciliation, against the real pack's ``AnalyzerInfo``."""

from __future__ import annotations

import pytest

from policies.engine.reconcile import PolicyConfigInvalidError, reconcile
from tests.policies.harness import Packs


@pytest.fixture(scope="module")
def info(packs: Packs) -> object:
    return packs.session("aws-dev").info


def test_defaults_then_initial_config_then_given_config(info: object) -> None:
    result = reconcile(info, None)
    assert result["k8s-hpa-bounds"].level == "mandatory"
    assert result["k8s-hpa-bounds"].properties == {
        "minReplicas": 2,
        "maxReplicas": 100,
        "exemptions": [],  # the schema's default
    }
    # The shipped config is the pack's initial config: its exemptions are there.
    (exemption,) = result["aws-s3-kms-encryption"].properties["exemptions"]
    assert "access-logs" in str(exemption)
    given = reconcile(info, {"all": "advisory", "k8s-hpa-bounds": {"maxReplicas": 20}})
    assert given["aws-rds-private"].level == "advisory"
    assert given["k8s-hpa-bounds"].properties["maxReplicas"] == 20
    assert reconcile(info, {"k8s-probes": "disabled"})["k8s-probes"].level == "disabled"


def test_config_is_validated_against_each_policy_schema(info: object) -> None:
    with pytest.raises(PolicyConfigInvalidError) as caught:
        reconcile(
            info,
            {
                "k8s-hpa-bounds": {"maxReplicas": "many"},
                "aws-rds-backups": {"minBackupRetentionDays": 90},
            },
        )
    text = str(caught.value)
    assert "k8s-hpa-bounds: maxReplicas: 'many' is not of type 'integer'" in text
    assert "aws-rds-backups: minBackupRetentionDays: 90 is greater than the maximum of 35" in text


def test_invalid_level_is_refused(info: object) -> None:
    with pytest.raises(PolicyConfigInvalidError, match="'sometimes' is not a valid enforcement"):
        reconcile(info, {"k8s-probes": "sometimes"})
