"""Units: how a cloud's price unit converts to a monthly figure.

Convention (documented in the README): a month is **730 hours** (8,760 hours a year / 12), the
figure both the AWS Pricing Calculator and the Azure pricing calculator use. A reservation's term
is 8,760 hours a year. Each priced line meters one thing (:class:`Meter`); a cloud's unit string is
converted to a price per that meter's unit, and anything else is an error naming the unit, never a
guess.
"""

from __future__ import annotations

from enum import StrEnum

HOURS_PER_MONTH = 730.0
HOURS_PER_YEAR = 8760.0


class Meter(StrEnum):
    """What a priced line counts."""

    #: Something running all month (a node, a NAT gateway, an endpoint): count x 730 hours.
    HOURS = "hours"
    #: A monthly item (a key, a hosted zone): count x 1.
    MONTHS = "months"
    #: Stored data: GB x 1 month.
    GB_MONTHS = "GB-months"
    #: Transferred or ingested data: GB per month.
    GB = "GB"


class UnitError(ValueError):
    """A price's unit does not fit the line's meter."""


#: Unit strings of the two price APIs (lower-cased) -> (meter, how many meter units one priced
#: unit covers). AWS Price List ``priceDimensions.unit`` values ("Hrs", "GB-Mo", "GB", "Keys",
#: "HostedZone"...) and Azure Retail Prices ``unitOfMeasure`` values ("1 Hour", "1/Day",
#: "1 GB/Month", "1/Month", "1 GB"...).
_UNITS: dict[str, tuple[Meter, float]] = {
    "hrs": (Meter.HOURS, 1.0),
    "hours": (Meter.HOURS, 1.0),
    "hour": (Meter.HOURS, 1.0),
    "1 hour": (Meter.HOURS, 1.0),
    "1/hour": (Meter.HOURS, 1.0),
    "10 hours": (Meter.HOURS, 10.0),
    "100 hours": (Meter.HOURS, 100.0),
    "1/day": (Meter.HOURS, 24.0),
    "1 day": (Meter.HOURS, 24.0),
    "day": (Meter.HOURS, 24.0),
    "days": (Meter.HOURS, 24.0),
    "gb-mo": (Meter.GB_MONTHS, 1.0),
    "gb-month": (Meter.GB_MONTHS, 1.0),
    "1 gb/month": (Meter.GB_MONTHS, 1.0),
    "1 gib/month": (Meter.GB_MONTHS, 1.0),
    "gb": (Meter.GB, 1.0),
    "1 gb": (Meter.GB, 1.0),
    "months": (Meter.MONTHS, 1.0),
    "month": (Meter.MONTHS, 1.0),
    "1/month": (Meter.MONTHS, 1.0),
    "1 month": (Meter.MONTHS, 1.0),
    "keys": (Meter.MONTHS, 1.0),
    "hostedzone": (Meter.MONTHS, 1.0),
    "health-check": (Meter.MONTHS, 1.0),
    "secrets": (Meter.MONTHS, 1.0),
}


def price_per_meter_unit(usd_per_unit: float, unit: str, meter: Meter) -> float:
    """``usd_per_unit`` (per the API's ``unit``) as a price per one ``meter`` unit."""
    known = _UNITS.get(unit.strip().lower())
    if known is None:
        raise UnitError(f"price unit {unit!r} is not one Stratus knows how to convert")
    unit_meter, covers = known
    if unit_meter is not meter:
        raise UnitError(f"price unit {unit!r} measures {unit_meter}, this line needs {meter}")
    return usd_per_unit / covers


def monthly_units(meter: Meter, quantity: float) -> float:
    """How many meter units ``quantity`` things use in a month (x730 for always-on things)."""
    return quantity * HOURS_PER_MONTH if meter is Meter.HOURS else quantity
