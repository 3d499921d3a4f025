"""Tags on every taggable cloud resource, labels on every Kubernetes object, allowed regions.

Whether a resource type takes tags is read from the provider's own Python SDK (does its
resource class accept ``tags``?), so new resource types need no list to be kept up to date. On
AWS the provider's ``defaultTags`` count, as the provider applies them to every resource.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Iterator, Mapping
from functools import cache

from pydantic import Field

from policies.rules.base import Params, Resource, ResourceRule
from policies.rules.props import dig, mapping

#: Type-token package → the Python SDK that defines its resources.
SDK_PACKAGES = {"aws": "pulumi_aws", "azure-native": "pulumi_azure_native"}


@cache
def taggable(resource_type: str) -> bool:
    """Whether the provider SDK's resource class for ``resource_type`` accepts ``tags``."""
    package, _, rest = resource_type.partition(":")
    sdk = SDK_PACKAGES.get(package)
    module_path, _, class_name = rest.rpartition(":")
    if sdk is None or not class_name:
        return False
    module = module_path.split("/", 1)[0]
    try:
        imported = importlib.import_module(sdk if module == "index" else f"{sdk}.{module}")
    except ImportError:
        return False
    resource_class = getattr(imported, class_name, None)
    init = getattr(resource_class, "_internal_init", None)
    return init is not None and "tags" in inspect.signature(init).parameters


def effective_tags(resource: Resource) -> Mapping[str, str]:
    tags = {str(k): str(v) for k, v in mapping(resource.props.get("tags")).items()}
    if resource.package == "aws":
        default_tags = resource.provider_props.get("defaultTags")
        if isinstance(default_tags, str):  # provider inputs travel JSON-encoded
            try:
                default_tags = json.loads(default_tags)
            except ValueError:
                default_tags = None
        defaults = mapping(dig(default_tags, "tags"))
        tags = {**{str(k): str(v) for k, v in defaults.items()}, **tags}
    return tags


class TagParams(Params):
    required_tags: tuple[str, ...] = Field(
        default=(), description="tags every taggable AWS and Azure resource carries"
    )
    required_labels: tuple[str, ...] = Field(
        default=(), description="labels every Kubernetes object carries (metadata.labels)"
    )


def _required(resource: Resource, params: TagParams) -> Iterator[str]:
    if resource.package == "kubernetes":
        if not resource.type.startswith("kubernetes:helm.sh/") and dig(resource.props, "metadata"):
            labels = mapping(dig(resource.props, "metadata.labels"))
            missing = [k for k in params.required_labels if not str(labels.get(k) or "").strip()]
            if missing:
                yield f"missing label(s): {', '.join(missing)}"
        return
    if not taggable(resource.type):
        return
    tags = effective_tags(resource)
    missing = [k for k in params.required_tags if not tags.get(k, "").strip()]
    if missing:
        yield f"missing tag(s): {', '.join(missing)}"


REQUIRED_TAGS = ResourceRule(
    name="required-tags",
    summary="every taggable resource carries the required tags (labels on Kubernetes objects)",
    controls=(
        "AWS Well-Architected COST03-BP02",
        "Azure Policy: Require a tag on resources",
        "MCSB AM-2",
    ),
    params=TagParams,
    type_prefixes=("aws:", "azure-native:", "kubernetes:"),
    check=_required,
)


class RegionParams(Params):
    allowed_regions: Mapping[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="per cloud (aws, azure), the regions resources may be created in",
    )


def _normalise(region: str) -> str:
    return region.replace(" ", "").lower()


def _regions(resource: Resource, params: RegionParams) -> Iterator[str]:
    if resource.package in ("aws", "pulumi") and "aws" in params.allowed_regions:
        if resource.package == "pulumi" and resource.type != "pulumi:providers:aws":
            return
        region = resource.props.get("region") or resource.provider_props.get("region")
        allowed = params.allowed_regions["aws"]
    elif resource.package == "azure-native" and "azure" in params.allowed_regions:
        region = resource.props.get("location")
        allowed = params.allowed_regions["azure"]
    else:
        return
    if not region or _normalise(str(region)) == "global":
        return
    if _normalise(str(region)) not in {_normalise(a) for a in allowed}:
        yield f"region {region} is not allowed (allowed: {', '.join(allowed)})"


ALLOWED_REGIONS = ResourceRule(
    name="allowed-regions",
    summary="resources are created only in the allowed regions",
    controls=(
        "Azure Policy: Allowed locations",
        "AWS Control Tower CT.MULTISERVICE.PV.1 (region deny)",
    ),
    params=RegionParams,
    type_prefixes=("aws:", "azure-native:", "pulumi:providers:aws"),
    check=_regions,
)

RULES = (REQUIRED_TAGS, ALLOWED_REGIONS)
