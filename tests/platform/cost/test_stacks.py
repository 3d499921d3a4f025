"""Every shipped stack priced from the synthetic catalogue through the real clients and the fake
APIs: the arithmetic (730 hours a month), commitments, comparisons, and lines that cannot be
priced."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from infra.cost.aws_prices import AwsPriceList
from infra.cost.azure_prices import AzureRetailPrices
from infra.cost.book import PriceBook, write_snapshot
from infra.cost.estimate import StackReport, compare, estimate
from infra.cost.resources import Assumptions, usage_of
from infra.offline import run_stack, shipped_stacks, stack_values
from tests.platform.cost import catalog, fake_apis
from tests.platform.cost.conftest import SNAPSHOT, pricing_client

DEFAULTS = Assumptions()


def report(stack: str, book: PriceBook, **override: object) -> StackReport:
    run = run_stack(stack, override=override) if override else run_stack(stack)
    return estimate(usage_of(run, DEFAULTS), book, DEFAULTS)


def line(report: StackReport, contains: str) -> list:  # type: ignore[type-arg]
    return [priced for priced in report.lines if contains in priced.usage.what]


def test_aws_dev_arithmetic(make_book: Callable[..., PriceBook]) -> None:
    dev = report("aws-dev", make_book())
    assert not dev.errors
    # EKS 0.5/h; system 2-2-3 x t3.large 0.1/h + 50 GB gp3 at 0.1; api 1-1-4 of the same;
    # training 0-0-3 x m6i.xlarge 0.4/h (spot at the on-demand ceiling) + 100 GB; one NAT
    # gateway 0.5/h; 8 interface endpoints x 3 zones x 0.01/h; 10 GB of logs at 0.5; 5 KMS keys
    # at 1; 5 buckets x 100 GB x 0.03; db.t4g.medium 0.1/h + 20 GB (100 GB ceiling) x 0.2; a
    # secret at 0.4. A month is 730 hours.
    expected = 365 + (146 + 10) + (73 + 5) + 0 + 365 + 175.2 + 5 + 5 + 15 + 73 + 4 + 0.4
    high = 365 + (219 + 15) + (292 + 20) + (876 + 30) + 365 + 175.2 + 5 + 5 + 15 + 73 + 20 + 0.4
    assert dev.monthly.expected == pytest.approx(expected) == pytest.approx(1241.6)
    assert dev.monthly.low == pytest.approx(expected)
    assert dev.monthly.high == pytest.approx(high) == pytest.approx(2475.6)
    (nat,) = line(dev, "NAT gateway")
    assert nat.unit_price == 0.5
    assert nat.monthly is not None
    assert nat.monthly.expected == 365
    endpoints = line(dev, "interface endpoint")
    assert len(endpoints) == 8
    assert all(
        e.monthly is not None and e.monthly.expected == pytest.approx(21.9) for e in endpoints
    )
    (training,) = line(dev, "node pool training: m6i.xlarge")
    assert "no spot prices" in training.usage.note
    assert "ceiling" in training.usage.what
    assert training.reservation is None  # spot, and no always-on node
    assert dev.fetched is not None
    assert dev.fetched[0].date().isoformat() == "2025-01-01"


def test_azure_dev_arithmetic_spot_and_region(make_book: Callable[..., PriceBook]) -> None:
    dev = report("azure-dev", make_book())
    assert not dev.errors
    assert dev.region == "westeurope"
    # system 1-1-2 x D2ds_v5 0.1/h, api 1-1-3 x D4ds_v5 0.2/h, training 0-0-3 x D8ds_v5 at the
    # Spot price 0.04/h, a P10 OS disk (20/month) per node; 10 GB logs at 2; B1ms 0.05/h + 32 GB
    # x 0.1; 4 containers x 100 GB Hot LRS at 0.02; 3 private endpoints and ACR Premium
    # (1.2/day = 0.05/h); 4 private DNS zones at 0.5. Free tier: no control plane line.
    expected = 73 + 20 + 146 + 20 + 20 + 36.5 + 3.2 + 8 + 21.9 + 36.5 + 2
    high = 146 + 40 + 438 + 60 + 87.6 + 60 + 20 + 36.5 + 3.2 + 8 + 21.9 + 36.5 + 2
    assert dev.monthly.expected == pytest.approx(expected) == pytest.approx(387.1)
    assert dev.monthly.high == pytest.approx(high) == pytest.approx(959.7)
    assert not line(dev, "AKS control plane")
    assert any("Free tier" in u.reason for u in dev.unpriced)


def test_commitments_for_always_on_pools(make_book: Callable[..., PriceBook]) -> None:
    for stack in ("aws-prod", "azure-prod"):
        prod = report(stack, make_book())
        pools = {p.usage.what.split(":")[0]: p.reservation for p in prod.reservations}
        assert set(pools) == {"node pool system", "node pool api"}, stack
        system = pools["node pool system"]
        assert system is not None
        # 3 always-on nodes at 0.2/h on demand, 0.14/h for 1 year, 0.1/h for 3 years.
        assert system.nodes == 3
        assert system.on_demand == pytest.approx(438.0)
        assert system.one_year == pytest.approx(306.6)
        assert system.three_year == pytest.approx(219.0)
        assert system.saving(system.one_year) == pytest.approx(0.3)
        assert system.saving(system.three_year) == pytest.approx(0.5)


def test_prod_high_availability_doubles_the_database(make_book: Callable[..., PriceBook]) -> None:
    azure = report("azure-prod", make_book())
    (server,) = line(azure, "PostgreSQL Flexible Server")
    assert server.monthly is not None
    assert server.monthly.expected == pytest.approx(2 * 0.4 * 730)
    (storage,) = line(azure, "PostgreSQL storage")
    assert storage.monthly is not None
    assert storage.monthly.expected == pytest.approx(256 * 2 * 0.1)
    aws = report("aws-prod", make_book())
    (instance,) = line(aws, "database db.m7g.large")
    assert "Multi-AZ" in instance.usage.what
    assert instance.unit_price == 0.4


@pytest.mark.parametrize(("left", "right"), [("aws-dev", "azure-dev"), ("aws-prod", "azure-prod")])
def test_compare_matches_components_by_kind(
    make_book: Callable[..., PriceBook], left: str, right: str
) -> None:
    book = make_book()
    a, b = report(left, book), report(right, book)
    rows = {row.kind: row for row in compare(a, b)}
    assert {"Network", "Cluster", "Storage", "Database", "Registry"} <= set(rows)
    assert rows["KeyVault"].left is None
    assert rows["PlatformSecrets"].right is None
    assert sum(row.difference for row in rows.values()) == pytest.approx(
        b.monthly.expected - a.monthly.expected
    )
    cluster = rows["Cluster"]
    assert cluster.left is not None
    assert cluster.right is not None
    assert cluster.difference == pytest.approx(cluster.right.expected - cluster.left.expected)


def test_every_shipped_stack_prices_without_errors(make_book: Callable[..., PriceBook]) -> None:
    book = make_book()
    for stack in shipped_stacks():
        priced = report(stack, book)
        assert not priced.errors, (stack, priced.errors)
        if stack.endswith("-apps"):
            assert not priced.lines
            assert sum(priced.no_charge.values()) > 0
        else:
            assert priced.monthly.expected > 0


def test_committed_snapshot_is_what_the_clients_record(
    make_book: Callable[..., PriceBook], tmp_path: Path
) -> None:
    """The snapshot the README's example and the CLI tests read is exactly what the real clients
    record from the synthetic catalogue. Regenerate it after a catalogue or mapping change with
    ``STRATUS_REGENERATE_PRICE_SNAPSHOT=1 pytest tests/platform/cost -k committed_snapshot``."""
    book = make_book()
    for stack in shipped_stacks():
        report(stack, book)
    recorded = tmp_path / "prices.json"
    write_snapshot(recorded, book.used.values())
    if os.environ.get("STRATUS_REGENERATE_PRICE_SNAPSHOT"):
        write_snapshot(SNAPSHOT, book.used.values())
    assert json.loads(recorded.read_text()) == json.loads(SNAPSHOT.read_text())


def test_unknown_instance_type_marks_its_line_and_prices_the_rest(
    make_book: Callable[..., PriceBook],
) -> None:
    section = copy.deepcopy(stack_values("aws-dev")["stratus:aws"])
    section["cluster"]["nodeGroups"]["api"]["instanceTypes"] = ["zz9.large"]
    dev = report("aws-dev", make_book(), **{"stratus:aws": section})
    failed = [p for p in dev.lines if p.error]
    assert [p.usage.what for p in failed] == ["node pool api: zz9.large (on-demand)"]
    assert "instanceType=zz9.large" in failed[0].error
    assert "unknown type, or no price in that region" in failed[0].error
    # Everything else is still priced: the dev total less the api pool's 73/h-month.
    assert dev.monthly.expected == pytest.approx(1241.6 - 73)


def test_a_region_without_a_price_marks_only_those_lines(tmp_path: Path) -> None:
    """The models replica lives in eu-central-1; a catalogue without S3 there leaves that one
    bucket unpriced, named with its region."""
    products = catalog.aws_catalog()
    products["AmazonS3"] = [p for p in products["AmazonS3"] if "eu-central-1" not in p]
    with fake_apis.aws_price_list(products) as api:
        book = PriceBook(fetchers={"aws": AwsPriceList(pricing_client(api.url))})
        prod = report("aws-prod", book)
    failed = [p for p in prod.lines if p.error]
    assert len(failed) == 1
    assert "AmazonS3 in eu-central-1" in failed[0].error
    assert failed[0].usage.resource == "stratus-prod-storage-models-replica"
    assert len([p for p in line(prod, "S3 Standard") if not p.error]) == 1  # the 5 others, merged


def test_an_api_outage_marks_every_line_without_crashing(azure_api: fake_apis.FakeApi) -> None:
    azure_api.fail_with = 503
    try:
        book = PriceBook(
            fetchers={
                "azure": AzureRetailPrices(
                    httpx.Client(), base_url=f"{azure_api.url}/api/retail/prices"
                )
            }
        )
        dev = report("azure-dev", book)
    finally:
        azure_api.fail_with = None
    assert dev.lines
    assert all("HTTP 503" in p.error for p in dev.lines)
    assert dev.monthly.expected == 0


def test_location_is_normalised_to_the_api_region(make_book: Callable[..., PriceBook]) -> None:
    dev = report("azure-dev", make_book(), **{"azure-native:location": "West Europe"})
    assert dev.region == "westeurope"
    assert not dev.errors
