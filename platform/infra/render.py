"""``python -m infra render --stack NAME --out DIR``: every Kubernetes object a stack declares, as
YAML, for review and GitOps.

The stack runs offline (:mod:`infra.offline`); each object is written to
``<namespace>/<kind>-<name>.yaml`` (``_cluster/`` for cluster-scoped objects), each Helm release
as ``<namespace>/helmrelease-<name>.yaml`` (chart, repository, version) plus
``<namespace>/helmrelease-<name>.values.yaml``. Secret values, and every input Pulumi marks
secret, are written as ``<redacted>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from infra.config import StratusConfigError
from infra.foundation import FoundationContractError
from infra.offline import OfflineError, Registered, StackRun, run_stack

REDACTED = "<redacted>"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
CLUSTER_SCOPE = "_cluster"
#: Inputs the Pulumi provider adds to a release that are not part of the chart reference.
_RELEASE_INTERNAL = {"compat", "values", "valueYamlFiles"}


@dataclass(frozen=True)
class Rendered:
    path: Path
    kind: str
    name: str
    namespace: str | None


def plain(value: Any) -> Any:
    """Inputs as Kubernetes wants them: integral numbers back to ints (the wire format of
    Pulumi's inputs carries every number as a float)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _redact(value: Any, secret_paths: frozenset[str], path: str = "") -> Any:
    if path and any(path == p or path.startswith(p + ".") for p in secret_paths):
        return REDACTED
    if isinstance(value, dict):
        return {
            key: _redact(item, secret_paths, f"{path}.{key}" if path else key)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _redact(item, secret_paths, f"{path}.{index}" if path else str(index))
            for index, item in enumerate(value)
        ]
    return value


def kubernetes_object(resource: Registered) -> dict[str, Any]:
    """The manifest of a registered Kubernetes resource, secrets redacted."""
    document = plain(_redact(dict(resource.inputs), resource.secret_paths))
    if document.get("kind") == "Secret":
        # Keep the keys (what the Secret holds), never a value.
        for field in ("data", "stringData"):
            if field in resource.inputs:
                document[field] = {key: REDACTED for key in resource.inputs[field]}
    ordered = {
        "apiVersion": document.pop("apiVersion"),
        "kind": document.pop("kind"),
        "metadata": document.pop("metadata", {}),
    }
    ordered.update(document)
    return ordered


def kubernetes_objects(run: StackRun) -> Iterator[tuple[Registered, dict[str, Any]]]:
    for resource in run.resources:
        if (
            resource.type.startswith("kubernetes:")
            and resource.type != HELM_RELEASE
            and resource.custom
        ):
            yield resource, kubernetes_object(resource)


def helm_releases(run: StackRun) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(chart reference, values) of every Helm release."""
    for resource in run.of_type(HELM_RELEASE):
        inputs = plain(_redact(dict(resource.inputs), resource.secret_paths))
        reference = {
            "name": inputs["name"],
            "namespace": inputs.get("namespace", "default"),
            "chart": inputs["chart"],
            "version": inputs["version"],
            "repository": (inputs.get("repositoryOpts") or {}).get("repo"),
            **{
                key: value
                for key, value in inputs.items()
                if key not in _RELEASE_INTERNAL
                and key not in {"name", "namespace", "chart", "version", "repositoryOpts"}
            },
        }
        yield reference, inputs.get("values") or {}


def _dump(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=True, default_flow_style=False))


def render_stack(stack: str, out: Path) -> list[Rendered]:
    """Run ``stack`` offline and write its Kubernetes objects and Helm releases under ``out``."""
    run = run_stack(stack)
    written: list[Rendered] = []
    for _, manifest in kubernetes_objects(run):
        metadata = manifest["metadata"]
        namespace = metadata.get("namespace")
        kind = manifest["kind"]
        name = metadata["name"]
        path = out / (namespace or CLUSTER_SCOPE) / f"{kind.lower()}-{name}.yaml"
        _dump(path, manifest)
        written.append(Rendered(path, kind, name, namespace))
    for reference, values in helm_releases(run):
        namespace = reference["namespace"]
        base = out / namespace / f"helmrelease-{reference['name']}"
        _dump(base.with_suffix(".yaml"), reference)
        _dump(base.parent / f"{base.name}.values.yaml", values)
        written.append(
            Rendered(base.with_suffix(".yaml"), "HelmRelease", reference["name"], namespace)
        )
    return written


def render(
    stack: Annotated[str, typer.Option(help="a shipped stack, e.g. aws-dev-apps")],
    out: Annotated[Path, typer.Option(help="directory to write the YAML files to")],
) -> None:
    """Write every Kubernetes object of STACK as YAML (<namespace>/<kind>-<name>.yaml) and each
    Helm release as its chart reference + values file; Secret values are redacted."""
    console = Console(stderr=True)
    try:
        written = render_stack(stack, out)
    except (OfflineError, StratusConfigError, FoundationContractError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    objects = sum(1 for item in written if item.kind != "HelmRelease")
    releases = len(written) - objects
    console.print(f"{stack}: {objects} objects and {releases} Helm releases written to {out}")
