"""Storage accounts and blob containers: HTTPS only, TLS 1.2+, private, no shared keys."""

from __future__ import annotations

from collections.abc import Iterator

from policies.rules.base import Params, Resource, ResourceRule
from policies.rules.props import dig, truthy

ACCOUNT = "azure-native:storage:StorageAccount"
CONTAINER = "azure-native:storage:BlobContainer"
ACCOUNTS = frozenset({ACCOUNT})
MODERN_TLS = frozenset({"TLS1_2", "TLS1_3"})


def _https(resource: Resource, params: Params) -> Iterator[str]:
    # The API's default (unset) has been HTTPS-only since 2019.
    if not truthy(resource.props.get("enableHttpsTrafficOnly", True)):
        yield "enableHttpsTrafficOnly is off: plain HTTP is accepted"


HTTPS_ONLY = ResourceRule(
    name="azure-storage-https-only",
    summary="storage accounts accept HTTPS only",
    controls=("Checkov CKV_AZURE_3", "CIS Azure 3.1"),
    params=Params,
    types=ACCOUNTS,
    check=_https,
)


def _tls(resource: Resource, params: Params) -> Iterator[str]:
    version = str(resource.props.get("minimumTlsVersion") or "unset")
    if version not in MODERN_TLS:
        yield f"minimumTlsVersion is {version} (TLS1_2 or later)"


MINIMUM_TLS = ResourceRule(
    name="azure-storage-min-tls",
    summary="storage accounts refuse TLS older than 1.2",
    controls=("Checkov CKV_AZURE_44", "CIS Azure 3.15"),
    params=Params,
    types=ACCOUNTS,
    check=_tls,
)


def public_blobs(resource: Resource, params: Params) -> Iterator[str]:
    if resource.type == CONTAINER:
        access = str(resource.props.get("publicAccess") or "None")
        if access != "None":
            yield f"container publicAccess is {access}: blobs are readable anonymously"
    elif truthy(resource.props.get("allowBlobPublicAccess", False)):
        yield "allowBlobPublicAccess is on: containers may be made public"


NO_PUBLIC_BLOBS = ResourceRule(
    name="azure-storage-no-public-blobs",
    summary="no blob is anonymously readable",
    controls=("Checkov CKV_AZURE_190", "Checkov CKV_AZURE_34", "CIS Azure 3.7"),
    params=Params,
    types=frozenset({ACCOUNT, CONTAINER}),
    check=public_blobs,
)


def _shared_key(resource: Resource, params: Params) -> Iterator[str]:
    if truthy(resource.props.get("allowSharedKeyAccess", True)):
        yield "allowSharedKeyAccess is on: account keys grant full access (use Entra ID)"


SHARED_KEY_DISABLED = ResourceRule(
    name="azure-storage-shared-key-disabled",
    summary="storage accounts refuse shared-key (account key) authorization",
    controls=("Checkov CKV2_AZURE_40", "MCSB IM-1"),
    params=Params,
    types=ACCOUNTS,
    check=_shared_key,
)


def open_network(resource: Resource, params: Params) -> Iterator[str]:
    public = str(resource.props.get("publicNetworkAccess") or "Enabled")
    default_action = str(dig(resource.props, "networkRuleSet.defaultAction", "Allow"))
    if public != "Disabled" and default_action != "Deny":
        yield "the account is reachable from any network (publicNetworkAccess, networkRuleSet)"


PRIVATE_NETWORK = ResourceRule(
    name="azure-storage-private-network",
    summary="storage accounts are not reachable from every network",
    controls=("Checkov CKV_AZURE_59", "Checkov CKV_AZURE_35", "CIS Azure 3.8"),
    params=Params,
    types=ACCOUNTS,
    check=open_network,
)

RULES = (HTTPS_ONLY, MINIMUM_TLS, NO_PUBLIC_BLOBS, SHARED_KEY_DISABLED, PRIVATE_NETWORK)
