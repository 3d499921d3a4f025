"""The AWS Price List client: request building with botocore's Stubber, parsing of the documented
``PriceList`` shape, and the real boto3 client against the local fake API (paging, errors)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from infra.cost.aws_prices import AwsPriceList, parse_product, request_filters
from infra.cost.model import PriceError, PriceQuery
from tests.platform.cost import catalog, fake_apis
from tests.platform.cost.conftest import pricing_client

QUERY = PriceQuery(
    cloud="aws",
    service="AmazonEC2",
    region="eu-west-1",
    filters=(("instanceType", "m6i.large"), ("operatingSystem", "Linux")),
    contains=(("usagetype", "BoxUsage"),),
)


def test_request_filters_map_the_region_to_region_code_and_keep_match_types() -> None:
    assert request_filters(QUERY) == [
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"},
        {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "m6i.large"},
        {"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": "Linux"},
        {"Type": "CONTAINS", "Field": "usagetype", "Value": "BoxUsage"},
    ]
    global_query = PriceQuery("aws", "AmazonRoute53", "", (("usagetype", "HostedZone"),))
    assert request_filters(global_query) == [
        {"Type": "TERM_MATCH", "Field": "usagetype", "Value": "HostedZone"}
    ]


def test_stubbed_get_products_pages_with_next_token() -> None:
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    first = catalog.aws_product(
        "AmazonEC2", "Compute Instance", {"instanceType": "m6i.large"}, [(0.2, "Hrs", "0", "Inf")]
    )
    second = catalog.aws_product(
        "AmazonEC2", "Compute Instance", {"instanceType": "m6i.large"}, [(0.3, "Hrs", "0", "Inf")]
    )
    expected = {
        "ServiceCode": "AmazonEC2",
        "Filters": request_filters(QUERY),
        "FormatVersion": "aws_v1",
    }
    with Stubber(client) as stub:
        stub.add_response(
            "get_products",
            {"FormatVersion": "aws_v1", "PriceList": [first], "NextToken": "page-2"},
            expected,
        )
        stub.add_response(
            "get_products",
            {"FormatVersion": "aws_v1", "PriceList": [second]},
            {**expected, "NextToken": "page-2"},
        )
        offers = AwsPriceList(client).fetch(QUERY)
        stub.assert_no_pending_responses()
    assert [offer.usd for offer in offers] == [0.2, 0.3]


def test_stubbed_service_error_is_a_price_error_naming_the_query() -> None:
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        stub.add_client_error("get_products", "InvalidParameterException", "bad filter")
        with pytest.raises(
            PriceError, match=r"AmazonEC2 in eu-west-1.*instanceType=m6i.large.*bad filter"
        ):
            AwsPriceList(client).fetch(QUERY)


def test_parse_product_reads_on_demand_tiers_and_amortises_reservations() -> None:
    document = json.loads(
        catalog.aws_product(
            "AmazonS3",
            "Storage",
            {"regionCode": "eu-west-1"},
            [(0.03, "GB-Mo", "0", "51200"), (0.02, "GB-Mo", "51200", "Inf")],
            [
                ("1yr", "standard", "No Upfront", [(0.07, "Hrs")]),
                ("3yr", "standard", "All Upfront", [(2628.0, "Quantity"), (0.0, "Hrs")]),
                ("3yr", "standard", "Partial Upfront", [(876.0, "Quantity"), (0.05, "Hrs")]),
            ],
        )
    )
    offers = parse_product(document)
    on_demand = [(o.usd, o.begin_range, o.unit) for o in offers if o.term == "on-demand"]
    assert on_demand == [(0.03, 0.0, "GB-Mo"), (0.02, 51200.0, "GB-Mo")]
    reserved = {
        (o.term, o.attributes["PurchaseOption"]): o.usd for o in offers if o.term != "on-demand"
    }
    assert reserved[("reserved-1y", "No Upfront")] == pytest.approx(0.07)
    # 2628 upfront over 3 x 8760 hours = 0.1 per hour.
    assert reserved[("reserved-3y", "All Upfront")] == pytest.approx(0.1)
    assert reserved[("reserved-3y", "Partial Upfront")] == pytest.approx(0.05 + 876 / 26280)
    assert offers[0].attributes["productFamily"] == "Storage"


def test_real_client_against_the_fake_api_pages_and_filters(aws_api: fake_apis.FakeApi) -> None:
    before = len(aws_api.requests)
    query = PriceQuery(
        "aws",
        "AmazonEC2",
        "eu-west-1",
        filters=(("productFamily", "Compute Instance"),),
        contains=(("usagetype", "BoxUsage"),),
    )
    offers = AwsPriceList(pricing_client(aws_api.url)).fetch(query)
    requests = aws_api.requests[before:]
    # Six types x (Linux + Windows) in eu-west-1, two products a page.
    assert len(requests) == 6
    assert all(r["target"] == "AWSPriceListService.GetProducts" for r in requests)
    assert requests[0]["Filters"][0] == {
        "Type": "TERM_MATCH",
        "Field": "regionCode",
        "Value": "eu-west-1",
    }
    assert [r.get("NextToken") for r in requests] == [None, "2", "4", "6", "8", "10"]
    assert len([o for o in offers if o.term == "on-demand"]) == 12


def test_api_outage_is_a_price_error(aws_api: fake_apis.FakeApi) -> None:
    client = boto3.client(
        "pricing",
        region_name="us-east-1",
        endpoint_url=aws_api.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    aws_api.fail_with = 500
    try:
        with pytest.raises(
            PriceError, match=r"AWS Price List API failed for aws AmazonEC2.*outage"
        ):
            AwsPriceList(client).fetch(QUERY)
    finally:
        aws_api.fail_with = None
