"""Container images: pinned by digest or an immutable tag, from the stack's cloud registry."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase

from pydantic import Field

from policies.rules.base import Params, Resource, ResourceRule
from policies.rules.kubernetes.pods import WORKLOADS, containers

MUTABLE_TAGS = frozenset({"latest", "stable", "main", "master", "edge", "nightly", "dev"})


def split_image(image: str) -> tuple[str, str, str, str]:
    """``registry/repo:tag@digest`` → ``(registry, repository, tag, digest)``; Docker Hub
    references without a registry host get ``docker.io``."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = name[colon + 1 :] if colon > slash else ""
    name = name[:colon] if colon > slash else name
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest, tag, digest
    return "docker.io", name, tag, digest


class PinParams(Params):
    require_digest: bool = Field(
        default=False, description="accept only @sha256 digests, not immutable tags"
    )


def _pinned(resource: Resource, params: PinParams) -> Iterator[str]:
    for c in containers(resource.type, resource.props):
        image = str(c.spec.get("image") or "")
        _, _, tag, digest = split_image(image)
        if digest.startswith("sha256:"):
            continue
        if params.require_digest:
            yield f"{c.label}: image {image} is not pinned by digest"
        elif not tag or tag in MUTABLE_TAGS:
            yield f"{c.label}: image {image} has {'no tag' if not tag else f'the moving tag {tag}'}"


IMAGE_PINNED = ResourceRule(
    name="k8s-image-pinned",
    summary="container images are pinned by digest or an immutable tag, never latest",
    controls=("Checkov CKV_K8S_14", "Checkov CKV_K8S_43"),
    params=PinParams,
    types=WORKLOADS,
    check=_pinned,
)


class RegistryParams(Params):
    registries: Mapping[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "aws": ("*.dkr.ecr.*.amazonaws.com",),
            "azure": ("*.azurecr.io",),
        },
        description="per cloud, glob patterns of the registry hosts its stacks pull from",
    )
    extra_registries: tuple[str, ...] = Field(
        default=(), description="registry host globs allowed on every cloud"
    )


def _registry(resource: Resource, params: RegistryParams) -> Iterator[str]:
    cloud = resource.stack.cloud
    if cloud is not None:
        allowed = (*params.registries.get(cloud, ()), *params.extra_registries)
    else:
        allowed = (*(p for ps in params.registries.values() for p in ps), *params.extra_registries)
    for c in containers(resource.type, resource.props):
        image = str(c.spec.get("image") or "")
        host = split_image(image)[0]
        if not any(fnmatchcase(host, pattern) for pattern in allowed):
            where = f"the {cloud} stack's registry" if cloud else "an approved registry"
            yield f"{c.label}: image {image} is not from {where} ({', '.join(allowed)})"


IMAGE_REGISTRY = ResourceRule(
    name="k8s-image-registry",
    summary="container images come from the stack's own cloud registry",
    controls=("CIS EKS 5.1.4", "CIS AKS 5.1.4"),
    params=RegistryParams,
    types=WORKLOADS,
    check=_registry,
)

RULES = (IMAGE_PINNED, IMAGE_REGISTRY)
