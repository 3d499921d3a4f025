"""``stratus:apps``: defaults from the seed, bad values fail naming the key, quotas fit."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import StratusConfigError
from infra.k8s.config import AppsConfig
from infra.offline import run_stack
from tests.platform.k8s.conftest import apps_section, named


def _fails(edit: dict[str, Any], where: str, message: str) -> None:
    section = apps_section("aws-prod-apps")
    for dotted, value in edit.items():
        node = section
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    with pytest.raises(StratusConfigError) as caught:
        run_stack("aws-prod-apps", override={"stratus:apps": section})
    assert where in str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("edit", "where", "message"),
    [
        ({"api.activeColour": "red"}, "stratus:apps.api.activeColour", "'blue' or 'green'"),
        (
            {"api.replicas": {"min": 5, "max": 3}},
            "stratus:apps.api.replicas",
            "max (3) must be >= min (5)",
        ),
        (
            {"api.cpuTargetPercent": 5},
            "stratus:apps.api.cpuTargetPercent",
            "greater than or equal to 10",
        ),
        ({"api.resources.cpu": "lots"}, "stratus:apps.api.resources.cpu", "is not a CPU quantity"),
        (
            {"api.resources.memoryLimit": "128Mi"},
            "stratus:apps.api.resources",
            "memoryLimit 128Mi is below the memory request 512Mi",
        ),
        (
            {"api.blue.model": {"alias": "champion", "version": 3}},
            "stratus:apps.api.blue.model",
            "set either alias or version, not both",
        ),
        ({"training.schedule": "weekly"}, "stratus:apps.training.schedule", "five-field cron"),
        ({"ingress.host": "Not A Host"}, "stratus:apps.ingress.host", "is not a DNS host name"),
        (
            {"ingress.tls.acme.email": "nobody"},
            "stratus:apps.ingress.tls.acme.email",
            "not an e-mail",
        ),
        ({"api.colour": "blue"}, "stratus:apps.api.colour", "Extra inputs are not permitted"),
        (
            {
                "namespaces.mlApi.quota": {
                    "requestsCpu": "1",
                    "requestsMemory": "1Gi",
                    "limitsCpu": "2",
                    "limitsMemory": "2Gi",
                    "pods": 5,
                }
            },
            "stratus:apps.namespaces.mlApi.quota.requestsCpu",
            "too small for the namespace's workload",
        ),
    ],
)
def test_invalid_values_fail_naming_the_key(edit: dict[str, Any], where: str, message: str) -> None:
    _fails(edit, where, message)


def test_missing_section_fails() -> None:
    from infra.offline import stack_config

    config = {k: v for k, v in stack_config("aws-dev-apps").items() if k != "stratus:apps"}
    with pytest.raises(StratusConfigError, match="stratus:apps: required section is missing"):
        run_stack("aws-dev-apps", config=config)


def test_defaults_match_the_seed() -> None:
    config = AppsConfig.model_validate(
        {
            "api": {"blue": {"image": "1.0.0"}, "green": {"image": "1.0.0"}},
            "training": {"image": "1.0.0"},
        }
    )
    assert (config.api.replicas.min, config.api.replicas.max) == (3, 20)
    assert config.api.active_colour == "blue"
    assert config.api.blue.model.alias == "champion"
    assert config.training.schedule == "0 3 * * 0"


def test_derived_quotas_hold_the_api_at_its_maximum(apps: Any) -> None:
    api = apps_section(apps.stack)["api"]
    quota = named(apps, "ResourceQuota", "compute", "ml-api").get("spec.hard")
    pods = api["replicas"]["max"] + api.get("idleReplicas", 1) + 1
    assert int(quota["pods"]) >= pods
    cpu = api["resources"]["cpu"]
    per_pod = int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    assert int(quota["requests.cpu"].removesuffix("m")) / 1000 >= pods * per_pod
