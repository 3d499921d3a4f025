"""The Azure Retail Prices API over HTTPS (httpx), no authentication.

Request: ``GET https://prices.azure.com/api/retail/prices?api-version=2023-01-01-preview&$filter=
serviceName eq 'Virtual Machines' and armRegionName eq 'westeurope' and armSkuName eq
'Standard_D4ds_v5'`` (OData; values are case-sensitive from that API version on). Pages: each
answer carries ``NextPageLink`` (a full URL, ``null`` on the last page) that is followed as is.

Answer (documented shape, Microsoft Learn "Azure Retail Prices overview")::

    {"BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
     "Items": [{"currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": 0.176346,
                "unitPrice": 0.176346, "armRegionName": "westeurope", "location": "EU West",
                "effectiveStartDate": "...", "meterId": "...", "meterName": "F16s Spot",
                "productId": "...", "skuId": "...", "productName": "Virtual Machines FS Series",
                "skuName": "F16s Spot", "serviceName": "Virtual Machines",
                "serviceFamily": "Compute", "unitOfMeasure": "1 Hour", "type": "Consumption",
                "isPrimaryMeterRegion": true, "armSkuName": "Standard_F16s"}, ...],
     "NextPageLink": "https://prices.azure.com/api/retail/prices?...&$skip=1000", "Count": 1000}

``type`` is ``Consumption`` (pay as you go; Spot and Low Priority are Consumption meters whose
``skuName`` / ``meterName`` end in " Spot" / " Low Priority"), ``DevTestConsumption`` or
``Reservation`` with ``reservationTerm`` "1 Year" / "3 Years" - a reservation's ``retailPrice`` is
the price of the whole term (the documented example: E64 v4, 1 Year, 25007.0, unitOfMeasure
"1 Hour"), turned here into an hourly price over the term's 8,760 hours a year.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from infra.cost.model import Offer, PriceError, PriceQuery, Term
from infra.cost.units import HOURS_PER_YEAR

RETAIL_PRICES_URL = "https://prices.azure.com/api/retail/prices"
API_VERSION = "2023-01-01-preview"
#: A guard against a server that never stops paging (a region's whole VM list is ~5 pages).
MAX_PAGES = 50
_RESERVATION_YEARS = {"1 Year": 1, "3 Years": 3}


def odata_literal(value: str) -> str:
    """An OData string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def odata_filter(query: PriceQuery) -> str:
    """The ``$filter`` of a Retail Prices request for ``query`` (exact matches only; ``contains``
    is applied to the answer)."""
    clauses = [f"serviceName eq {odata_literal(query.service)}"]
    if query.region:
        clauses.append(f"armRegionName eq {odata_literal(query.region)}")
    clauses += [f"{field} eq {odata_literal(value)}" for field, value in query.filters]
    return " and ".join(clauses)


def normalize_region(location: str) -> str:
    """An Azure location as the API's ``armRegionName`` (``West Europe`` -> ``westeurope``)."""
    return location.replace(" ", "").lower()


def _term(item: Mapping[str, Any]) -> tuple[Term, float] | None:
    """The item's term and how many hours its price covers (1 for pay-as-you-go meters)."""
    kind = str(item.get("type", ""))
    if kind == "Reservation":
        years = _RESERVATION_YEARS.get(str(item.get("reservationTerm", "")))
        return None if years is None else ("reserved-1y" if years == 1 else "reserved-3y", 0.0)
    if kind != "Consumption":
        return None  # DevTestConsumption and anything new
    names = (str(item.get("skuName", "")), str(item.get("meterName", "")))
    if any(name.endswith("Low Priority") for name in names):
        return None
    if any(name.endswith("Spot") for name in names):
        return "spot", 1.0
    return "on-demand", 1.0


def parse_item(item: Mapping[str, Any]) -> Offer | None:
    """One ``Items`` entry as an :class:`Offer` (``None`` for terms Stratus does not use)."""
    term = _term(item)
    if term is None:
        return None
    label, _ = term
    price = float(item["retailPrice"])
    unit = str(item.get("unitOfMeasure", ""))
    if label in ("reserved-1y", "reserved-3y"):
        if unit.lower() != "1 hour":
            return None  # reserved capacity of storage etc., not a VM commitment
        years = 1 if label == "reserved-1y" else 3
        price = price / (years * HOURS_PER_YEAR)
    attributes = {
        key: str(item[key])
        for key in (
            "productName",
            "skuName",
            "meterName",
            "armSkuName",
            "armRegionName",
            "type",
            "reservationTerm",
            "unitOfMeasure",
            "effectiveStartDate",
        )
        if item.get(key) is not None
    }
    return Offer(
        term=label,
        usd=price,
        unit=unit,
        description=f"{item.get('productName', '')} / {item.get('meterName', '')}",
        begin_range=float(item.get("tierMinimumUnits") or 0.0),
        attributes=attributes,
    )


class AzureRetailPrices:
    """Fetches :class:`Offer` s from the Azure Retail Prices API."""

    source = "Azure Retail Prices API"

    def __init__(
        self, client: httpx.Client | None = None, base_url: str = RETAIL_PRICES_URL
    ) -> None:
        self._client = client
        self.base_url = base_url

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=httpx.Timeout(30.0), follow_redirects=True)
        return self._client

    def items(self, query: PriceQuery) -> list[Mapping[str, Any]]:
        """Every ``Items`` entry of every page for ``query`` (before ``contains``)."""
        url: str | None = self.base_url
        params: dict[str, str] | None = {"api-version": API_VERSION, "$filter": odata_filter(query)}
        items: list[Mapping[str, Any]] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return items
            try:
                response = self.client.get(url, params=params)
                response.raise_for_status()
                body = response.json()
            except httpx.HTTPStatusError as exc:
                raise PriceError(
                    f"Azure Retail Prices API answered HTTP {exc.response.status_code} for "
                    f"{query.describe()}: {exc.response.text[:200]}"
                ) from None
            except (httpx.HTTPError, ValueError) as exc:
                raise PriceError(
                    f"Azure Retail Prices API failed for {query.describe()}: {exc}"
                ) from None
            if not isinstance(body, dict) or not isinstance(body.get("Items"), list):
                raise PriceError(
                    f"Azure Retail Prices API answered {query.describe()} without an Items list"
                )
            items += body["Items"]
            url = body.get("NextPageLink") or None
            params = None  # NextPageLink carries the whole query
        raise PriceError(f"Azure Retail Prices API kept paging past {MAX_PAGES} pages")

    def fetch(self, query: PriceQuery) -> list[Offer]:
        offers: list[Offer] = []
        for item in self.items(query):
            if any(needle not in str(item.get(field, "")) for field, needle in query.contains):
                continue
            try:
                offer = parse_item(item)
            except (KeyError, TypeError, ValueError) as exc:
                raise PriceError(
                    f"Azure Retail Prices API answered {query.describe()} with a malformed item: "
                    f"{exc}"
                ) from None
            if offer is not None:
                offers.append(offer)
        return offers
