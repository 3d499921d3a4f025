"""The price book: cache with fetch times, snapshot files, and errors that name what is missing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.cost.book import PriceBook, PriceCache, Quote, read_snapshot, write_snapshot
from infra.cost.model import Offer, PriceError, PriceQuery

QUERY = PriceQuery("aws", "AmazonEKS", "eu-west-1", (("productFamily", "Compute"),))


class CountingFetcher:
    source = "counting"

    def __init__(self, price: float) -> None:
        self.calls = 0
        self.price = price

    def fetch(self, query: PriceQuery) -> list[Offer]:
        self.calls += 1
        return [Offer("on-demand", self.price, "Hrs", "synthetic")]


def test_cache_answers_until_max_age_then_fetches_again(tmp_path: Path) -> None:
    clock = [datetime(2025, 1, 1, tzinfo=UTC)]
    fetcher = CountingFetcher(0.5)

    def book() -> PriceBook:
        return PriceBook(
            fetchers={"aws": fetcher},
            cache=PriceCache(tmp_path),
            max_age=timedelta(days=7),
            now=lambda: clock[0],
        )

    first = book().quote(QUERY)
    assert (fetcher.calls, first.fetched_at) == (1, clock[0])
    clock[0] += timedelta(days=6)
    again = book().quote(QUERY)
    assert fetcher.calls == 1
    assert again.fetched_at == datetime(2025, 1, 1, tzinfo=UTC)
    clock[0] += timedelta(days=2)
    fetcher.price = 0.6
    refreshed = book().quote(QUERY)
    assert fetcher.calls == 2
    assert refreshed.offers[0].usd == 0.6
    assert refreshed.fetched_at == clock[0]


def test_snapshot_round_trip_and_missing_query(tmp_path: Path) -> None:
    quote = Quote(
        QUERY, datetime(2025, 1, 1, tzinfo=UTC), "synthetic", (Offer("on-demand", 0.5, "Hrs", "x"),)
    )
    path = tmp_path / "prices.json"
    write_snapshot(path, [quote])
    book = PriceBook.from_snapshot(path)
    assert book.quote(QUERY) == quote
    other = PriceQuery("aws", "AmazonEKS", "eu-central-1", (("productFamily", "Compute"),))
    with pytest.raises(
        PriceError, match=rf"no price for aws AmazonEKS in eu-central-1.*{path.name}"
    ):
        book.quote(other)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "invalid JSON"),
        (json.dumps({"format": "other"}), "expected format 'stratus-prices/1'"),
        (
            json.dumps({"format": "stratus-prices/1", "entries": [{"query": {}}]}),
            r"entries\[0\] is malformed",
        ),
    ],
)
def test_bad_snapshots_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(PriceError, match=message):
        read_snapshot(path)


def test_snapshot_book_never_fetches(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    write_snapshot(path, [])
    fetcher = CountingFetcher(1.0)
    book = PriceBook.from_snapshot(path)
    book.fetchers = {"aws": fetcher}
    with pytest.raises(PriceError):
        book.quote(QUERY)
    assert fetcher.calls == 0
