"""Every object of every shipped ``-apps`` stack is valid Kubernetes for the stack's cluster
version (``kubernetes-validate``, strict: unknown fields fail too)."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from infra.offline import StackRun
from infra.render import kubernetes_objects

#: Custom resources: their schemas live in the add-on charts' CRDs, checked field by field in
#: the tests of the components that declare them.
CUSTOM_GROUPS = (
    "cert-manager.io/",
    "external-secrets.io/",
    "monitoring.coreos.com/",
    "elasticsearch.k8s.elastic.co/",
    "kibana.k8s.elastic.co/",
    "security.istio.io/",
    "networking.istio.io/",
)


def _version(run: StackRun) -> str:
    foundation = run.stack.removesuffix("-apps")
    from infra.offline import run_stack

    return f"{run_stack(foundation).outputs['cluster']['kubernetesVersion']}.0"


def test_every_object_validates_against_the_cluster_version_schema(apps: StackRun) -> None:
    version = _version(apps)
    checked = 0
    for _, manifest in kubernetes_objects(apps):
        if manifest["apiVersion"].startswith(CUSTOM_GROUPS):
            continue
        kubernetes_validate.validate(manifest, version, strict=True)
        checked += 1
    assert checked >= 40


def test_the_schema_check_rejects_what_kubernetes_would(apps: StackRun) -> None:
    """A control: the same validation fails on a broken copy of a real object."""
    version = _version(apps)
    deployment = next(m for _, m in kubernetes_objects(apps) if m["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)
    missing = copy.deepcopy(deployment)
    del missing["spec"]["selector"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(missing, version, strict=True)
