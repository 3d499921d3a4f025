"""The foundation contract end to end: both clouds write it, one reader reads it back, a broken
foundation stack fails naming the stack and the output, and workloads schedule identically."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.foundation import (
    CONTRACT_VERSION,
    SECTIONS,
    FoundationContract,
    FoundationContractError,
    FoundationOutputs,
)
from infra.offline import StackRun, run_stack
from infra.scheduling import POOLS

FOUNDATIONS = ("aws-dev", "aws-prod", "azure-dev", "azure-prod")


@pytest.fixture(scope="module", params=FOUNDATIONS)
def foundation(request: pytest.FixtureRequest) -> StackRun:
    return run_stack(request.param)


@pytest.fixture(scope="module")
def runs() -> dict[str, StackRun]:
    return {stack: run_stack(stack) for stack in FOUNDATIONS}


def _read(run: StackRun, outputs: dict[str, Any] | None = None) -> FoundationOutputs:
    values = run.outputs if outputs is None else outputs
    return FoundationOutputs.from_values(
        f"organization/stratus/{run.stack}", values, kubeconfig=values.get("kubeconfig")
    )


def test_every_section_is_exported_and_only_the_kubeconfig_is_secret(foundation: StackRun) -> None:
    # Besides the contract, a foundation exports only the CI identities for maintainers.
    assert set(foundation.outputs) == {"contractVersion", "kubeconfig", *SECTIONS, "delivery"}
    assert foundation.outputs["contractVersion"] == CONTRACT_VERSION
    assert foundation.secret_outputs == {"kubeconfig"}


def test_contract_round_trips(foundation: StackRun) -> None:
    """Outputs → reader → the same values, written back out."""
    read = _read(foundation)
    assert isinstance(read.contract, FoundationContract)
    written = {k: v for k, v in foundation.outputs.items() if k not in ("kubeconfig", "delivery")}
    assert read.contract.wire() == written


def test_the_stack_reference_reader_reads_what_was_written(foundation: StackRun) -> None:
    """Through a real ``StackReference`` (the ``-apps`` program's path), the apps stack sees the
    same contract and the kubeconfig stays secret."""
    apps = run_stack(f"{foundation.stack}-apps", references={foundation.stack: foundation})
    assert apps.outputs["foundationStack"] == f"organization/stratus/{foundation.stack}"
    assert apps.outputs["cloud"] == foundation.outputs["cloud"]
    provider = apps.one("pulumi:providers:kubernetes")
    assert provider.get("kubeconfig") == foundation.outputs["kubeconfig"]
    assert provider.is_secret("kubeconfig")


@pytest.mark.parametrize("missing", ["registry", "identities", "scheduling"])
def test_a_missing_output_names_the_stack_and_the_output(
    foundation: StackRun, missing: str
) -> None:
    outputs = {k: v for k, v in foundation.outputs.items() if k != missing}
    with pytest.raises(FoundationContractError) as caught:
        _read(foundation, outputs)
    message = str(caught.value)
    assert f"organization/stratus/{foundation.stack}" in message
    assert repr(missing) in message


def test_a_malformed_output_names_the_stack_and_the_field(foundation: StackRun) -> None:
    outputs = copy.deepcopy(foundation.outputs)
    del outputs["registry"]["api"]
    outputs["database"]["port"] = "five-four-three-two"
    with pytest.raises(FoundationContractError) as caught:
        _read(foundation, outputs)
    message = str(caught.value)
    assert f"organization/stratus/{foundation.stack}" in message
    assert "output 'registry.api': Field required" in message
    assert "output 'database.port'" in message


def test_another_contract_version_is_refused(foundation: StackRun) -> None:
    outputs = {**foundation.outputs, "contractVersion": CONTRACT_VERSION + 1}
    with pytest.raises(FoundationContractError, match="reads contract version 1"):
        _read(foundation, outputs)


def test_a_missing_kubeconfig_names_the_output(foundation: StackRun) -> None:
    outputs = {k: v for k, v in foundation.outputs.items() if k != "kubeconfig"}
    with pytest.raises(FoundationContractError, match="output 'kubeconfig' is missing"):
        _read(foundation, outputs)


def test_an_apps_stack_on_a_broken_foundation_fails_naming_it(foundation: StackRun) -> None:
    broken = StackRun(
        stack=foundation.stack,
        resources=[],
        outputs={k: v for k, v in foundation.outputs.items() if k != "ingress"},
        secret_outputs=foundation.secret_outputs,
    )
    with pytest.raises(FoundationContractError) as caught:
        run_stack(f"{foundation.stack}-apps", references={foundation.stack: broken})
    assert f"stack organization/stratus/{foundation.stack}: output(s) 'ingress'" in str(
        caught.value
    )


def test_both_clouds_schedule_each_workload_class_identically(runs: dict[str, StackRun]) -> None:
    """The same node selector and tolerations on EKS and AKS: workload code never asks which
    cloud it is on."""
    for env in ("dev", "prod"):
        aws = _read(runs[f"aws-{env}"]).contract
        azure = _read(runs[f"azure-{env}"]).contract
        assert aws.scheduling == azure.scheduling
    prod = _read(runs["aws-prod"]).contract
    assert set(prod.scheduling) == set(POOLS)
    training = prod.schedule("training")
    assert training.node_selector == {"stratus.io/pool": "training"}
    assert {(t.key, t.value) for t in training.tolerations} == {
        ("stratus.io/pool", "training"),
        ("kubernetes.azure.com/scalesetpriority", "spot"),
    }


def test_dev_has_no_gpu_pool_and_says_so(runs: dict[str, StackRun]) -> None:
    for stack in ("aws-dev", "azure-dev"):
        contract = _read(runs[stack]).contract
        assert contract.scheduling["gpu"] is None
        with pytest.raises(FoundationContractError, match="has no 'gpu' pool"):
            contract.schedule("gpu")


def test_both_clouds_label_and_taint_their_pools_as_the_contract_says(
    runs: dict[str, StackRun],
) -> None:
    """The nodes really carry what the contract's scheduling selects and tolerates."""
    aws_groups = {
        g.inputs["labels"]["stratus.io/pool"]: g.inputs
        for g in runs["aws-prod"].of_type("aws:eks/nodeGroup:NodeGroup")
    }
    azure_pools = {
        p.get("agentPoolName"): p.inputs
        for p in runs["azure-prod"].of_type("azure-native:containerservice:AgentPool")
    }
    cluster = runs["azure-prod"].one("azure-native:containerservice:ManagedCluster")
    azure_pools["system"] = cluster.get("agentPoolProfiles.0")
    contract = _read(runs["aws-prod"]).contract
    for pool in POOLS:
        scheduling = contract.schedule(pool)
        tolerated = {(t.key, t.value, t.effect) for t in scheduling.tolerations}
        for labels, taints in (
            (
                aws_groups[pool]["labels"],
                {
                    (t["key"], t["value"], {"NO_SCHEDULE": "NoSchedule"}[t["effect"]])
                    for t in aws_groups[pool].get("taints", [])
                },
            ),
            (
                azure_pools[pool]["nodeLabels"],
                {
                    (kv.split("=")[0], kv.split("=")[1].split(":")[0], kv.split(":")[1])
                    for kv in azure_pools[pool].get("nodeTaints") or []
                },
            ),
        ):
            assert scheduling.node_selector.items() <= labels.items()
            assert taints <= tolerated, (pool, taints, tolerated)
