"""The AWS foundation's contract values: what the layers above read from ``aws-<env>``."""

from __future__ import annotations

import json

from infra.foundation import AWS_ADDON_WORKLOADS, WORKLOADS, FoundationOutputs
from infra.offline import StackRun
from infra.offline.aws import ACCOUNT_ID, OIDC_ISSUER, REGION
from tests.platform.aws.conftest import stack_file


def _contract(run: StackRun) -> FoundationOutputs:
    return FoundationOutputs.from_values(
        run.stack, run.outputs, kubeconfig=run.outputs["kubeconfig"]
    )


def test_contract_describes_the_cluster_and_registry(stack: StackRun) -> None:
    contract = _contract(stack).contract
    cluster = stack.one("aws:eks/cluster:Cluster").inputs
    assert contract.cloud == "aws"
    assert contract.region == REGION
    assert contract.cluster.name == cluster["name"]
    assert contract.cluster.kubernetes_version == cluster["version"]
    assert contract.cluster.oidc_issuer_url == OIDC_ISSUER
    assert contract.registry.server == f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com"
    assert contract.registry.api == f"{contract.registry.server}/{cluster['name']}/ml-api"
    assert contract.storage_class == "ebs-csi-default-sc"


def test_contract_stores_are_s3_urls_with_the_region_for_pods(stack: StackRun) -> None:
    stores = _contract(stack).contract.stores
    for url in (stores.data_raw, stores.data_processed, stores.models, stores.mlflow_artifacts):
        assert url.startswith("s3://")
    assert stores.mlflow_artifacts_uri == stores.mlflow_artifacts
    assert stores.storage_options == {}
    assert stores.environment == {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}


def test_identities_cover_the_workloads_and_the_aws_addons(stack: StackRun) -> None:
    identities = _contract(stack).contract.identities
    assert set(identities) == set(WORKLOADS) | set(AWS_ADDON_WORKLOADS)
    for workload, identity in identities.items():
        namespace, service_account = {**WORKLOADS, **AWS_ADDON_WORKLOADS}[workload]
        assert (identity.namespace, identity.service_account) == (namespace, service_account)
        (annotation,) = identity.annotations
        assert annotation == "eks.amazonaws.com/role-arn"
        assert identity.pod_labels == {}


def test_ingress_is_traefik_behind_an_nlb_of_the_load_balancer_controller(prod: StackRun) -> None:
    contract = _contract(prod).contract
    ingress = contract.ingress
    assert (ingress.class_name, ingress.controller, ingress.namespace) == (
        "traefik",
        "traefik",
        "traefik",
    )
    annotations = ingress.service_annotations
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "external"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] == "ip"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internet-facing"
    assert contract.capabilities.load_balancer_controller == "install"
    tags = dict(
        pair.split("=", 1)
        for pair in annotations[
            "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"
        ].split(",")
    )
    assert tags["stack"] == "aws-prod"
    assert tags["cost-center"] == "ml-platform-prod"


def test_pools_describe_the_node_groups(stack: StackRun) -> None:
    pools = _contract(stack).contract.pools
    config = stack_file(stack.stack)["stratus:aws"]["cluster"]["nodeGroups"]
    assert set(pools) == set(config)
    for name, pool in pools.items():
        assert pool.machine_types == config[name]["instanceTypes"]
        assert (pool.min_size, pool.max_size, pool.desired_size) == (
            config[name]["minSize"],
            config[name]["maxSize"],
            config[name]["desiredSize"],
        )
        assert pool.spot is (name == "training")
        assert pool.node_vcpus is not None
        assert pool.node_memory_gib is not None


def test_aws_runs_no_autoscaler_or_metrics_server_of_its_own(stack: StackRun) -> None:
    capabilities = _contract(stack).contract.capabilities
    assert capabilities.cluster_autoscaler == "install"
    assert capabilities.metrics_server == "install"


def test_only_the_kubeconfig_is_secret_and_it_uses_aws_eks_get_token(stack: StackRun) -> None:
    assert stack.secret_outputs == {"kubeconfig"}
    kubeconfig = json.loads(stack.outputs["kubeconfig"])
    assert kubeconfig["current-context"] == stack.outputs["cluster"]["name"]
