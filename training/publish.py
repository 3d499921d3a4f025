"""Stage 9 — publish the champion to every configured model store (``training/bundle.py`` format).

Each store is all-or-nothing: ``write_bundle`` uploads the bundle first and writes the pointer last,
removing a version directory it created if an upload fails, so a failing store keeps its previous
pointer. All stores are attempted; failures are reported together (exit code 4) and the registry's
``champion`` can be re-published to them with ``python -m training promote NAME VERSION``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow

from training.bundle import ModelPointer, open_store, write_bundle
from training.errors import PublishError


@dataclass(frozen=True)
class Published:
    store: str
    pointer: ModelPointer | None
    error: str | None = None


def download_version(name: str, version: str, destination: Path) -> Path:
    """The registered version's MLflow model directory, downloaded from the registry."""
    path = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{name}/{version}", dst_path=str(destination)
    )
    return Path(path)


def publish(
    stores: list[str],
    *,
    name: str,
    version: str,
    run_id: str | None,
    metrics: dict[str, float],
    tags: dict[str, str],
    keep_previous: bool = True,
) -> list[Published]:
    """Write ``name`` v``version`` to every store; raise ``PublishError`` if any store failed.

    ``keep_previous``: see :func:`training.bundle.write_bundle` (False when rolling back).
    """
    results: list[Published] = []
    with tempfile.TemporaryDirectory(prefix="stratus-bundle-") as scratch:
        local_dir = download_version(name, version, Path(scratch))
        for store in stores:
            try:
                fs, root = open_store(store)
                pointer = write_bundle(
                    fs,
                    root,
                    local_dir=local_dir,
                    name=name,
                    version=version,
                    source_uri=f"models:/{name}/{version}",
                    run_id=run_id,
                    metrics=metrics,
                    tags=tags,
                    keep_previous=keep_previous,
                )
                results.append(Published(store, pointer))
            except Exception as exc:  # any store failure is reported, the others still publish
                results.append(Published(store, None, f"{type(exc).__name__}: {exc}"))
    failed = [r for r in results if r.error]
    if failed:
        details = "\n".join(f"  - {r.store}: {r.error}" for r in failed)
        ok = ", ".join(r.store for r in results if not r.error) or "none"
        raise PublishError(
            f"publishing {name} v{version} failed for {len(failed)} of {len(results)} stores "
            f"(their previous pointer is unchanged; published to: {ok}):\n{details}",
        )
    return results
