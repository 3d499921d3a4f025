"""The typed reader of the ``-apps`` stacks' outputs the global layer routes to.

Each ``-apps`` stack exports ``cloud``, ``ingressHost`` (the same host on every cloud of an
environment), ``healthUrl`` (the ML API's readiness route through that host) and
``ingressAddress`` (the load balancer's DNS name on AWS, its IP on Azure). They are read through a
``StackReference`` as plain values (stack outputs are known during preview), validated, and a
missing or malformed one fails with a message naming the stack and the output.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pulumi
from pulumi.runtime.sync_await import _sync_await

from infra.config import StratusConfigError
from infra.traffic.config import EndpointConfig, dns_name, split_stack_reference
from infra.traffic.plan import Target

OUTPUTS = ("cloud", "ingressHost", "healthUrl", "ingressAddress")


class EndpointOutputError(StratusConfigError):
    """An ``-apps`` stack's outputs cannot be routed to; the message names the stack and output."""


@dataclass(frozen=True)
class AppsOutputs:
    """What the global layer reads of one ``-apps`` stack, validated."""

    stack: str
    cloud: str
    ingress_host: str
    health_path: str
    health_port: int
    ingress_address: str

    def target(self, name: str) -> Target:
        return Target(
            name=name,
            cloud=self.cloud,
            address=self.ingress_address,
            host=self.ingress_host,
            health_path=self.health_path,
            health_port=self.health_port,
        )


def _fail(stack: str, output: str, problem: str) -> EndpointOutputError:
    return EndpointOutputError(f"stack {stack}: output {output!r} {problem}")


def _text(stack: str, output: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(stack, output, f"must be a non-empty string (got {value!r})")
    return value


def parse_apps_outputs(stack: str, outputs: Mapping[str, Any]) -> AppsOutputs:
    """Validate an ``-apps`` stack's outputs (output name → value)."""
    for output in OUTPUTS:
        if outputs.get(output) is None:
            hint = (
                "the ingress controller has not published its load balancer address yet; "
                f"re-run `pulumi up --stack {stack.rsplit('/', 1)[-1]}` once it has"
                if output == "ingressAddress"
                else "is it a Stratus -apps stack, and has `pulumi up` run on it?"
            )
            raise _fail(stack, output, f"is missing — {hint}")
    cloud = _text(stack, "cloud", outputs["cloud"])
    if cloud not in ("aws", "azure"):
        raise _fail(stack, "cloud", f"must be 'aws' or 'azure' (got {cloud!r})")
    host = _text(stack, "ingressHost", outputs["ingressHost"])
    if not dns_name(host):
        raise _fail(stack, "ingressHost", f"is not a DNS host name (got {host!r})")
    url = urlsplit(_text(stack, "healthUrl", outputs["healthUrl"]))
    if url.scheme != "https" or url.hostname != host or not url.path.startswith("/"):
        raise _fail(
            stack,
            "healthUrl",
            f"must be an https:// URL on the ingress host {host} (got {outputs['healthUrl']!r})",
        )
    address = _text(stack, "ingressAddress", outputs["ingressAddress"])
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        if not dns_name(address):
            raise _fail(
                stack, "ingressAddress", f"is neither an IPv4 address nor a DNS name ({address!r})"
            ) from None
    return AppsOutputs(
        stack=stack,
        cloud=cloud,
        ingress_host=host,
        health_path=url.path,
        health_port=url.port or 443,
        ingress_address=address,
    )


def read_apps_outputs(reference: pulumi.StackReference, stack: str) -> AppsOutputs:
    """Read and validate the outputs through ``reference`` (the qualified name ``stack``)."""
    values: dict[str, Any] = {}
    for output in OUTPUTS:
        details = _sync_await(reference.get_output_details(output))
        if details.secret_value is not None:
            raise _fail(stack, output, "is secret; the global layer reads it as a plain value")
        values[output] = details.value
    return parse_apps_outputs(stack, values)


def reference_endpoint(
    resource_name: str, endpoint: EndpointConfig, *, org: str, project: str
) -> AppsOutputs:
    """A ``StackReference`` to the endpoint's ``-apps`` stack, its outputs read and checked to
    be of the cloud its name says."""
    own_project, stack = split_stack_reference(endpoint.stack)
    qualified = f"{org}/{own_project or project}/{stack}"
    reference = pulumi.StackReference(resource_name, stack_name=qualified)
    outputs = read_apps_outputs(reference, qualified)
    if outputs.cloud != endpoint.cloud:
        raise _fail(
            qualified, "cloud", f"is {outputs.cloud!r}, but the stack name says {endpoint.cloud!r}"
        )
    return outputs


def common_host(outputs: list[AppsOutputs]) -> str:
    """The one host every endpoint serves; endpoints that disagree are an error naming each."""
    hosts = {o.ingress_host for o in outputs}
    if len(hosts) != 1:
        listed = ", ".join(f"{o.stack}: {o.ingress_host}" for o in outputs)
        raise EndpointOutputError(
            f"the -apps stacks' output 'ingressHost' differ ({listed}); every cloud of an "
            "environment must serve the same host (stratus:dnsZone / stratus:apps.ingress.host)"
        )
    return hosts.pop()
