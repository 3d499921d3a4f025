"""``python -m training`` — run the pipeline and manage the registry's aliases.

Exit codes: 0 success; 1 invalid config / bad input / registry error; 3 the candidate was rejected
by the gate (registered with ``validation_status=rejected``, nothing moved); 4 publishing to at
least one model store failed. ``finalize`` (and ``run --shard ... --finalize-wait`` on shard 0)
exits as ``run`` does; a shard's ``run`` exits 0 once its trials are logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from rich.console import Console
from rich.table import Table

from training import registry
from training.config import TrainingConfig, load_config
from training.errors import (
    GATE_REJECTED_EXIT,
    ConfigError,
    PublishError,
    RegistryError,
    TrainingError,
)
from training.locations import check_location
from training.lock import RegistryLock
from training.progress import RichReporter
from training.publish import Published, publish
from training.runner import RunResult, run_pipeline
from training.sharded import finalize_search, run_shard
from training.shards import (
    COUNT_ENV,
    INDEX_ENV,
    SEARCH_ID_ENV,
    Shard,
    check_search_id,
    resolve_shard,
)
from training.sync import sync_stores

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


def _say(message: str) -> None:
    """One line of output, never wrapped (it is read by people and by scripts alike)."""
    console.print(message, highlight=False, soft_wrap=True)


def _fail(exc: TrainingError | MlflowException) -> typer.Exit:
    """The error on stderr and its exit code (an MLflow failure: 1, with MLflow's message)."""
    if isinstance(exc, MlflowException):
        exc = RegistryError(f"the MLflow registry failed: {exc.message}")
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


StoreOption = typer.Option(
    [], "--store", help="model store URL (repeatable; replaces the config's publish.stores)"
)
TrackingOption = typer.Option(
    None, "--tracking-uri", help="MLflow tracking URI (wins over MLFLOW_TRACKING_URI and config)"
)
SearchIdOption = typer.Option(
    None,
    "--search-id",
    envvar=SEARCH_ID_ENV,
    help="the sharded search's name (its parent MLflow run); the Job's name on the cluster",
)


@app.command()
def run(
    config_path: Path | None = ConfigOption,
    source: str | None = typer.Option(None, help="data source (path, s3://, az://, synthetic:N)"),
    target: str | None = typer.Option(None, help="target column"),
    estimator: str | None = typer.Option(None, help="estimator name"),
    model_name: str | None = typer.Option(None, help="registered model name"),
    store: list[str] = StoreOption,
    tracking_uri: str | None = TrackingOption,
    seed: int | None = typer.Option(None, help="random seed"),
    n_jobs: int | None = typer.Option(None, help="parallel workers"),
    shard: str | None = typer.Option(
        None,
        help="run only slice I/N of a sharded search's trials (default: "
        f"{INDEX_ENV}/{COUNT_ENV} when set)",
    ),
    search_id: str | None = SearchIdOption,
    finalize_wait: float | None = typer.Option(
        None,
        min=0,
        help="sharded: shard 0, once its slice is done, waits up to this many seconds for the "
        "other shards, then finalizes (other shards ignore it)",
    ),
) -> None:
    """Train, evaluate, gate, register and publish a model; with --shard, run one slice of a
    sharded search instead (then `finalize`)."""
    try:
        chosen = resolve_shard(shard)
        if chosen is None and (search_id is not None or finalize_wait is not None):
            raise ConfigError(
                f"--search-id/--finalize-wait need --shard I/N (or {INDEX_ENV} and {COUNT_ENV})"
            )
        if chosen is not None:
            search_id = check_search_id(search_id)
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
        if chosen is not None:
            assert search_id is not None
            _run_shard(config, chosen, search_id, tracking_uri, finalize_wait)
            return
        with RichReporter(console) as reporter:
            result = run_pipeline(config, reporter, tracking_uri=tracking_uri)
    except TrainingError as exc:
        raise _fail(exc) from None
    _conclude(result, config)


def _run_shard(
    config: TrainingConfig,
    shard: Shard,
    search_id: str,
    tracking_uri: str | None,
    finalize_wait: float | None,
) -> None:
    with RichReporter(console) as reporter:
        done = run_shard(config, shard, search_id, reporter, tracking_uri=tracking_uri)
    _say(
        f"search {search_id}, shard {shard}: {done.ran} trial(s) run, {done.skipped} already "
        f"logged (parent run {done.parent_run_id} at {done.tracking_uri})"
    )
    if finalize_wait is None or shard.index != 0:
        return
    with RichReporter(console) as reporter:
        result = finalize_search(
            config, search_id, reporter, tracking_uri=tracking_uri, wait_s=finalize_wait
        )
    _conclude(result, config)


def _conclude(result: RunResult, config: TrainingConfig) -> None:
    """The run's summary, and exit 3 when the gate rejected the candidate."""
    _print_summary(result, config)
    if not result.accepted:
        raise typer.Exit(GATE_REJECTED_EXIT)


@app.command()
def finalize(
    search_id: str | None = SearchIdOption,
    config_path: Path | None = ConfigOption,
    store: list[str] = StoreOption,
    tracking_uri: str | None = TrackingOption,
    wait: float = typer.Option(
        0.0, min=0, help="seconds to wait for missing shards' trials before failing"
    ),
) -> None:
    """Finish a sharded search: check every shard's trials are logged, pick the best candidate as
    `run` would, refit it, then evaluate, gate, register and publish (exit codes as `run`)."""
    try:
        checked = check_search_id(search_id)
        config = load_config(
            config_path,
            _overrides(**{"registry.tracking_uri": tracking_uri, "publish.stores": store}),
        )
        with RichReporter(console) as reporter:
            result = finalize_search(
                config, checked, reporter, tracking_uri=tracking_uri, wait_s=wait
            )
    except TrainingError as exc:
        raise _fail(exc) from None
    _conclude(result, config)


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
        table.add_row(
            f"best CV {config.primary_metric}", f"{result.cv_score:.4f} {result.best_params}"
        )
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
        f"Metrics:          {result.metric_scope}",
    ]
    for published in result.published:
        lines.append(
            f"Model store:      {published.store} (pointer {result.model_name}/champion.json)"
        )
    if not result.published:
        stores = ", ".join(config.publish.stores) or "none configured"
        lines.append(f"Model stores:     not published ({stores})")
    console.print("\n".join(lines), highlight=False, soft_wrap=True)


