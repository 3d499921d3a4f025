"""The cost report's vocabulary: what to ask a price API, what it answers, and what a stack uses.

* :class:`PriceQuery` - one request to a cloud's price API (service, region, exact-match filters);
  its :meth:`~PriceQuery.key` names the answer in the on-disk cache and in price snapshots.
* :class:`Offer` - one price point of the answer, normalised across the two APIs (on-demand,
  spot, or a 1-/3-year commitment expressed per hour).
* :class:`UsageLine` - one priced dimension of one resource of a stack (node pool hours,
  GB-months of storage, ...) with its low / expected / high quantity.
* :class:`Unpriced` - a resource (or part of one) the report does not price, and why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from infra.cost.units import Meter

Cloud = Literal["aws", "azure"]
#: ``spot`` prices come from Azure's Spot meters; AWS publishes no spot price in its Price List.
Term = Literal["on-demand", "spot", "reserved-1y", "reserved-3y"]
TERMS: tuple[Term, ...] = ("on-demand", "spot", "reserved-1y", "reserved-3y")


class PriceError(RuntimeError):
    """A price could not be had (unknown type, no price in that region, API error); the message
    names what was asked."""


@dataclass(frozen=True)
class PriceQuery:
    """One request to a price API.

    ``service`` is the AWS ``ServiceCode`` (``AmazonEC2``) or the Azure ``serviceName``
    (``Virtual Machines``); ``region`` the AWS ``regionCode`` or the Azure ``armRegionName``
    (empty for global services such as Route 53). ``filters`` are exact matches sent to the API
    (AWS ``TERM_MATCH``, Azure OData ``eq``); ``contains`` are substring matches (AWS
    ``CONTAINS``; applied to the answer on Azure).
    """

    cloud: Cloud
    service: str
    region: str
    filters: tuple[tuple[str, str], ...] = ()
    contains: tuple[tuple[str, str], ...] = ()

    def key(self) -> str:
        return json.dumps(
            {
                "cloud": self.cloud,
                "service": self.service,
                "region": self.region,
                "filters": sorted(self.filters),
                "contains": sorted(self.contains),
            },
            sort_keys=True,
        )

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.filters] + [f"{k}~{v}" for k, v in self.contains]
        where = f" in {self.region}" if self.region else " (global)"
        return f"{self.cloud} {self.service}{where} [{', '.join(parts)}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "service": self.service,
            "region": self.region,
            "filters": [list(pair) for pair in self.filters],
            "contains": [list(pair) for pair in self.contains],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PriceQuery:
        return cls(
            cloud=data["cloud"],
            service=str(data["service"]),
            region=str(data["region"]),
            filters=tuple((str(k), str(v)) for k, v in data.get("filters", [])),
            contains=tuple((str(k), str(v)) for k, v in data.get("contains", [])),
        )


@dataclass(frozen=True)
class Offer:
    """One price point: ``usd`` per ``unit`` under ``term``.

    Commitments are stated per hour (``unit`` "Hrs"/"1 Hour") with any upfront fee spread over
    the term, so they compare directly with on-demand. ``begin_range`` is the tier's first unit
    (AWS ``beginRange``, Azure ``tierMinimumUnits``); ``attributes`` keeps what the API said about
    the product (to pick among several offers and to show where a price came from).
    """

    term: Term
    usd: float
    unit: str
    description: str
    begin_range: float = 0.0
    attributes: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "usd": self.usd,
            "unit": self.unit,
            "description": self.description,
            "beginRange": self.begin_range,
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Offer:
        term = data["term"]
        if term not in TERMS:
            raise ValueError(f"unknown term {term!r}")
        return cls(
            term=term,
            usd=float(data["usd"]),
            unit=str(data["unit"]),
            description=str(data.get("description", "")),
            begin_range=float(data.get("beginRange", 0.0)),
            attributes={str(k): str(v) for k, v in dict(data.get("attributes", {})).items()},
        )


@dataclass(frozen=True)
class Quantity:
    """How many of a thing run (or how many GB) at the pool's minimum, desired and maximum."""

    low: float
    expected: float
    high: float

    @classmethod
    def fixed(cls, value: float) -> Quantity:
        return cls(value, value, value)

    def scaled(self, factor: float) -> Quantity:
        return Quantity(self.low * factor, self.expected * factor, self.high * factor)


def _any_offer(offer: Offer) -> bool:
    return True


@dataclass(frozen=True)
class UsageLine:
    """One priced dimension of one resource.

    ``quantity`` counts always-on things for :attr:`Meter.HOURS` (x730 per month), items for
    :attr:`Meter.MONTHS` and GB for the data meters. ``pick`` keeps the offers that apply (e.g.
    Linux, not Windows); ``reservable`` marks an always-on, on-demand pool whose minimum size is
    shown with 1- and 3-year commitment prices.
    """

    component: str
    resource: str
    what: str
    query: PriceQuery
    meter: Meter
    quantity: Quantity
    term: Term = "on-demand"
    pick: Callable[[Offer], bool] = _any_offer
    reservable: bool = False
    note: str = ""


@dataclass(frozen=True)
class Unpriced:
    """A resource (or one of its charges) the report leaves out, and why."""

    component: str
    resource_type: str
    name: str
    reason: str
