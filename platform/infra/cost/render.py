"""The cost report as rich tables: one per component, totals, commitments, what is not priced."""

from __future__ import annotations

from collections import Counter

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from infra.cost.estimate import ComparisonRow, StackReport
from infra.cost.model import Quantity
from infra.cost.units import Meter

_METER_UNIT = {Meter.HOURS: "/h", Meter.MONTHS: "/mo", Meter.GB_MONTHS: "/GB-mo", Meter.GB: "/GB"}


def usd(value: float | None) -> str:
    if value is None:
        return "—"
    return f"${value:,.2f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _quantity(quantity: Quantity) -> tuple[str, str, str]:
    return usd(quantity.low), usd(quantity.expected), usd(quantity.high)


def header(report: StackReport) -> Text:
    text = Text()
    text.append(f"{report.stack}", style="bold")
    text.append(f"  ({report.cloud}, {report.region})\n")
    fetched = report.fetched
    if fetched is not None:
        first, last = (moment.date().isoformat() for moment in fetched)
        when = first if first == last else f"{first} to {last}"
        text.append(f"Prices: {', '.join(report.sources)}, fetched {when} (USD, list prices)\n")
    text.append(
        f"Month = 730 hours. Assumptions: {report.assumptions.storage_gb:g} GB per data store "
        f"(--storage-gb), {report.assumptions.log_gb:g} GB of logs a month (--log-gb).\n"
        "low = minimum pool sizes, expected = desired sizes, high = maximum sizes."
    )
    return text


def component_table(report: StackReport) -> list[Table]:
    tables = []
    for component in report.components:
        table = Table(title=component.component, title_justify="left", expand=False)
        table.add_column("line")
        table.add_column("unit price", justify="right")
        table.add_column("low /mo", justify="right")
        table.add_column("expected /mo", justify="right")
        table.add_column("high /mo", justify="right")
        for line in component.lines:
            what = Text(line.usage.what)
            if line.error:
                what.append(f"\n  NOT PRICED: {line.error}", style="bold red")
                table.add_row(what, "—", "—", "—", "—")
                continue
            assert line.monthly is not None
            unit = f"{usd(line.unit_price)}{_METER_UNIT[line.usage.meter]}"
            if line.unit_price is not None and line.unit_price < 0.01:
                unit = f"${line.unit_price:.4f}{_METER_UNIT[line.usage.meter]}"
            if line.usage.note:
                what.append(f"\n  {line.usage.note}", style="dim")
            table.add_row(what, unit, *_quantity(line.monthly))
        total = component.monthly
        label = "total" + (f" ({component.failed} line(s) not priced)" if component.failed else "")
        table.add_row(
            Text(label, style="bold"), "", *_quantity(total), style="bold", end_section=True
        )
        tables.append(table)
    return tables


def totals_table(report: StackReport) -> Table:
    table = Table(title=f"{report.stack} per month", title_justify="left")
    table.add_column("component")
    table.add_column("low", justify="right")
    table.add_column("expected", justify="right")
    table.add_column("high", justify="right")
    for component in report.components:
        name = component.component + (" (incomplete)" if component.failed else "")
        table.add_row(name, *_quantity(component.monthly))
    table.add_row(Text("total", style="bold"), *_quantity(report.monthly), style="bold")
    return table


def reservations_table(report: StackReport) -> Table | None:
    lines = report.reservations
    if not lines:
        return None
    table = Table(
        title="Commitments for always-on pools (the minimum size, per month)", title_justify="left"
    )
    table.add_column("pool")
    table.add_column("nodes", justify="right")
    table.add_column("on-demand", justify="right")
    table.add_column("1-year", justify="right")
    table.add_column("saving", justify="right")
    table.add_column("3-year", justify="right")
    table.add_column("saving", justify="right")
    for line in lines:
        reservation = line.reservation
        assert reservation is not None
        table.add_row(
            line.usage.what,
            f"{reservation.nodes:g}",
            usd(reservation.on_demand),
            usd(reservation.one_year),
            _percent(reservation.saving(reservation.one_year)),
            usd(reservation.three_year),
            _percent(reservation.saving(reservation.three_year)),
        )
    return table


def unpriced_table(report: StackReport) -> Table | None:
    if not report.unpriced and not report.no_charge:
        return None
    table = Table(title="Not priced", title_justify="left")
    table.add_column("component")
    table.add_column("resource type")
    table.add_column("count", justify="right")
    table.add_column("why")
    grouped = Counter((u.component, u.resource_type, u.reason) for u in report.unpriced)
    for (component, resource_type, reason), count in grouped.items():
        table.add_row(component, resource_type.split(":", 1)[-1], str(count), reason)
    for reason, count in sorted(report.no_charge.items()):
        table.add_row("—", "—", str(count), f"no charge of their own: {reason}", style="dim")
    return table


def stack_report(report: StackReport) -> RenderableType:
    parts: list[RenderableType] = [header(report)]
    if not report.components:
        parts.append(
            Text(
                "No priced resources: an in-cluster stack runs on its foundation's nodes "
                "(price the foundation stack).",
                style="yellow",
            )
        )
    parts += component_table(report)
    if report.components:
        parts.append(totals_table(report))
    for optional in (reservations_table(report), unpriced_table(report)):
        if optional is not None:
            parts.append(optional)
    if report.errors:
        parts.append(
            Text(
                f"{len(report.errors)} line(s) could not be priced (marked above).",
                style="bold red",
            )
        )
    return Group(*parts)


def comparison(left: StackReport, right: StackReport, rows: list[ComparisonRow]) -> RenderableType:
    table = Table(title=f"{left.stack} vs {right.stack} (USD per month)", title_justify="left")
    table.add_column("component")
    for report in (left, right):
        table.add_column(f"{report.stack} low", justify="right")
        table.add_column(f"{report.stack} expected", justify="right")
        table.add_column(f"{report.stack} high", justify="right")
    table.add_column(f"difference (expected, {right.stack} - {left.stack})", justify="right")

    def cells(quantity: Quantity | None) -> tuple[str, str, str]:
        return ("—", "—", "—") if quantity is None else _quantity(quantity)

    for row in rows:
        table.add_row(row.kind, *cells(row.left), *cells(row.right), f"{row.difference:+,.2f}")
    total_left, total_right = left.monthly, right.monthly
    table.add_row(
        Text("total", style="bold"),
        *_quantity(total_left),
        *_quantity(total_right),
        f"{total_right.expected - total_left.expected:+,.2f}",
        style="bold",
    )
    notes: list[RenderableType] = [header(left), header(right), table]
    for report in (left, right):
        if report.errors:
            notes.append(
                Text(
                    f"{report.stack}: {len(report.errors)} line(s) could not be priced:\n  "
                    + "\n  ".join(report.errors),
                    style="bold red",
                )
            )
    return Group(*notes)


def print_report(console: Console, renderable: RenderableType) -> None:
    console.print(renderable)
