"""S3 buckets: public access blocked, KMS-encrypted, versioned, TLS-only, never public.

In AWS provider v7 a bucket's controls are resources of their own attached to it
(``BucketPublicAccessBlock``, ``BucketServerSideEncryptionConfiguration``, ``BucketVersioning``,
``BucketPolicy``): each is judged where it is declared, and ``aws-s3-bucket-controls`` checks on
the whole stack that every bucket has all of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.rules.aws.iam_document import is_public_principal, statements, values
from policies.rules.base import Params, Resource, ResourceRule, StackRule
from policies.rules.props import dig, items, truthy

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_GROUPS = ("AllUsers", "AuthenticatedUsers")
BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})


def unblocked_public_access(resource: Resource, params: Params) -> Iterator[str]:
    off = [flag for flag in BLOCK_FLAGS if not truthy(resource.props.get(flag, False))]
    if off:
        yield f"public access is not fully blocked: {', '.join(off)} off"


PUBLIC_ACCESS_BLOCKED = ResourceRule(
    name="aws-s3-public-access-block",
    summary="S3 public access block has all four settings on",
    controls=(
        "Checkov CKV_AWS_53",
        "Checkov CKV_AWS_54",
        "Checkov CKV_AWS_55",
        "Checkov CKV_AWS_56",
    ),
    params=Params,
    types=frozenset({PUBLIC_ACCESS_BLOCK}),
    check=unblocked_public_access,
)


def _kms(resource: Resource, params: Params) -> Iterator[str]:
    rules = items(resource.props.get("rules"))
    algorithms = [str(dig(r, "applyServerSideEncryptionByDefault.sseAlgorithm", "")) for r in rules]
    if not algorithms or any(a not in KMS_ALGORITHMS for a in algorithms):
        shown = ", ".join(a or "none" for a in algorithms) or "no rule"
        yield f"default encryption is {shown}, not SSE-KMS (aws:kms)"
    elif any(not dig(r, "applyServerSideEncryptionByDefault.kmsMasterKeyId") for r in rules):
        yield "SSE-KMS uses the AWS-managed key: name a customer-managed kmsMasterKeyId"


KMS_ENCRYPTION = ResourceRule(
    name="aws-s3-kms-encryption",
    summary="S3 buckets are encrypted by default with a customer-managed KMS key",
    controls=("Checkov CKV_AWS_145", "AWS FSBP S3.17"),
    params=Params,
    types=frozenset({ENCRYPTION}),
    check=_kms,
)


def _versioning(resource: Resource, params: Params) -> Iterator[str]:
    status = str(dig(resource.props, "versioningConfiguration.status", "Disabled"))
    if status != "Enabled":
        yield f"versioning is {status}"


VERSIONED = ResourceRule(
    name="aws-s3-versioning",
    summary="S3 buckets keep object versions",
    controls=("Checkov CKV_AWS_21", "AWS FSBP S3.14"),
    params=Params,
    types=frozenset({VERSIONING}),
    check=_versioning,
)


def _denies_plain_http(statement: Mapping[str, Any]) -> bool:
    condition = dig(statement.get("Condition"), "Bool.aws:SecureTransport")
    return (
        statement.get("Effect") == "Deny"
        and str(condition).lower() == "false"
        and any(a in ("*", "s3:*") for a in values(statement, "Action"))
        and is_public_principal(statement.get("Principal"))
    )


def _tls_only(resource: Resource, params: Params) -> Iterator[str]:
    if not any(_denies_plain_http(s) for s in statements(resource.props.get("policy"))):
        yield (
            "the bucket policy does not deny s3:* to every principal when aws:SecureTransport "
            "is false"
        )


TLS_ONLY = ResourceRule(
    name="aws-s3-tls-only",
    summary="S3 bucket policies refuse requests that do not use TLS",
    controls=("AWS FSBP S3.5", "CIS AWS Foundations 2.1.1"),
    params=Params,
    types=frozenset({BUCKET_POLICY}),
    check=_tls_only,
)


def public_grants(resource: Resource, params: Params) -> Iterator[str]:
    if resource.type == BUCKET_POLICY:
        for statement in statements(resource.props.get("policy")):
            public = is_public_principal(statement.get("Principal"))
            if statement.get("Effect") == "Allow" and public and not statement.get("Condition"):
                yield (
                    f"the bucket policy allows {', '.join(values(statement, 'Action'))} to any "
                    "principal without a condition"
                )
        return
    acl = str(resource.props.get("acl") or "")
    if acl in PUBLIC_ACLS:
        yield f"canned ACL {acl} makes objects public"
    for grant in items(dig(resource.props, "accessControlPolicy.grants")):
        uri = str(dig(grant, "grantee.uri", ""))
        if uri.endswith(PUBLIC_GROUPS):
            yield f"ACL grants {dig(grant, 'permission')} to {uri.rsplit('/', 1)[-1]}"


NO_PUBLIC_GRANTS = ResourceRule(
    name="aws-s3-no-public-grants",
    summary="no S3 bucket policy or ACL grants access to everyone",
    controls=("Checkov CKV_AWS_70", "Checkov CKV_AWS_20", "Checkov CKV_AWS_57"),
    params=Params,
    types=frozenset({BUCKET_POLICY, BUCKET_ACL, BUCKET}),
    check=public_grants,
)

#: Each control resource a bucket must have, with the rule that judges its content.
REQUIRED_CONTROLS = {
    PUBLIC_ACCESS_BLOCK: "BucketPublicAccessBlock",
    ENCRYPTION: "BucketServerSideEncryptionConfiguration",
    VERSIONING: "BucketVersioning",
    BUCKET_POLICY: "BucketPolicy (TLS-only)",
}


def _bucket_controls(
    resources: Sequence[Resource], params: Params
) -> Iterator[tuple[str | None, str]]:
    attached: dict[str, set[str]] = {}
    for resource in resources:
        if resource.type in REQUIRED_CONTROLS:
            for urn in resource.dependencies:
                attached.setdefault(urn, set()).add(resource.type)
    for bucket in (r for r in resources if r.type == BUCKET):
        missing = [
            name
            for t, name in REQUIRED_CONTROLS.items()
            if t not in attached.get(bucket.urn, set())
        ]
        if missing:
            yield bucket.urn, f"bucket {bucket.name} has no {', '.join(missing)}"


BUCKET_CONTROLS = StackRule(
    name="aws-s3-bucket-controls",
    summary=(
        "every S3 bucket has a public access block, default encryption, versioning and a "
        "TLS-only policy attached"
    ),
    controls=("Checkov CKV2_AWS_6", "Checkov CKV_AWS_145", "Checkov CKV_AWS_21", "AWS FSBP S3.5"),
    params=Params,
    check=_bucket_controls,
)

RULES = (
    PUBLIC_ACCESS_BLOCKED,
    KMS_ENCRYPTION,
    VERSIONED,
    TLS_ONLY,
    NO_PUBLIC_GRANTS,
    BUCKET_CONTROLS,
)
