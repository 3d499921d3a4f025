"""``python -m infra cost``: what a stack will cost per month, from the clouds' price APIs."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import typer
from rich.console import Console

from infra.config import StratusConfigError
from infra.cost.aws_prices import AwsPriceList
from infra.cost.azure_prices import RETAIL_PRICES_URL, AzureRetailPrices
from infra.cost.book import PriceBook, PriceCache, default_cache_dir, write_snapshot
from infra.cost.estimate import StackReport, compare, estimate
from infra.cost.model import PriceError
from infra.cost.render import comparison, stack_report
from infra.cost.resources import Assumptions, usage_of
from infra.offline import OfflineError, run_stack

#: Exit code when the report printed but at least one line could not be priced.
EXIT_INCOMPLETE = 3


def build_book(prices: Path | None, cache_dir: Path | None, max_age_days: float) -> PriceBook:
    if prices is not None:
        return PriceBook.from_snapshot(prices)
    azure_url = os.environ.get("STRATUS_AZURE_PRICES_URL", RETAIL_PRICES_URL)
    return PriceBook(
        fetchers={"aws": AwsPriceList(), "azure": AzureRetailPrices(base_url=azure_url)},
        cache=PriceCache(cache_dir or default_cache_dir()),
        max_age=timedelta(days=max_age_days),
    )


def report_for(stack: str, book: PriceBook, assumptions: Assumptions) -> StackReport:
    """Run ``stack`` offline and price what it registers."""
    run = run_stack(stack)
    return estimate(usage_of(run, assumptions), book, assumptions)


def cost(
    stack: str | None = typer.Option(
        None, "--stack", help="A shipped stack (stacks/Pulumi.<stack>.yaml), e.g. aws-prod."
    ),
    compare_stacks: tuple[str, str] | None = typer.Option(
        None,
        "--compare",
        help="Two stacks side by side per component, e.g. --compare aws-prod azure-prod.",
    ),
    prices: Path | None = typer.Option(
        None, "--prices", help="Read prices from this snapshot only (air-gapped; no API calls)."
    ),
    save_prices: Path | None = typer.Option(
        None, "--save-prices", help="Write the prices this run used to this snapshot file."
    ),
    storage_gb: float = typer.Option(
        100.0, "--storage-gb", min=0, help="GB stored in each bucket / blob container."
    ),
    log_gb: float = typer.Option(
        10.0, "--log-gb", min=0, help="GB of logs the stack ingests per month."
    ),
    max_age_days: float = typer.Option(
        7.0, "--max-age-days", min=0, help="Re-fetch cached prices older than this."
    ),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Price cache (default ~/.cache/stratus/prices)."
    ),
    width: int = typer.Option(140, "--width", min=60, help="Width of the printed tables."),
) -> None:
    """Price a stack per month (low / expected / high) from the AWS and Azure price APIs."""
    if (stack is None) == (compare_stacks is None):
        raise typer.BadParameter("give exactly one of --stack STACK or --compare STACK STACK")
    console = Console(width=width)
    errors = Console(stderr=True, width=width)
    assumptions = Assumptions(storage_gb=storage_gb, log_gb=log_gb)
    try:
        book = build_book(prices, cache_dir, max_age_days)
        if compare_stacks is not None:
            left, right = (report_for(name, book, assumptions) for name in compare_stacks)
            console.print(comparison(left, right, compare(left, right)))
            reports = [left, right]
        else:
            assert stack is not None
            reports = [report_for(stack, book, assumptions)]
            console.print(stack_report(reports[0]))
        if save_prices is not None:
            write_snapshot(save_prices, book.used.values())
            console.print(f"Saved {len(book.used)} price answers to {save_prices}")
    except (OfflineError, StratusConfigError, PriceError) as exc:
        errors.print(f"error: {exc}", style="bold red", markup=False)
        raise typer.Exit(1) from None
    if any(report.errors for report in reports):
        sys.stdout.flush()
        raise typer.Exit(EXIT_INCOMPLETE)
