"""IAM policy documents as JSON, built from (possibly unresolved) ARNs.

Documents are rendered here rather than through the ``aws.iam.getPolicyDocument`` invoke so that the
exact JSON sent to AWS is produced by our code and can be checked statement by statement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

VERSION = "2012-10-17"


@dataclass(frozen=True)
class Statement:
    """One policy statement; ``resources`` and condition values may be Pulumi outputs."""

    actions: Sequence[str]
    resources: Sequence[pulumi.Input[str]] = ()
    effect: str = "Allow"
    sid: str | None = None
    principal: Mapping[str, Any] | str | None = None
    condition: Mapping[str, Mapping[str, pulumi.Input[Any]]] = field(default_factory=dict)

    def render(self) -> pulumi.Output[dict[str, Any]]:
        body: dict[str, Any] = {"Effect": self.effect, "Action": list(self.actions)}
        if self.sid:
            body = {"Sid": self.sid, **body}
        if self.principal is not None:
            body["Principal"] = self.principal
        # from_input resolves outputs nested in lists and dicts.
        rendered = pulumi.Output.from_input(
            {
                "resources": list(self.resources),
                "condition": {op: dict(values) for op, values in self.condition.items()},
            }
        )

        def finish(values: dict[str, Any]) -> dict[str, Any]:
            result = dict(body)
            if values["resources"]:
                result["Resource"] = values["resources"]
            if values["condition"]:
                result["Condition"] = values["condition"]
            return result

        return rendered.apply(finish)


def document(*statements: Statement) -> pulumi.Output[str]:
    """The policy JSON for ``statements`` (stable key order, so no spurious diffs)."""
    return pulumi.Output.all(*[s.render() for s in statements]).apply(
        lambda rendered: json.dumps({"Version": VERSION, "Statement": list(rendered)})
    )


def service_trust(*services: str) -> str:
    """A trust policy letting AWS services (``eks.amazonaws.com``, ...) assume a role."""
    return json.dumps(
        {
            "Version": VERSION,
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": list(services)},
                    "Action": ["sts:AssumeRole"],
                }
            ],
        }
    )


def deny_insecure_transport(bucket_arn: pulumi.Input[str]) -> Statement:
    """Deny every S3 request to the bucket that does not use TLS."""
    return Statement(
        sid="DenyInsecureTransport",
        effect="Deny",
        principal="*",
        actions=["s3:*"],
        resources=[bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
        condition={"Bool": {"aws:SecureTransport": "false"}},
    )