@dataclass(frozen=True)
class Context:
    """What ``promote``/``rollback``/``reconcile``/``show`` act on."""

    config: TrainingConfig
    client: MlflowClient
    tracking_uri: str
    stores: list[str]


def _context(
    config_path: Path | None,
    stores: list[str],
    tracking_uri: str | None,
    *,
    check_stores: bool = False,
) -> Context:
    """The config, registry client and stores; ``check_stores``: every store's bucket/container
    exists and is reachable, checked before an alias moves."""
    config = load_config(config_path, _overrides(**{"publish.stores": stores}))
    workdir = Path(config.workdir).expanduser().resolve()
    uri = tracking_uri or registry.resolve_tracking_uri(config.registry.tracking_uri, workdir)
    urls = [config.resolve(s) for s in config.publish.stores]
    if check_stores:
        for url in urls:
            check_location(url, "--store / publish.stores")
    return Context(config, registry.client_for(uri), uri, urls)


def _lock(context: Context, name: str, purpose: str) -> RegistryLock:
    return RegistryLock(
        context.client,
        name,
        purpose=purpose,
        lease_s=context.config.registry.lock_lease_s,
        wait_s=context.config.registry.lock_wait_s,
        on_wait=lambda message: _say(message),
    )


def _republish(context: Context, name: str, lock: RegistryLock, *, verify: bool = False) -> None:
    """Make every store's pointers match the registry's aliases, and say what changed."""
    if not context.stores:
        _say("no model stores configured: nothing published")
        return
    lock.check()
    try:
        results = publish(context.stores, client=context.client, name=name, verify=verify)
    except PublishError as exc:
        _print_published(exc.results)
        raise
    _print_published(results)


