"""The ``-apps`` stacks' outputs read through ``StackReference``: a missing or malformed one fails
naming the stack and the output, and every cloud must serve the same host."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import StratusConfigError
from infra.traffic.endpoints import EndpointOutputError, parse_apps_outputs
from tests.platform.traffic.conftest import doctored, global_section, run_global

AWS_APPS = "organization/stratus/aws-prod-apps"


def _with_aws_outputs(**outputs: Any) -> None:
    run_global(global_section(), references={"aws-prod-apps": doctored("aws-prod-apps", **outputs)})


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({"ingressAddress": None}, "output 'ingressAddress' is missing — the ingress controller"),
        ({"healthUrl": None}, "output 'healthUrl' is missing — is it a Stratus -apps stack"),
        ({"cloud": "gcp"}, "output 'cloud' must be 'aws' or 'azure' (got 'gcp')"),
        ({"cloud": "azure"}, "output 'cloud' is 'azure', but the stack name says 'aws'"),
        ({"ingressHost": ["a"]}, "output 'ingressHost' must be a non-empty string (got ['a'])"),
        ({"ingressHost": "not a host"}, "output 'ingressHost' is not a DNS host name"),
        (
            {"healthUrl": "http://ml-api.prod.ml.example.org/readyz"},
            "output 'healthUrl' must be an https:// URL on the ingress host",
        ),
        (
            {"healthUrl": "https://elsewhere.example.org/readyz"},
            "output 'healthUrl' must be an https:// URL on the ingress host",
        ),
        ({"ingressAddress": "-bad-"}, "output 'ingressAddress' is neither an IPv4 address"),
    ],
)
def test_missing_or_malformed_output_names_stack_and_output(
    outputs: dict[str, Any], message: str
) -> None:
    with pytest.raises(EndpointOutputError) as failure:
        _with_aws_outputs(**outputs)
    assert str(failure.value).startswith(f"stack {AWS_APPS}: ")
    assert message in str(failure.value)


def test_clouds_serving_different_hosts_are_refused_naming_both() -> None:
    with pytest.raises(EndpointOutputError) as failure:
        _with_aws_outputs(ingressHost="api.example.org", healthUrl="https://api.example.org/readyz")
    message = str(failure.value)
    assert "output 'ingressHost' differ" in message
    assert f"{AWS_APPS}: api.example.org" in message
    assert "organization/stratus/azure-prod-apps: ml-api.prod.ml.example.org" in message


def test_a_missing_stack_reference_org_is_the_org_specific_error() -> None:
    with pytest.raises(StratusConfigError, match=r"stratus:pulumiOrg: required"):
        run_global(global_section(), **{"stratus:pulumiOrg": ""})


def test_health_route_and_port_come_from_the_health_url() -> None:
    parsed = parse_apps_outputs(
        "org/p/aws-dev-apps",
        {
            "cloud": "aws",
            "ingressHost": "ml-api.dev.example.org",
            "healthUrl": "https://ml-api.dev.example.org:8443/ready",
            "ingressAddress": "203.0.113.7",
        },
    )
    target = parsed.target("aws-dev-apps")
    assert (target.health_path, target.health_port, target.kind) == ("/ready", 8443, "ip")


def test_endpoints_whose_health_urls_differ_are_refused() -> None:
    with pytest.raises(StratusConfigError, match="output 'healthUrl' differ in path or port"):
        _with_aws_outputs(healthUrl="https://ml-api.prod.ml.example.org/healthz")
