"""Price a stack's usage: monthly low / expected / high per line, per component and in total,
commitments for always-on pools, and two stacks side by side.

Arithmetic (the README's "Cost" section): a line's monthly cost is
``quantity x price per meter unit``, with always-on things counted at 730 hours a month; *low*
uses the pools' minimum sizes, *expected* their desired sizes and *high* their maximum sizes
(fixed resources are the same in all three). Tiered prices use the first tier. A commitment
(1- or 3-year reservation, AWS standard no-upfront / Azure reservation) is shown for the
always-on part of an on-demand pool (its minimum size), next to the on-demand price and the
saving.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from infra.cost.book import PriceBook, Quote
from infra.cost.model import Offer, PriceError, Quantity, Term, Unpriced, UsageLine
from infra.cost.resources import Assumptions, StackUsage
from infra.cost.units import Meter, UnitError, monthly_units, price_per_meter_unit


@dataclass(frozen=True)
class Reservation:
    """Commitment prices for the always-on nodes of one pool (monthly USD)."""

    nodes: float
    on_demand: float
    one_year: float | None
    three_year: float | None

    def saving(self, committed: float | None) -> float | None:
        if committed is None or self.on_demand <= 0:
            return None
        return 1.0 - committed / self.on_demand


@dataclass(frozen=True)
class PricedLine:
    usage: UsageLine
    #: USD per meter unit (per hour for always-on things); ``None`` when not priced.
    unit_price: float | None
    monthly: Quantity | None
    reservation: Reservation | None = None
    error: str = ""
    fetched_at: datetime | None = None
    source: str = ""


@dataclass
class ComponentTotal:
    component: str
    lines: list[PricedLine] = field(default_factory=list)

    @property
    def monthly(self) -> Quantity:
        return _sum(line.monthly for line in self.lines if line.monthly is not None)

    @property
    def failed(self) -> int:
        return sum(1 for line in self.lines if line.error)


@dataclass
class StackReport:
    stack: str
    cloud: str
    region: str
    assumptions: Assumptions
    components: list[ComponentTotal]
    unpriced: list[Unpriced]
    no_charge: dict[str, int]

    @property
    def lines(self) -> list[PricedLine]:
        return [line for component in self.components for line in component.lines]

    @property
    def monthly(self) -> Quantity:
        return _sum(component.monthly for component in self.components)

    @property
    def errors(self) -> list[str]:
        return [f"{line.usage.resource}: {line.error}" for line in self.lines if line.error]

    @property
    def reservations(self) -> list[PricedLine]:
        return [line for line in self.lines if line.reservation is not None]

    @property
    def fetched(self) -> tuple[datetime, datetime] | None:
        dates = [line.fetched_at for line in self.lines if line.fetched_at is not None]
        return (min(dates), max(dates)) if dates else None

    @property
    def sources(self) -> list[str]:
        return sorted({line.source for line in self.lines if line.source})


def _sum(quantities: Iterable[Quantity]) -> Quantity:
    low = expected = high = 0.0
    for quantity in quantities:
        low += quantity.low
        expected += quantity.expected
        high += quantity.high
    return Quantity(low, expected, high)


def select(offers: Iterable[Offer], line: UsageLine, term: Term) -> float:
    """The price per meter unit of ``line`` under ``term`` among a query's ``offers``.

    Keeps the offers of that term that ``line.pick`` accepts and whose unit fits the meter, then
    the first tier; several different prices left over is an error listing them (never a guess).
    """
    offers = list(offers)
    if not offers:
        raise PriceError(
            f"the price API has no product for {line.query.describe()} (unknown type, or no "
            "price in that region)"
        )
    fitting: list[tuple[Offer, float]] = []
    unit_errors: list[str] = []
    for offer in offers:
        if offer.term != term or not line.pick(offer):
            continue
        try:
            fitting.append((offer, price_per_meter_unit(offer.usd, offer.unit, line.meter)))
        except UnitError as exc:
            unit_errors.append(str(exc))
    if not fitting:
        detail = f" ({unit_errors[0]})" if unit_errors else ""
        raise PriceError(
            f"no {term} price among {len(offers)} offers for {line.query.describe()}{detail}"
        )
    first_tier = min(offer.begin_range for offer, _ in fitting)
    prices = {
        round(price, 10): offer for offer, price in fitting if offer.begin_range == first_tier
    }
    if len(prices) > 1:
        listed = "; ".join(
            f"{offer.description} {offer.usd} per {offer.unit}" for offer in prices.values()
        )
        raise PriceError(
            f"{len(prices)} different {term} prices match {line.query.describe()}: {listed}"
        )
    return next(iter(prices))


def _reservation(line: UsageLine, quote: Quote, hourly: float) -> Reservation | None:
    if not line.reservable or line.meter is not Meter.HOURS:
        return None
    nodes = line.quantity.low
    hours = monthly_units(Meter.HOURS, nodes)

    def committed(term: Term) -> float | None:
        try:
            return select(quote.offers, line, term) * hours
        except PriceError:
            return None

    return Reservation(
        nodes=nodes,
        on_demand=hourly * hours,
        one_year=committed("reserved-1y"),
        three_year=committed("reserved-3y"),
    )


def price_line(line: UsageLine, book: PriceBook) -> PricedLine:
    """One line priced, or marked with the error that kept it from being priced."""
    try:
        quote = book.quote(line.query)
        unit_price = select(quote.offers, line, line.term)
    except PriceError as exc:
        return PricedLine(line, None, None, error=str(exc))
    units = Quantity(
        monthly_units(line.meter, line.quantity.low),
        monthly_units(line.meter, line.quantity.expected),
        monthly_units(line.meter, line.quantity.high),
    )
    return PricedLine(
        line,
        unit_price,
        units.scaled(unit_price),
        reservation=_reservation(line, quote, unit_price),
        fetched_at=quote.fetched_at,
        source=quote.source,
    )


def merge_alike(lines: Iterable[UsageLine]) -> list[UsageLine]:
    """Lines that differ only by resource (three NAT gateways, six buckets) as one line of N."""
    groups: dict[tuple[object, ...], list[UsageLine]] = {}
    for line in lines:
        key = (
            line.component,
            line.what,
            line.query,
            line.meter,
            line.term,
            line.pick,
            line.reservable,
            line.note,
        )
        groups.setdefault(key, []).append(line)
    merged = []
    for group in groups.values():
        first = group[0]
        if len(group) == 1:
            merged.append(first)
            continue
        merged.append(
            replace(
                first,
                resource=", ".join(line.resource for line in group),
                what=f"{len(group)} x {first.what}",
                quantity=_sum(line.quantity for line in group),
            )
        )
    return merged


def estimate(usage: StackUsage, book: PriceBook, assumptions: Assumptions) -> StackReport:
    components: dict[str, ComponentTotal] = {}
    for line in merge_alike(usage.lines):
        component = components.setdefault(line.component, ComponentTotal(line.component))
        component.lines.append(price_line(line, book))
    return StackReport(
        stack=usage.stack,
        cloud=usage.cloud,
        region=usage.region,
        assumptions=assumptions,
        components=list(components.values()),
        unpriced=usage.unpriced,
        no_charge=usage.no_charge,
    )


@dataclass(frozen=True)
class ComparisonRow:
    """One kind of component (``Cluster``, ``Storage``...) on two stacks, monthly USD."""

    kind: str
    left: Quantity | None
    right: Quantity | None

    @property
    def difference(self) -> float:
        return (self.right.expected if self.right else 0.0) - (
            self.left.expected if self.left else 0.0
        )


def component_kind(component: str) -> str:
    """``Cluster stratus-prod-cluster`` -> ``Cluster``: what the clouds' components share."""
    return component.split(" ", 1)[0]


def compare(left: StackReport, right: StackReport) -> list[ComparisonRow]:
    """Both stacks' components matched by kind, in the left stack's order, then the right's."""

    def by_kind(report: StackReport) -> dict[str, Quantity]:
        totals: dict[str, Quantity] = {}
        for component in report.components:
            kind = component_kind(component.component)
            totals[kind] = _sum([totals.get(kind, Quantity.fixed(0)), component.monthly])
        return totals

    a, b = by_kind(left), by_kind(right)
    kinds = list(a) + [kind for kind in b if kind not in a]
    return [ComparisonRow(kind, a.get(kind), b.get(kind)) for kind in kinds]
