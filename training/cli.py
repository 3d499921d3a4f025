"""``python -m training`` — run the pipeline and manage the registry's aliases.

Exit codes: 0 success; 1 invalid config / bad input / registry error; 3 the candidate was rejected
by the gate (registered with ``validation_status=rejected``, nothing moved); 4 publishing to at
least one model store failed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from training import registry
from training.config import TrainingConfig, load_config
from training.errors import TrainingError
from training.progress import RichReporter
from training.publish import publish
from training.runner import RunResult, run_pipeline
from training.sync import sync_stores

REJECTED_EXIT = 3

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Stratus training pipeline: data → validated model → MLflow registry → model stores.",
)
console = Console()
errors = Console(stderr=True)

ConfigOption = typer.Option(
    None, "--config", "-c", help="pipeline YAML (default: training/configs/default.yaml)"
)


def _fail(exc: TrainingError) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def _overrides(**flags: Any) -> dict[str, Any]:
    """CLI flags as a nested config mapping (``None`` = not given)."""
    nested: dict[str, Any] = {}
    for dotted, value in flags.items():
        if value is None or value == []:
            continue
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


@app.command()
def run(
    config_path: Path | None = ConfigOption,
    source: str | None = typer.Option(None, help="data source (path, s3://, az://, synthetic:N)"),
    target: str | None = typer.Option(None, help="target column"),
    estimator: str | None = typer.Option(None, help="estimator name"),
    model_name: str | None = typer.Option(None, help="registered model name"),
    store: list[str] = typer.Option([], help="model store URL (repeatable; replaces the list)"),
    tracking_uri: str | None = typer.Option(None, help="MLflow tracking URI"),
    seed: int | None = typer.Option(None, help="random seed"),
    n_jobs: int | None = typer.Option(None, help="parallel workers"),
) -> None:
    """Train, evaluate, gate, register and publish a model."""
    try:
        config = load_config(
            config_path,
            _overrides(
                **{
                    "data.source": source,
                    "data.target": target,
                    "model.estimator": estimator,
                    "registry.model_name": model_name,
                    "registry.tracking_uri": tracking_uri,
                    "publish.stores": store,
                    "seed": seed,
                    "model.n_jobs": n_jobs,
                }
            ),
        )
        with RichReporter(console) as reporter:
            result = run_pipeline(config, reporter)
    except TrainingError as exc:
        raise _fail(exc) from None
    _print_summary(result, config)
    if not result.accepted:
        raise typer.Exit(REJECTED_EXIT)


def _print_summary(result: RunResult, config: TrainingConfig) -> None:
    table = Table(title=f"{result.model_name} v{result.version}", show_header=True)
    table.add_column("item")
    table.add_column("value", overflow="fold")
    verdict = "[green]accepted[/]" if result.accepted else "[red]rejected[/]"
    table.add_row("gate", f"{verdict}: {'; '.join(result.gate.reasons)}")
    for metric, value in result.metrics.items():
        marker = " (primary)" if metric == config.primary_metric else ""
        table.add_row(f"holdout {metric}{marker}", f"{value:.4f}")
    if result.cv_score is not None:
        table.add_row("best CV score", f"{result.cv_score:.4f} {result.best_params}")
    table.add_row("data", f"{result.landed.rows} rows x {result.landed.columns - 1} features")
    table.add_row("data fingerprint", result.landed.fingerprint)
    table.add_row("landed at", result.landed.url)
    for stage, seconds in result.timings.items():
        table.add_row(f"time: {stage}", f"{seconds:.2f}s")
    console.print(table)
    _print_where(result, config)


def _print_where(result: RunResult, config: TrainingConfig) -> None:
    aliases = "champion" if result.accepted else "none (rejected: nothing moved)"
    if result.replaced_champion:
        aliases += f"; previous → v{result.replaced_champion}"
    lines = [
        f"Registered model: {result.model_name} version {result.version} (aliases: {aliases})",
        f"Tracking URI:     {result.tracking_uri}  (experiment {result.experiment!r}, "
        f"run {result.run_id})",
        f"MLflow UI:        mlflow ui --backend-store-uri {result.tracking_uri}"
        if registry.is_local(result.tracking_uri)
        else f"MLflow UI:        {result.tracking_uri}",
        f"Load it:          mlflow.sklearn.load_model('models:/{result.model_name}@champion')",
    ]
    for published in result.published:
        lines.append(
            f"Model store:      {published.store} (pointer {result.model_name}/champion.json)"
        )
    if not result.published:
        stores = ", ".join(config.publish.stores) or "none configured"
        lines.append(f"Model stores:     not published ({stores})")
    console.print("\n".join(lines), highlight=False, soft_wrap=True)


def _client(config: TrainingConfig) -> tuple[Any, str]:
    workdir = Path(config.workdir).expanduser().resolve()
    uri = registry.resolve_tracking_uri(config.registry.tracking_uri, workdir)
    return registry.client_for(uri), uri


def _republish(
    config: TrainingConfig, client: Any, name: str, version: str, *, rollback: bool = False
) -> None:
    """Point every configured store at ``version`` after the champion alias moved."""
    stores = [config.resolve(s) for s in config.publish.stores]
    if not stores:
        return
    model_version = client.get_model_version(name, version)
    tags = {k: v for k, v in model_version.tags.items() if not k.startswith("metric.")}
    metrics = {
        k.removeprefix("metric."): float(v)
        for k, v in model_version.tags.items()
        if k.startswith("metric.")
    }
    results = publish(
        stores,
        name=name,
        version=version,
        run_id=model_version.run_id,
        metrics=metrics,
        tags=tags,
        keep_previous=not rollback,
    )
    for published in results:
        console.print(f"published {name} v{version} to {published.store}", highlight=False)


@app.command()
def promote(
    name: str = typer.Argument(..., help="registered model name"),
    version: str = typer.Argument(..., help="version to make champion"),
    force: bool = typer.Option(False, help="promote even a version the gate rejected"),
    config_path: Path | None = ConfigOption,
) -> None:
    """Make VERSION the champion (the old champion becomes `previous`) and publish it."""
    try:
        config = load_config(config_path)
        client, _ = _client(config)
        replaced = registry.promote(client, name, version, force=force)
        console.print(
            f"{name}: champion → v{version}" + (f", previous → v{replaced}" if replaced else ""),
            highlight=False,
        )
        _republish(config, client, name, version)
    except TrainingError as exc:
        raise _fail(exc) from None


@app.command()
def rollback(
    name: str = typer.Argument(..., help="registered model name"),
    config_path: Path | None = ConfigOption,
) -> None:
    """Restore the `previous` version as champion and publish it."""
    try:
        config = load_config(config_path)
        client, _ = _client(config)
        restored, demoted = registry.rollback(client, name)
        console.print(f"{name}: champion → v{restored} (was v{demoted})", highlight=False)
        _republish(config, client, name, restored, rollback=True)
    except TrainingError as exc:
        raise _fail(exc) from None


@app.command()
def show(
    name: str = typer.Argument(..., help="registered model name"),
    config_path: Path | None = ConfigOption,
) -> None:
    """List the versions of NAME with aliases, validation status and metrics."""
    try:
        config = load_config(config_path)
        client, uri = _client(config)
        versions = registry.describe(client, name)
    except TrainingError as exc:
        raise _fail(exc) from None
    metric_names = sorted({m for v in versions for m in v.metrics})
    table = Table(title=f"{name} @ {uri}")
    for column in ("version", "aliases", "status", *metric_names, "data", "created"):
        table.add_column(column)
    for info in versions:
        created = datetime.fromtimestamp(info.created / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            info.version,
            ", ".join(info.aliases),
            info.status,
            *(f"{info.metrics[m]:.4f}" if m in info.metrics else "" for m in metric_names),
            info.tags.get("data_fingerprint", "")[:12],
            created,
        )
    # Not a terminal (a pipe, a log): do not squeeze the table into 80 columns.
    (console if console.is_terminal else Console(width=160)).print(table)


@app.command("sync-stores")
def sync_stores_command(
    name: str = typer.Argument(..., help="registered model name"),
    source: str = typer.Option(..., "--from", help="store to copy from (path, s3://, az://)"),
    target: str = typer.Option(..., "--to", help="store to bring up to date"),
) -> None:
    """Mirror NAME's champion/previous bundles and pointers from one store to another
    (checksum-verified, all-or-nothing: see training/sync.py)."""
    try:
        result = sync_stores(name, source, target)
    except TrainingError as exc:
        raise _fail(exc) from None
    console.print(result.summary(), highlight=False, soft_wrap=True)


def main() -> None:
    app()
