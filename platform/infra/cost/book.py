"""Where prices come from at run time: a snapshot file, the on-disk cache, or the price APIs.

* ``--prices FILE`` (air-gapped): only the snapshot is read; a query it lacks is an error naming
  the query, never a fetch.
* Otherwise each query is answered from the cache (``$STRATUS_PRICE_CACHE``, else
  ``$XDG_CACHE_HOME/stratus/prices``, else ``~/.cache/stratus/prices``: one JSON file per query
  with the time it was fetched) while it is younger than ``max_age``, else fetched from the
  cloud's API and cached.
* ``--save-prices FILE`` writes every answer this run used, with its fetch time, as a snapshot
  that ``--prices`` reads back.

A snapshot / cache entry: ``{"query": {...}, "fetchedAt": "<ISO 8601 UTC>", "source": "...",
"offers": [...]}``; a snapshot is ``{"format": "stratus-prices/1", "entries": [...]}``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from infra.cost.model import Cloud, Offer, PriceError, PriceQuery

SNAPSHOT_FORMAT = "stratus-prices/1"


class Fetcher(Protocol):
    source: str

    def fetch(self, query: PriceQuery) -> list[Offer]: ...


@dataclass(frozen=True)
class Quote:
    """A price API's answer to one query, and when it was fetched."""

    query: PriceQuery
    fetched_at: datetime
    source: str
    offers: tuple[Offer, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query.to_json(),
            "fetchedAt": self.fetched_at.isoformat(),
            "source": self.source,
            "offers": [offer.to_json() for offer in self.offers],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Quote:
        fetched = datetime.fromisoformat(str(data["fetchedAt"]))
        if fetched.tzinfo is None:
            fetched = fetched.replace(tzinfo=UTC)
        return cls(
            query=PriceQuery.from_json(data["query"]),
            fetched_at=fetched,
            source=str(data.get("source", "")),
            offers=tuple(Offer.from_json(offer) for offer in data.get("offers", [])),
        )


def default_cache_dir() -> Path:
    explicit = os.environ.get("STRATUS_PRICE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stratus" / "prices"


class PriceCache:
    """One JSON file per query under ``directory``, named by the query key's SHA-256."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, query: PriceQuery) -> Path:
        return self.directory / (hashlib.sha256(query.key().encode()).hexdigest()[:32] + ".json")

    def get(self, query: PriceQuery) -> Quote | None:
        path = self._path(query)
        try:
            quote = Quote.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: fetch again
        return quote if quote.query == query else None

    def put(self, quote: Quote) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(quote.query)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(quote.to_json(), indent=1))
        temporary.replace(path)


def read_snapshot(path: Path) -> dict[str, Quote]:
    """A ``--save-prices`` file, keyed by query; errors name the file and what is wrong."""
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise PriceError(f"cannot read the price snapshot {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise PriceError(f"{path} is not a price snapshot (invalid JSON: {exc})") from None
    if not isinstance(document, dict) or document.get("format") != SNAPSHOT_FORMAT:
        raise PriceError(f"{path} is not a price snapshot (expected format {SNAPSHOT_FORMAT!r})")
    quotes: dict[str, Quote] = {}
    for index, entry in enumerate(document.get("entries", [])):
        try:
            quote = Quote.from_json(entry)
        except (KeyError, TypeError, ValueError) as exc:
            raise PriceError(f"{path}: entries[{index}] is malformed ({exc})") from None
        quotes[quote.query.key()] = quote
    return quotes


def write_snapshot(path: Path, quotes: Iterable[Quote]) -> None:
    ordered = sorted(quotes, key=lambda quote: quote.query.key())
    document = {"format": SNAPSHOT_FORMAT, "entries": [quote.to_json() for quote in ordered]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1) + "\n")


class PriceBook:
    """Answers price queries from a snapshot, or from the cache and the price APIs."""

    def __init__(
        self,
        *,
        fetchers: Mapping[Cloud, Fetcher] | None = None,
        cache: PriceCache | None = None,
        snapshot: Mapping[str, Quote] | None = None,
        snapshot_name: str = "",
        max_age: timedelta = timedelta(days=7),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.fetchers = dict(fetchers or {})
        self.cache = cache
        self.snapshot = dict(snapshot) if snapshot is not None else None
        self.snapshot_name = snapshot_name
        self.max_age = max_age
        self.now = now
        #: Every quote this book answered with (what ``--save-prices`` writes).
        self.used: dict[str, Quote] = {}
        self._failed: dict[str, PriceError] = {}

    @classmethod
    def from_snapshot(cls, path: Path) -> PriceBook:
        return cls(snapshot=read_snapshot(path), snapshot_name=str(path))

    def quote(self, query: PriceQuery) -> Quote:
        key = query.key()
        if key in self.used:
            return self.used[key]
        if key in self._failed:
            raise self._failed[key]
        try:
            quote = self._lookup(query)
        except PriceError as exc:
            self._failed[key] = exc
            raise
        self.used[key] = quote
        return quote

    def _lookup(self, query: PriceQuery) -> Quote:
        if self.snapshot is not None:
            found = self.snapshot.get(query.key())
            if found is None:
                raise PriceError(
                    f"no price for {query.describe()} in the snapshot {self.snapshot_name}"
                )
            return found
        if self.cache is not None:
            cached = self.cache.get(query)
            if cached is not None and self.now() - cached.fetched_at <= self.max_age:
                return cached
        fetcher = self.fetchers.get(query.cloud)
        if fetcher is None:
            raise PriceError(f"no price source for {query.cloud} ({query.describe()})")
        quote = Quote(
            query=query,
            fetched_at=self.now(),
            source=fetcher.source,
            offers=tuple(fetcher.fetch(query)),
        )
        if self.cache is not None:
            self.cache.put(quote)
        return quote
