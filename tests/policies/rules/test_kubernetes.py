"""Kubernetes rules on real ``pulumi_kubernetes`` objects (camelCase inputs, as the SDK sends)."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from tests.policies.harness import Packs
from tests.policies.rules.findings import found, levels
from tests.policies.rules.workloads import LABELS, container, deployment, pod_spec

APPS = "aws-dev-apps"


def _root_spec() -> k8s.core.v1.PodSpecArgs:
    return pod_spec(
        [
            container(
                security_context=k8s.core.v1.SecurityContextArgs(
                    run_as_user=0,
                    privileged=True,
                    allow_privilege_escalation=True,
                    read_only_root_filesystem=False,
                    capabilities=k8s.core.v1.CapabilitiesArgs(add=["SYS_ADMIN"]),
                    seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="Unconfined"),
                )
            )
        ],
        host_network=True,
    )


def test_restricted_security_context_container_by_container(packs: Packs) -> None:
    def program() -> None:
        deployment("restricted")
        deployment("root", _root_spec())

    report = packs.judge(program, stack=APPS)
    assert found(report, "k8s-run-as-non-root") == {
        "root": ["container api: securityContext.runAsUser is 0 (root)"]
    }
    assert found(report, "k8s-no-privilege-escalation") == {
        "root": ["container api: securityContext.allowPrivilegeEscalation is not false"]
    }
    assert found(report, "k8s-no-privileged-or-host-namespaces") == {
        "root": [
            "the pod shares the node's namespace (hostNetwork)",
            "container api: securityContext.privileged is on",
        ]
    }
    assert found(report, "k8s-drop-all-capabilities") == {
        "root": [
            "container api: securityContext.capabilities.drop does not include ALL",
            "container api: adds capabilities SYS_ADMIN",
        ]
    }
    assert found(report, "k8s-seccomp-runtime-default") == {
        "root": ["container api: seccompProfile.type is Unconfined (RuntimeDefault or Localhost)"]
    }
    assert found(report, "k8s-read-only-root-filesystem") == {
        "root": ["container api: securityContext.readOnlyRootFilesystem is not true"]
    }
    assert levels(report, "k8s-run-as-non-root") == {"mandatory"}


def test_cronjob_pod_template_is_judged_too(packs: Packs) -> None:
    def program() -> None:
        k8s.batch.v1.CronJob(
            "retrain",
            metadata=k8s.meta.v1.ObjectMetaArgs(namespace="ml-training", labels=LABELS),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule="0 3 * * *",
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    spec=k8s.batch.v1.JobSpecArgs(
                        template=k8s.core.v1.PodTemplateSpecArgs(
                            spec=pod_spec(
                                [
                                    container(
                                        name="train", readiness_probe=None, liveness_probe=None
                                    )
                                ],
                                security_context=None,
                                restart_policy="Never",
                            )
                        )
                    )
                ),
            ),
        )

    report = packs.judge(program, stack=APPS)
    assert found(report, "k8s-run-as-non-root") == {
        "retrain": ["container train: securityContext.runAsNonRoot is not true"]
    }
    assert found(report, "k8s-seccomp-runtime-default") == {
        "retrain": ["container train: seccompProfile.type is unset (RuntimeDefault or Localhost)"]
    }
    assert found(report, "k8s-probes") == {}  # a job runs to completion: no probes needed


def test_requests_limits_and_probes(packs: Packs) -> None:
    def program() -> None:
        deployment("complete")
        deployment(
            "bare",
            pod_spec([container(resources=None, readiness_probe=None, liveness_probe=None)]),
        )

    report = packs.judge(program, stack=APPS)
    assert found(report, "k8s-requests-and-limits") == {
        "bare": ["container api: resources without requests.cpu, requests.memory, limits.memory"]
    }
    assert found(report, "k8s-probes") == {
        "bare": ["container api: no readinessProbe and no livenessProbe"]
    }
    strict = packs.judge(
        program, stack=APPS, config={"k8s-requests-and-limits": {"requireCpuLimit": True}}
    )
    assert found(strict, "k8s-requests-and-limits")["complete"] == [
        "container api: resources without limits.cpu"
    ]


def test_images_pinned_and_from_the_stack_cloud_registry(packs: Packs) -> None:
    digest = "sha256:" + "a" * 64

    def program() -> None:
        deployment("tagged")
        deployment(
            "digest", pod_spec([container(image=f"1.dkr.ecr.eu-west-1.amazonaws.com/x@{digest}")])
        )
        deployment(
            "latest", pod_spec([container(image="1.dkr.ecr.eu-west-1.amazonaws.com/x:latest")])
        )
        deployment("untagged", pod_spec([container(image="1.dkr.ecr.eu-west-1.amazonaws.com/x")]))
        deployment("hub", pod_spec([container(image="nginx:1.27.3")]))
        deployment("acr", pod_spec([container(image="stratus.azurecr.io/ml-api:1.4.2")]))

    report = packs.judge(program, stack=APPS)
    assert found(report, "k8s-image-pinned") == {
        "latest": [
            "container api: image 1.dkr.ecr.eu-west-1.amazonaws.com/x:latest has the moving tag "
            "latest"
        ],
        "untagged": ["container api: image 1.dkr.ecr.eu-west-1.amazonaws.com/x has no tag"],
    }
    assert found(report, "k8s-image-registry") == {
        "hub": [
            "container api: image nginx:1.27.3 is not from the aws stack's registry "
            "(*.dkr.ecr.*.amazonaws.com)"
        ],
        "acr": [
            "container api: image stratus.azurecr.io/ml-api:1.4.2 is not from the aws stack's "
            "registry (*.dkr.ecr.*.amazonaws.com)"
        ],
    }
    digests_only = packs.judge(
        program, stack=APPS, config={"k8s-image-pinned": {"requireDigest": True}}
    )
    assert "digest" not in found(digests_only, "k8s-image-pinned")
    assert "tagged" in found(digests_only, "k8s-image-pinned")


def _hpa(name: str, low: int, high: int) -> None:
    k8s.autoscaling.v2.HorizontalPodAutoscaler(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(namespace="ml-api", labels=LABELS),
        spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
            min_replicas=low,
            max_replicas=high,
            scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                api_version="apps/v1", kind="Deployment", name="api"
            ),
        ),
    )


def test_hpa_bounds_from_policy_config(packs: Packs) -> None:
    def program() -> None:
        _hpa("seed", 3, 20)
        _hpa("wide", 1, 500)

    report = packs.judge(program, stack=APPS)
    assert found(report, "k8s-hpa-bounds") == {
        "wide": [
            "spec.minReplicas is 1 (at least 2 for availability)",
            "spec.maxReplicas is 500 (at most 100 by policy)",
        ]
    }
    tight = packs.judge(program, stack=APPS, config={"k8s-hpa-bounds": {"maxReplicas": 10}})
    assert found(tight, "k8s-hpa-bounds")["seed"] == [
        "spec.maxReplicas is 20 (at most 10 by policy)"
    ]


def test_helm_releases_pin_an_exact_chart_version(packs: Packs) -> None:
    def program() -> None:
        for name, version in (("pinned", "1.17.2"), ("ranged", "^1.17"), ("floating", None)):
            k8s.helm.v3.Release(
                name,
                k8s.helm.v3.ReleaseArgs(
                    chart="cert-manager",
                    version=version,
                    namespace="cert-manager",
                    repository_opts=k8s.helm.v3.RepositoryOptsArgs(
                        repo="https://charts.jetstack.io"
                    ),
                ),
            )

    assert found(packs.judge(program, stack=APPS), "k8s-helm-chart-pinned") == {
        "ranged": ["chart cert-manager version ^1.17 is a range, not an exact version"],
        "floating": ["chart cert-manager has no version: every install may get a different chart"],
    }


def _namespace(name: str, enforce: str | None = "restricted") -> None:
    labels = dict(LABELS)
    if enforce:
        labels["pod-security.kubernetes.io/enforce"] = enforce
    k8s.core.v1.Namespace(name, metadata=k8s.meta.v1.ObjectMetaArgs(name=name, labels=labels))


def _deny_all(namespace: str) -> None:
    k8s.networking.v1.NetworkPolicy(
        f"{namespace}-default-deny",
        metadata=k8s.meta.v1.ObjectMetaArgs(namespace=namespace, labels=LABELS),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]
        ),
    )


def test_namespaces_pod_security_and_default_deny(packs: Packs) -> None:
    def program() -> None:
        _namespace("ml-api")
        _deny_all("ml-api")
        _namespace("loose", enforce="privileged")

    report = packs.judge(program, stack=APPS)
    assert found(report, "k8s-namespace-pod-security") == {
        "loose": ["label pod-security.kubernetes.io/enforce is privileged (want restricted)"]
    }
    assert found(report, "k8s-namespace-default-deny") == {
        "loose": [
            "namespace loose has no default-deny NetworkPolicy (podSelector {}, policyTypes "
            "Ingress and Egress, no rules)"
        ]
    }
    # Mandatory in the shipped config (every namespace of the in-cluster layer has one);
    # a team may relax it through the config.
    assert levels(report, "k8s-namespace-default-deny") == {"mandatory"}
    relaxed = packs.judge(
        program,
        stack=APPS,
        config={"k8s-namespace-default-deny": {"enforcementLevel": "advisory"}},
    )
    assert levels(relaxed, "k8s-namespace-default-deny") == {"advisory"}


def test_no_default_namespace_and_no_automounted_tokens(packs: Packs) -> None:
    def program() -> None:
        k8s.core.v1.ConfigMap(
            "own", metadata=k8s.meta.v1.ObjectMetaArgs(namespace="ml-api", labels=LABELS), data={}
        )
        k8s.core.v1.ConfigMap("stray", metadata=k8s.meta.v1.ObjectMetaArgs(labels=LABELS), data={})
        # Cluster-scoped custom resources have no namespace to give.
        k8s.apiextensions.CustomResource(
            "issuer",
            api_version="cert-manager.io/v1",
            kind="ClusterIssuer",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="letsencrypt", labels=LABELS),
            spec={"selfSigned": {}},
        )
        k8s.apiextensions.CustomResource(
            "store",
            api_version="external-secrets.io/v1",
            kind="ClusterSecretStore",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="platform", labels=LABELS),
            spec={"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}},
        )
        k8s.apiextensions.CustomResource(
            "namespaced-store",
            api_version="external-secrets.io/v1",
            kind="SecretStore",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="platform", labels=LABELS),
            spec={"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}},
        )
        k8s.core.v1.ServiceAccount(
            "quiet",
            metadata=k8s.meta.v1.ObjectMetaArgs(namespace="ml-api", labels=LABELS),
            automount_service_account_token=False,
        )
        k8s.core.v1.ServiceAccount(
            "chatty", metadata=k8s.meta.v1.ObjectMetaArgs(namespace="ml-api", labels=LABELS)
        )

    report = packs.judge(program, stack=APPS)
    message = "the object lands in the default namespace: give it its own namespace"
    assert found(report, "k8s-no-default-namespace") == {
        "stray": [message],
        "namespaced-store": [message],
    }
    assert found(report, "k8s-service-account-token") == {
        "chatty": ["automountServiceAccountToken is not false: every pod gets an API token"]
    }
