"""The Azure Retail Prices client: the OData request, ``NextPageLink`` paging and item parsing,
with an httpx ``MockTransport`` and against the local fake API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from infra.cost.azure_prices import (
    API_VERSION,
    AzureRetailPrices,
    normalize_region,
    odata_filter,
    parse_item,
)
from infra.cost.model import PriceError, PriceQuery
from tests.platform.cost import catalog, fake_apis

QUERY = PriceQuery("azure", "Virtual Machines", "westeurope", (("armSkuName", "Standard_D4ds_v5"),))


def test_odata_filter_quotes_values_and_joins_with_and() -> None:
    assert odata_filter(QUERY) == (
        "serviceName eq 'Virtual Machines' and armRegionName eq 'westeurope' "
        "and armSkuName eq 'Standard_D4ds_v5'"
    )
    quoted = PriceQuery("azure", "Storage", "", (("productName", "O'Brien"),))
    assert odata_filter(quoted) == "serviceName eq 'Storage' and productName eq 'O''Brien'"


def test_locations_map_to_arm_region_names() -> None:
    assert normalize_region("West Europe") == "westeurope"
    assert normalize_region("northeurope") == "northeurope"


def _item(**fields: Any) -> dict[str, Any]:
    return catalog.azure_item(
        "westeurope",
        "Virtual Machines",
        fields.pop("product", "Virtual Machines Dsv5 Series"),
        fields.pop("sku", "D4ds v5"),
        fields.pop("meter", "D4ds v5"),
        fields.pop("price", 0.2),
        "1 Hour",
        arm_sku="Standard_D4ds_v5",
        **fields,
    )


def test_items_become_offers_by_type_and_sku_name() -> None:
    on_demand = parse_item(_item())
    spot = parse_item(_item(sku="D4ds v5 Spot", meter="D4ds v5 Spot", price=0.02))
    reserved = parse_item(_item(price=1226.4, kind="Reservation", term="1 Year"))
    three = parse_item(_item(price=2628.0, kind="Reservation", term="3 Years"))
    assert on_demand is not None
    assert (on_demand.term, on_demand.usd) == ("on-demand", 0.2)
    assert spot is not None
    assert (spot.term, spot.usd) == ("spot", 0.02)
    # A reservation's retailPrice is the whole term: 1226.4 / 8760 h = 0.14 per hour.
    assert reserved is not None
    assert reserved.term == "reserved-1y"
    assert reserved.usd == pytest.approx(0.14)
    assert three is not None
    assert three.usd == pytest.approx(0.1)
    assert parse_item(_item(sku="D4ds v5 Low Priority", meter="D4ds v5 Low Priority")) is None
    assert parse_item(_item(kind="DevTestConsumption")) is None


def test_mock_transport_sees_the_filter_and_follows_next_page_link() -> None:
    seen: list[httpx.URL] = []
    pages = {
        None: {
            "Items": [_item()],
            "NextPageLink": "https://prices.example/api/retail/prices?$skip=1&x=y",
        },
        "1": {
            "Items": [_item(sku="D4ds v5 Spot", meter="D4ds v5 Spot", price=0.02)],
            "NextPageLink": None,
        },
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(
            200, json={"BillingCurrency": "USD", **pages[request.url.params.get("$skip")]}
        )

    client = httpx.Client(transport=httpx.MockTransport(handler))
    offers = AzureRetailPrices(client, base_url="https://prices.example/api/retail/prices").fetch(
        QUERY
    )
    assert [offer.term for offer in offers] == ["on-demand", "spot"]
    assert seen[0].params["api-version"] == API_VERSION
    assert seen[0].params["$filter"] == odata_filter(QUERY)
    assert str(seen[1]) == "https://prices.example/api/retail/prices?$skip=1&x=y"


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(503, text="busy"), r"HTTP 503 for azure Virtual Machines in westeurope"),
        (httpx.Response(200, text="not json"), r"failed for azure Virtual Machines"),
        (httpx.Response(200, json={"Count": 0}), r"without an Items list"),
    ],
)
def test_api_errors_are_price_errors_naming_the_query(
    response: httpx.Response, message: str
) -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda request: response))
    with pytest.raises(PriceError, match=message):
        AzureRetailPrices(client, base_url="https://prices.example/x").fetch(QUERY)


def test_paging_stops_at_a_bound() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"Items": [], "NextPageLink": str(request.url)})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(PriceError, match="kept paging"):
        AzureRetailPrices(client, base_url="https://prices.example/x").fetch(QUERY)


def test_against_the_fake_api_pages_and_picks_contains(azure_api: fake_apis.FakeApi) -> None:
    before = len(azure_api.requests)
    client = AzureRetailPrices(httpx.Client(), base_url=f"{azure_api.url}/api/retail/prices")
    offers = client.fetch(QUERY)
    requests = azure_api.requests[before:]
    # Seven items for the size in the region, three a page.
    assert len(requests) == 3
    assert requests[0]["$filter"] == odata_filter(QUERY)
    assert [r.get("$skip") for r in requests] == [None, "3", "6"]
    terms = sorted(offer.term for offer in offers)
    # Linux + Windows pay-as-you-go, Spot, two reservations (DevTest and Low Priority dropped).
    assert terms == ["on-demand", "on-demand", "reserved-1y", "reserved-3y", "spot"]
    narrowed = PriceQuery(
        "azure",
        "Azure Database for PostgreSQL",
        "westeurope",
        (("skuName", "4 vCore"),),
        (("productName", "Ddsv5"),),
    )
    assert [offer.usd for offer in client.fetch(narrowed)] == [0.4]
