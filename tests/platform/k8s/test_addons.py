"""Cluster add-ons: pinned Helm releases with values from the contract, the ClusterSecretStore and
the ACME ClusterIssuer."""

from __future__ import annotations

import re

from infra.k8s.config import DEFAULT_CHARTS
from infra.offline import Registered, StackRun, run_stack
from tests.platform.k8s.conftest import apps_section, named, objects

VERSION = re.compile(r"^v?\d+\.\d+\.\d+$")


def _releases(run: StackRun) -> dict[str, Registered]:
    return {r.get("chart"): r for r in run.of_type("kubernetes:helm.sh/v3:Release")}


def test_every_release_pins_an_exact_chart_version_from_its_repository(apps: StackRun) -> None:
    pinned = {c.chart: c for c in DEFAULT_CHARTS.values()}
    for chart, release in _releases(apps).items():
        assert VERSION.match(release.get("version")), chart
        assert release.get("version") == pinned[chart].version
        assert release.get("repositoryOpts") == {"repo": pinned[chart].repository}
        assert release.get("atomic") is True


def test_controllers_run_on_the_system_pool(apps: StackRun) -> None:
    # The observability releases nest their placement per component (tests/platform/k8s/
    # observability/test_releases.py).
    addons = {c: r for c, r in _releases(apps).items() if "ClusterAddons" in r.parent}
    assert addons
    for chart, release in addons.items():
        values = release.get("values")
        expected = "gpu" if chart == "nvidia-device-plugin" else "system"
        assert values["nodeSelector"] == {"stratus.io/pool": expected}, chart
        assert values["tolerations"], chart


def test_aws_controllers_get_their_irsa_identities_and_cluster() -> None:
    run = run_stack("aws-prod-apps")
    foundation = run_stack("aws-prod").outputs
    releases = _releases(run)
    lbc = releases["aws-load-balancer-controller"].get("values")
    assert lbc["clusterName"] == foundation["cluster"]["name"]
    assert lbc["vpcId"] == foundation["network"]["id"]
    assert (
        lbc["serviceAccount"]["annotations"]
        == (foundation["identities"]["aws-load-balancer-controller"]["annotations"])
    )
    autoscaler = releases["cluster-autoscaler"].get("values")
    assert autoscaler["cloudProvider"] == "aws"
    assert autoscaler["autoDiscovery"] == {"clusterName": foundation["cluster"]["name"]}
    assert (
        autoscaler["rbac"]["serviceAccount"]["annotations"]
        == (foundation["identities"]["cluster-autoscaler"]["annotations"])
    )
    traefik = releases["traefik"].get("values")
    assert traefik["ingressClass"]["name"] == foundation["ingress"]["className"]
    assert traefik["service"]["annotations"] == foundation["ingress"]["serviceAnnotations"]


def test_external_secrets_authenticates_with_the_workload_identity(apps: StackRun) -> None:
    foundation = run_stack(apps.stack.removesuffix("-apps")).outputs
    identity = foundation["identities"]["external-secrets"]
    values = _releases(apps)["external-secrets"].get("values")
    assert values["serviceAccount"]["name"] == identity["serviceAccount"]
    assert values["serviceAccount"]["annotations"] == identity["annotations"]
    assert values["podLabels"] == identity["podLabels"]
    store = named(apps, "ClusterSecretStore", "stratus-platform")
    provider = store.get("spec.provider")
    if foundation["secretStore"]["kind"] == "aws-secrets-manager":
        assert provider == {
            "aws": {"service": "SecretsManager", "region": foundation["secretStore"]["region"]}
        }
    else:
        assert provider["azurekv"]["vaultUrl"] == foundation["secretStore"]["vaultUrl"]
        assert provider["azurekv"]["authType"] == "WorkloadIdentity"


def test_the_acme_issuer_solves_through_the_ingress_class(apps: StackRun) -> None:
    foundation = run_stack(apps.stack.removesuffix("-apps")).outputs
    issuer = named(apps, "ClusterIssuer", "letsencrypt")
    acme = issuer.get("spec.acme")
    assert acme["email"] == apps_section(apps.stack)["ingress"]["tls"]["acme"]["email"]
    assert acme["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert acme["solvers"] == [
        {"http01": {"ingress": {"ingressClassName": foundation["ingress"]["className"]}}}
    ]


def test_without_acme_settings_the_stack_uses_an_existing_issuer() -> None:
    section = apps_section("azure-dev-apps")
    section["ingress"]["tls"] = {"issuer": "corporate-ca"}
    run = run_stack("azure-dev-apps", override={"stratus:apps": section})
    # Only the logging stack's internal CA issuers remain (no ACME issuer).
    issuers = {i.get("metadata.name") for i in objects(run, "ClusterIssuer")}
    assert issuers == {"stratus-selfsigned", "stratus-internal-ca"}
    ingress = named(run, "Ingress", "ml-api")
    assert ingress.get("metadata.annotations")["cert-manager.io/cluster-issuer"] == "corporate-ca"


def test_a_chart_version_can_be_overridden_per_stack() -> None:
    section = apps_section("azure-dev-apps")
    section["addons"] = {"certManager": {"version": "v1.20.2"}}
    run = run_stack("azure-dev-apps", override={"stratus:apps": section})
    assert _releases(run)["cert-manager"].get("version") == "v1.20.2"
