"""What the logging stack's setup Job runs: apply each call of a JSON plan to Elasticsearch/Kibana.

This file is shipped as it is, in a ConfigMap, and run by the Python of the platform's own
training image (from the stack's registry): standard library only, no import of Stratus.

The plan (``calls.json``) is a list of ``{"method", "url", "body", "ca", "headers"}``. ``url`` is
formatted with the environment (``{ES}``, ``{KIBANA}``); ``ca`` is the CA bundle that verifies the
endpoint; the password of the ``elastic`` user comes from ``PASSWORD``. Each call is retried until
it succeeds (the cluster may still be starting): every call is idempotent (PUT of a named object,
a data view created with ``override``), so a Job that is re-run changes nothing.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from typing import Any

PLAN = os.environ.get("SETUP_PLAN", "/setup/calls.json")
ATTEMPTS = int(os.environ.get("SETUP_ATTEMPTS", "30"))
RETRY_DELAY_SECONDS = float(os.environ.get("SETUP_RETRY_DELAY", "10"))


def apply(call: dict[str, Any], authorization: str) -> bool:
    """Send one call until it succeeds or the attempts run out; say what happened."""
    url = str(call["url"]).format_map(os.environ)
    request = urllib.request.Request(
        url,
        method=call["method"],
        data=json.dumps(call["body"], sort_keys=True).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": authorization,
            **call.get("headers", {}),
        },
    )
    context = ssl.create_default_context(cafile=call["ca"])
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, context=context, timeout=30) as response:
                print(f"{call['method']} {url}: {response.status}", flush=True)
                return True
        except urllib.error.HTTPError as error:
            detail = f"HTTP {error.code}: {error.read().decode(errors='replace')[:2000]}"
        except (OSError, ValueError) as error:  # refused, DNS, TLS, timeout
            detail = f"{type(error).__name__}: {error}"
        print(f"{call['method']} {url} (attempt {attempt}/{ATTEMPTS}): {detail}", flush=True)
        if attempt < ATTEMPTS:
            time.sleep(RETRY_DELAY_SECONDS)
    return False


def main() -> int:
    with open(PLAN, encoding="utf-8") as plan:
        calls: list[dict[str, Any]] = json.load(plan)
    credentials = base64.b64encode(f"elastic:{os.environ['PASSWORD']}".encode()).decode()
    for call in calls:
        if not apply(call, f"Basic {credentials}"):
            print(f"setup failed: {call['method']} {call['url']} never succeeded", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
