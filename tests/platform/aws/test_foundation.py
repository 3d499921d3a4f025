"""``infra.aws.build_stack`` returns the cloud-neutral ``CloudFoundation`` and exports it."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.runtime.sync_await import _sync_await

import infra.aws
from infra.foundation import WORKLOADS, CloudFoundation
from tests.platform.aws.conftest import stack_file
from tests.platform.harness import StackRun, run_stack


def _resolve(value: Any) -> Any:
    return _sync_await(pulumi.Output.from_input(value).future())


def _is_secret(value: Any) -> bool:
    return bool(_sync_await(pulumi.Output.from_input(value).is_secret()))


@pytest.fixture(scope="module")
def built() -> tuple[CloudFoundation, StackRun]:
    """The foundation object ``build_stack`` returned during a real run of aws-prod."""
    results: list[CloudFoundation] = []
    original = infra.aws.build_stack

    def recording(identity: Any) -> CloudFoundation:
        foundation = original(identity)
        results.append(foundation)
        return foundation

    patch = pytest.MonkeyPatch()
    patch.setattr(infra.aws, "build_stack", recording)
    try:
        run = run_stack("aws-prod")
    finally:
        patch.undo()
    (foundation,) = results
    return foundation, run


def test_result_is_the_shared_shape(built: tuple[CloudFoundation, StackRun]) -> None:
    foundation, run = built
    assert foundation.cloud == "aws"
    assert foundation.region == stack_file("aws-prod")["aws:region"]
    assert isinstance(foundation.k8s_provider, k8s.Provider)
    assert foundation.storage_class == "ebs-csi-default-sc"
    assert _resolve(foundation.cluster_name) == run.outputs["clusterName"]
    assert _resolve(foundation.registry.api) == run.outputs["registryApi"]
    assert _resolve(foundation.stores.models) == run.outputs["storeModels"]
    assert _resolve(foundation.stores.storage_options) == {}
    assert foundation.database.port == 5432
    assert (foundation.database.name, foundation.database.user) == ("mlflow", "mlflow")
    assert _is_secret(foundation.database.dsn)
    assert _is_secret(foundation.kubeconfig)


def test_service_account_annotations_name_the_workload_roles(
    built: tuple[CloudFoundation, StackRun],
) -> None:
    foundation, run = built
    assert set(foundation.workload_identities) == set(WORKLOADS)
    for workload, identity in foundation.workload_identities.items():
        assert identity.service_account == workload
        assert identity.namespace == "stratus"
        assert _resolve(identity.service_account_annotations) == {
            "eks.amazonaws.com/role-arn": run.outputs["workloadRoleArns"][workload]
        }


def test_ingress_uses_the_aws_load_balancer_controller_with_tags(
    built: tuple[CloudFoundation, StackRun],
) -> None:
    foundation, _ = built
    ingress = foundation.ingress
    assert ingress.class_name == "alb"
    assert ingress.annotations["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert ingress.annotations["alb.ingress.kubernetes.io/target-type"] == "ip"
    assert ingress.service_annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == (
        "external"
    )
    tags = dict(
        pair.split("=", 1)
        for pair in ingress.annotations["alb.ingress.kubernetes.io/tags"].split(",")
    )
    assert tags["stack"] == "aws-prod"
    assert tags["cost-center"] == "ml-platform-prod"


def test_stack_outputs(built: tuple[CloudFoundation, StackRun]) -> None:
    _, run = built
    assert run.outputs["cloud"] == "aws"
    assert run.secret_outputs == {"kubeconfig", "databaseDsn"}
    for key in ("storeDataRaw", "storeDataProcessed", "storeModels", "storeMlflowArtifacts"):
        assert run.outputs[key].startswith("s3://")
    assert json.loads(run.outputs["kubeconfig"])["current-context"] == run.outputs["clusterName"]