def _print_published(results: list[Published]) -> None:
    for published in results:
        if published.error:
            continue
        for change in published.changes:
            _say(f"{published.store}: {change.describe()}")


@app.command()
def promote(
    name: str = typer.Argument(..., help="registered model name"),
    version: str = typer.Argument(..., help="version to make champion"),
    force: bool = typer.Option(
        False, help="promote even a version the gate rejected (or could not compare)"
    ),
    config_path: Path | None = ConfigOption,
    store: list[str] = StoreOption,
    tracking_uri: str | None = TrackingOption,
) -> None:
    """Make VERSION the champion (the old champion becomes `previous`) and publish it."""
    try:
        context = _context(config_path, store, tracking_uri, check_stores=True)
        with _lock(context, name, "promote") as lock:
            before = registry.aliases(context.client, name).get(registry.CHAMPION)
            version, replaced = registry.promote(
                context.client, name, version, force=force, guard=lock.check
            )
            if before == version:
                message = f"{name}: v{version} is already the champion (aliases unchanged)"
            else:
                message = f"{name}: champion → v{version}" + (
                    f", previous → v{replaced}" if replaced else ""
                )
            _say(message)
            _republish(context, name, lock)
    except (TrainingError, MlflowException) as exc:
        raise _fail(exc) from None


@app.command()
def rollback(
    name: str = typer.Argument(..., help="registered model name"),
    config_path: Path | None = ConfigOption,
    store: list[str] = StoreOption,
    tracking_uri: str | None = TrackingOption,
) -> None:
    """Restore the `previous` version as champion and publish it."""
    try:
        context = _context(config_path, store, tracking_uri, check_stores=True)
        with _lock(context, name, "rollback") as lock:
            restored, demoted = registry.rollback(context.client, name, guard=lock.check)
            _say(f"{name}: champion → v{restored} (was v{demoted})")
            _republish(context, name, lock)
    except (TrainingError, MlflowException) as exc:
        raise _fail(exc) from None


@app.command()
def reconcile(
    name: str = typer.Argument(..., help="registered model name"),
    config_path: Path | None = ConfigOption,
    store: list[str] = StoreOption,
    tracking_uri: str | None = TrackingOption,
) -> None:
    """Repair the aliases (an interrupted move) and make every store's pointers match them,
    verifying each bundle file's checksum; report what changed."""
    try:
        context = _context(config_path, store, tracking_uri)
        with _lock(context, name, "reconcile") as lock:
            for change in registry.repair(context.client, name, guard=lock.check):
                _say(f"registry: {change}")
            current = registry.aliases(context.client, name)
            _say(
                f"{name}: champion v{current.get(registry.CHAMPION, '-')}, "
                f"previous v{current.get(registry.PREVIOUS, '-')}"
            )
            _republish(context, name, lock, verify=True)
    except (TrainingError, MlflowException) as exc:
        raise _fail(exc) from None


@app.command()
def show(
    name: str = typer.Argument(..., help="registered model name"),
    config_path: Path | None = ConfigOption,
    tracking_uri: str | None = TrackingOption,
) -> None:
    """List the versions of NAME with aliases, validation status and metrics."""
    try:
        context = _context(config_path, [], tracking_uri)
        versions = registry.describe(context.client, name)
        problems = registry.consistency_problems(context.client, name)
    except (TrainingError, MlflowException) as exc:
        raise _fail(exc) from None
    metric_names = sorted({m for v in versions for m in v.metrics})
    table = Table(title=f"{name} @ {context.tracking_uri}")
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
    for problem in problems:
        errors.print(f"warning: {problem} (`python -m training reconcile {name}` repairs it)")


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
