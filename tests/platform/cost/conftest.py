"""Fake price APIs for the cost tests, and a price book wired to them with a fixed clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import httpx
import pytest

from infra.cost.aws_prices import AwsPriceList
from infra.cost.azure_prices import AzureRetailPrices
from infra.cost.book import PriceBook, PriceCache
from tests.platform.cost import catalog, fake_apis

#: The fetch time every synthetic answer carries (the README's example table shows it).
SNAPSHOT_TIME = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
SNAPSHOT = Path(__file__).parent / "data" / "synthetic-prices.json"


@pytest.fixture(scope="session")
def aws_api() -> Iterator[fake_apis.FakeApi]:
    with fake_apis.aws_price_list(catalog.aws_catalog()) as api:
        yield api


@pytest.fixture(scope="session")
def azure_api() -> Iterator[fake_apis.FakeApi]:
    with fake_apis.azure_retail_prices(catalog.azure_catalog()) as api:
        yield api


def pricing_client(url: str) -> object:
    return boto3.client(
        "pricing",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def make_book(
    aws_api: fake_apis.FakeApi, azure_api: fake_apis.FakeApi, tmp_path: Path
) -> Callable[..., PriceBook]:
    """A price book fetching from the fake APIs through the real clients (fixed clock)."""

    def make(cache: Path | None = None) -> PriceBook:
        aws_api.fail_with = azure_api.fail_with = None
        return PriceBook(
            fetchers={
                "aws": AwsPriceList(pricing_client(aws_api.url)),
                "azure": AzureRetailPrices(
                    httpx.Client(timeout=10), base_url=f"{azure_api.url}/api/retail/prices"
                ),
            },
            cache=PriceCache(cache or tmp_path / "cache"),
            now=lambda: SNAPSHOT_TIME,
        )

    return make
