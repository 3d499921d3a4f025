"""The AWS Price List Query API through boto3's ``pricing`` client.

Request: ``GetProducts(ServiceCode=..., Filters=[{"Type": "TERM_MATCH" | "CONTAINS", "Field",
"Value"}], FormatVersion="aws_v1")``, paged with ``NextToken`` (boto3's ``get_products``
paginator). The region is the product attribute ``regionCode`` (``eu-west-1``), so no
region-to-location-name table is needed. The API is served from ``us-east-1`` (also
``eu-central-1`` and ``ap-south-1``) and needs AWS credentials (any identity allowed
``pricing:GetProducts``).

Answer (documented shape, boto3 "Pricing / Client / get_products" and the AWS Billing guide
"Using the AWS Price List Query API"): ``PriceList`` is a list of JSON *strings*, each one product::

    {"product": {"productFamily": "...", "attributes": {"instanceType": "m6i.large", ...},
                 "sku": "..."},
     "serviceCode": "AmazonEC2",
     "terms": {"OnDemand": {"<sku>.<offerTermCode>": {"priceDimensions": {"<rateCode>": {
                  "unit": "Hrs", "pricePerUnit": {"USD": "0.1070000000"},
                  "description": "...", "beginRange": "0", "endRange": "Inf"}},
                  "termAttributes": {}}},
               "Reserved": {"<sku>.<offerTermCode>": {"priceDimensions": {...},
                  "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "standard",
                                     "PurchaseOption": "No Upfront"}}}}}

A reserved term may carry an upfront fee (unit ``Quantity``) and an hourly rate (``Hrs``): both are
folded into one effective hourly price over the term. The Price List does not include EC2 Spot
prices ("this catalog doesn't include Amazon EC2 Spot Instances", AWS Billing guide): spot node
groups are shown at the on-demand price as their ceiling.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from infra.cost.model import Offer, PriceError, PriceQuery, Term
from infra.cost.units import HOURS_PER_YEAR

#: Where the Price List Query API is served.
PRICING_REGION = "us-east-1"
_LEASE_YEARS = {"1yr": 1, "3yr": 3}


def request_filters(query: PriceQuery) -> list[dict[str, str]]:
    """The ``Filters`` of a ``GetProducts`` request for ``query``."""
    filters = []
    if query.region:
        filters.append({"Type": "TERM_MATCH", "Field": "regionCode", "Value": query.region})
    filters += [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in query.filters]
    filters += [{"Type": "CONTAINS", "Field": k, "Value": v} for k, v in query.contains]
    return filters


def _dimensions(term: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from dict(term.get("priceDimensions") or {}).values()


def _usd(dimension: Mapping[str, Any]) -> float:
    return float(dict(dimension.get("pricePerUnit") or {}).get("USD", "nan"))


def parse_product(document: Mapping[str, Any]) -> list[Offer]:
    """The offers of one ``PriceList`` product (already JSON-decoded)."""
    product = dict(document.get("product") or {})
    attributes = {str(k): str(v) for k, v in dict(product.get("attributes") or {}).items()}
    if "productFamily" in product:
        attributes.setdefault("productFamily", str(product["productFamily"]))
    terms = dict(document.get("terms") or {})
    offers: list[Offer] = []
    for term in dict(terms.get("OnDemand") or {}).values():
        for dimension in _dimensions(term):
            usd = _usd(dimension)
            if usd != usd:  # NaN: no USD price
                continue
            offers.append(
                Offer(
                    term="on-demand",
                    usd=usd,
                    unit=str(dimension.get("unit", "")),
                    description=str(dimension.get("description", "")),
                    begin_range=float(dimension.get("beginRange") or 0),
                    attributes=attributes,
                )
            )
    for term in dict(terms.get("Reserved") or {}).values():
        offer = _reserved(term, attributes)
        if offer is not None:
            offers.append(offer)
    return offers


def _reserved(term: Mapping[str, Any], attributes: Mapping[str, str]) -> Offer | None:
    term_attributes = {str(k): str(v) for k, v in dict(term.get("termAttributes") or {}).items()}
    years = _LEASE_YEARS.get(term_attributes.get("LeaseContractLength", ""))
    if years is None:
        return None
    hourly = upfront = 0.0
    for dimension in _dimensions(term):
        unit = str(dimension.get("unit", "")).lower()
        if unit == "quantity":
            upfront += _usd(dimension)
        elif unit in ("hrs", "hours"):
            hourly += _usd(dimension)
        else:
            return None  # a commitment on something other than hours is not a node commitment
    effective = hourly + upfront / (years * HOURS_PER_YEAR)
    label: Term = "reserved-1y" if years == 1 else "reserved-3y"
    return Offer(
        term=label,
        usd=effective,
        unit="Hrs",
        description=" ".join(
            (
                term_attributes.get("OfferingClass", ""),
                term_attributes.get("PurchaseOption", ""),
                f"{years}-year reservation",
            )
        ).strip(),
        attributes={**attributes, **term_attributes},
    )


class AwsPriceList:
    """Fetches :class:`Offer` s from the AWS Price List Query API."""

    source = "AWS Price List Query API"

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("pricing", region_name=PRICING_REGION)
        return self._client

    def fetch(self, query: PriceQuery) -> list[Offer]:
        from botocore.exceptions import BotoCoreError, ClientError

        offers: list[Offer] = []
        try:
            paginator = self.client.get_paginator("get_products")
            pages = paginator.paginate(
                ServiceCode=query.service,
                Filters=request_filters(query),
                FormatVersion="aws_v1",
            )
            for page in pages:
                for item in page.get("PriceList", []):
                    document = json.loads(item) if isinstance(item, str) else item
                    offers += parse_product(document)
        except (BotoCoreError, ClientError) as exc:
            raise PriceError(f"AWS Price List API failed for {query.describe()}: {exc}") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise PriceError(
                f"AWS Price List API answered {query.describe()} with a malformed product: {exc}"
            ) from None
        return offers
