"""Local fake price APIs on 127.0.0.1 speaking each API's protocol, serving :mod:`catalog`.

* AWS: the Price List Query API's JSON 1.1 protocol (``POST /`` with ``X-Amz-Target:
  AWSPriceListService.GetProducts``; ``TERM_MATCH`` / ``CONTAINS`` filters on product attributes,
  ``productFamily`` and ``ServiceCode``; ``NextToken`` paging), so boto3's real ``pricing`` client
  (serialisation, signing, paginator) talks to it through ``endpoint_url``.
* Azure: the Retail Prices API (``GET /api/retail/prices?api-version=...&$filter=...``; OData
  ``field eq 'value'`` clauses joined by ``and``; ``NextPageLink`` paging with ``$skip``).

Both keep every request they answered for the tests to inspect, and page small on purpose so
every multi-product answer spans several pages.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

AWS_PAGE_SIZE = 2
AZURE_PAGE_SIZE = 3
_CLAUSE = re.compile(r"^\s*(?P<field>\w+)\s+eq\s+'(?P<value>(?:[^']|'')*)'\s*$")


@dataclass
class FakeApi:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: When set, every request is answered with this HTTP status (an API outage).
    fail_with: int | None = None


def _matches_aws(product: dict[str, Any], filters: list[dict[str, str]]) -> bool:
    attributes = {
        **product["product"]["attributes"],
        "productFamily": product["product"]["productFamily"],
    }
    for item in filters:
        value = attributes.get(item["Field"])
        if value is None:
            return False
        if item["Type"] == "TERM_MATCH" and value != item["Value"]:
            return False
        if item["Type"] == "CONTAINS" and item["Value"] not in value:
            return False
    return True


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@contextmanager
def aws_price_list(catalog: dict[str, list[str]]) -> Iterator[FakeApi]:
    api = FakeApi(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            target = self.headers.get("X-Amz-Target", "")
            api.requests.append({"target": target, **body})
            if api.fail_with is not None:
                self._answer(
                    api.fail_with,
                    {"__type": "InternalErrorException", "message": "synthetic outage"},
                )
                return
            if target != "AWSPriceListService.GetProducts":
                self._answer(400, {"__type": "UnknownOperationException", "message": target})
                return
            products = [
                p
                for p in catalog.get(body["ServiceCode"], [])
                if _matches_aws(json.loads(p), body.get("Filters", []))
            ]
            start = int(body.get("NextToken") or 0)
            page = products[start : start + AWS_PAGE_SIZE]
            answer: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": page}
            if start + AWS_PAGE_SIZE < len(products):
                answer["NextToken"] = str(start + AWS_PAGE_SIZE)
            self._answer(200, answer)

    server, thread = _serve(Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def odata_clauses(expression: str) -> list[tuple[str, str]]:
    clauses = []
    for clause in expression.split(" and "):
        match = _CLAUSE.match(clause)
        if match is None:
            raise ValueError(f"unsupported $filter clause {clause!r}")
        clauses.append((match["field"], match["value"].replace("''", "'")))
    return clauses


@contextmanager
def azure_retail_prices(items: list[dict[str, Any]]) -> Iterator[FakeApi]:
    api = FakeApi(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            api.requests.append({"path": parts.path, **query})
            if api.fail_with is not None:
                self._answer(
                    api.fail_with, {"Error": {"Code": "Synthetic", "Message": "synthetic outage"}}
                )
                return
            if parts.path != "/api/retail/prices":
                self._answer(404, {"Error": {"Code": "NotFound", "Message": parts.path}})
                return
            try:
                clauses = odata_clauses(query.get("$filter", ""))
            except ValueError as exc:
                self._answer(400, {"Error": {"Code": "BadRequest", "Message": str(exc)}})
                return
            matching = [i for i in items if all(str(i.get(f)) == v for f, v in clauses)]
            skip = int(query.get("$skip") or 0)
            page = matching[skip : skip + AZURE_PAGE_SIZE]
            next_link = None
            if skip + AZURE_PAGE_SIZE < len(matching):
                following = {**query, "$skip": str(skip + AZURE_PAGE_SIZE)}
                next_link = f"{api.url}/api/retail/prices?{urlencode(following)}"
            self._answer(
                200,
                {
                    "BillingCurrency": "USD",
                    "CustomerEntityId": "Default",
                    "CustomerEntityType": "Retail",
                    "Items": page,
                    "NextPageLink": next_link,
                    "Count": len(page),
                },
            )

    server, thread = _serve(Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
