"""What the Kubernetes controllers fill in, for offline runs: an Ingress's load balancer address.

The address is what the ingress controller publishes once its cloud load balancer exists: a DNS
name for Traefik behind an AWS NLB, an IP for AKS application routing behind an Azure LB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.runtime.mocks import MockResourceArgs

from infra.offline.runner import computed_outputs

AWS_LOAD_BALANCER = "k8s-traefik-traefik-0123456789-0123456789abcdef.elb.eu-west-1.amazonaws.com"
AZURE_LOAD_BALANCER_IP = "20.93.45.67"


@computed_outputs("kubernetes:networking.k8s.io/v1:Ingress")
def _ingress(args: MockResourceArgs) -> Mapping[str, Any]:
    spec = args.inputs.get("spec") or {}
    address = (
        {"hostname": AWS_LOAD_BALANCER}
        if spec.get("ingressClassName") == "traefik"
        else {"ip": AZURE_LOAD_BALANCER_IP}
    )
    return {"status": {"loadBalancer": {"ingress": [address]}}}
