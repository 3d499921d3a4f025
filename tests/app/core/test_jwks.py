"""The JWKS cache against a real identity provider that fails or hangs: requests keep being
served from cached keys, one refresh runs at a time, failures back off, the request timeout
bounds authentication, and the provider's address never reaches a client."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.core.jwt_auth import JwksCache
from app.core.security import AuthError
from tests.app.conftest import MODEL_NAME, Trained, serve, uvicorn_thread
from tests.app.core.identity import IdentityProvider, Issuer, identity_provider, jwt_settings


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def idp(issuer: Issuer) -> Iterator[IdentityProvider]:
    with identity_provider(issuer) as provider:
        yield provider


def _concurrently(url: str, headers: dict[str, str], body: Any, n: int) -> list[httpx.Response]:
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def call() -> None:
        answer = httpx.post(f"{url}/predict", json=body, headers=headers, timeout=120)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=call) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return answers


def test_cached_keys_keep_serving_while_the_identity_provider_hangs(
    store: str, issuer: Issuer, idp: IdentityProvider, logistic: Trained
) -> None:
    settings = jwt_settings(
        model_uri=f"{store}/{MODEL_NAME}",
        watch_interval_s=0,
        jwt_jwks_url=idp.url,
        jwks_cache_s=1,
        jwks_timeout_s=60,  # far longer than the test: whoever waits for the fetch, waits long
    )
    headers = {"Authorization": f"Bearer {issuer.token()}"}
    body = {"instances": logistic.rows(1)}
    with uvicorn_thread(settings) as url:
        assert httpx.post(f"{url}/predict", json=body, headers=headers).status_code == 200
        idp.mode = "hang"
        threading.Event().wait(1.5)  # the cached keys are now older than jwks_cache_s
        answers = _concurrently(url, headers, body, 4)
        # every request was answered from the cached keys while the one refresh still hangs
        assert [a.status_code for a in answers] == [200] * 4
        # the refresh runs in the background: it may reach the provider after the answers left
        assert idp.hanging.wait(30)
        assert idp.pending == 1
        assert idp.requests == 2
        assert httpx.post(f"{url}/predict", json=body, headers=headers).status_code == 200
        assert idp.requests == 2  # still one refresh in flight, no second one


def test_the_request_timeout_bounds_waiting_for_a_hanging_identity_provider(
    store: str, issuer: Issuer, idp: IdentityProvider, logistic: Trained
) -> None:
    idp.mode = "hang"
    settings = jwt_settings(
        model_uri=f"{store}/{MODEL_NAME}",
        watch_interval_s=0,
        jwt_jwks_url=idp.url,
        jwks_timeout_s=60,
        request_timeout_s=1,
    )
    headers = {"Authorization": f"Bearer {issuer.token()}"}
    with uvicorn_thread(settings) as url:
        answers = _concurrently(url, headers, {"instances": logistic.rows(1)}, 4)
        # no keys yet: the requests wait for the one fetch, each only until its own timeout
        assert [a.status_code for a in answers] == [504] * 4
        assert {a.json()["code"] for a in answers} == {"timeout"}
        assert idp.pending == 1
        assert idp.requests == 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failed_fetches_back_off(issuer: Issuer) -> None:
    clock = FakeClock()
    failing = {"on": True}
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(clock.now)
        if failing["on"]:
            return httpx.Response(500)
        return httpx.Response(200, json=issuer.jwks())

    cache = JwksCache(
        "https://idp.internal/jwks",
        300,
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        backoff_max_s=3,
        clock=clock,
    )

    async def attempt(at: float) -> str:
        clock.now = at
        try:
            await cache.key("k1")
        except AuthError as exc:
            return exc.reason
        return "ok"

    async def scenario() -> list[str]:
        return [
            await attempt(1000.0),  # fetch 1 fails: wait 1 s
            await attempt(1000.5),
            await attempt(1001.1),  # fetch 2 fails: wait 2 s
            await attempt(1002.5),
            await attempt(1003.2),  # fetch 3 fails: wait 3 s (the maximum)
            await attempt(1006.0),
            await attempt(1006.3),  # fetch 4 fails: wait 3 s
            await attempt(1009.0),
        ]

    assert asyncio.run(scenario()) == ["jwks_unavailable"] * 8
    assert calls == [1000.0, 1001.1, 1003.2, 1006.3]
    failing["on"] = False
    assert asyncio.run(attempt(1009.4)) == "ok"  # fetch 5 succeeds
    assert calls[-1] == 1009.4


def test_the_identity_providers_address_is_logged_not_shown(
    store: str,
    issuer: Issuer,
    idp: IdentityProvider,
    logistic: Trained,
    caplog: pytest.LogCaptureFixture,
) -> None:
    idp.mode = "fail"
    settings = jwt_settings(
        model_uri=f"{store}/{MODEL_NAME}", watch_interval_s=0, jwt_jwks_url=idp.url
    )
    host_port = idp.url.split("/")[2]
    with caplog.at_level(logging.WARNING, logger="stratus.auth"), serve(settings) as client:
        answer = client.post(
            "/predict",
            json={"instances": logistic.rows(1)},
            headers={"Authorization": f"Bearer {issuer.token()}"},
        )
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthenticated"
    for leaked in (host_port, "realms/internal", "500", "jwks_url"):
        assert leaked not in answer.text
    logged = [r for r in caplog.records if r.name == "stratus.auth"]
    assert any(getattr(r, "jwks_url", None) == idp.url for r in logged)


class _Provider:
    """An in-process JWKS endpoint (httpx mock transport) that can be told to fail."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self.failing = False

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            if self.failing:
                return httpx.Response(503, text="down")
            return httpx.Response(200, json=self.issuer.jwks())

        return httpx.MockTransport(handler)


def _refusal(cache: JwksCache, kid: str | None) -> tuple[str, str]:
    with pytest.raises(AuthError) as caught:
        asyncio.run(cache.key(kid))
    return caught.value.reason, str(caught.value)


def test_jwks_cache_defaults() -> None:
    cache = JwksCache("https://issuer.test/jwks", 300)
    assert (cache.backoff_max_s, cache.min_interval_s, cache.fetches) == (60.0, 10.0, 0)


def test_an_unknown_kid_refetches_only_after_the_minimum_interval(issuer: Issuer) -> None:
    now = [1000.0]
    provider = _Provider(issuer)
    client = httpx.AsyncClient(transport=provider.transport())
    cache = JwksCache("https://issuer.test/jwks", 300, client, clock=lambda: now[0])
    asyncio.run(cache.key("k1"))
    assert cache.fetches == 1
    now[0] += 5
    assert _refusal(cache, "rotated") == (
        "unknown_kid",
        "the token's signing key is not in the issuer's JWKS",
    )
    assert cache.fetches == 1  # fetched a moment ago: the kid is not there
    now[0] += 5  # exactly the minimum interval later
    assert _refusal(cache, "rotated")[0] == "unknown_kid"
    assert cache.fetches == 2


def test_a_failed_fetch_is_logged_backs_off_and_a_success_resets_it(
    issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    now = [0.5]
    provider = _Provider(issuer)
    client = httpx.AsyncClient(transport=provider.transport())
    cache = JwksCache(
        "https://issuer.test/jwks", 300, client, min_interval_s=0, clock=lambda: now[0]
    )
    provider.failing = True
    with caplog.at_level(logging.WARNING, logger="stratus.auth"):
        assert _refusal(cache, "k1") == (
            "jwks_unavailable",
            "the token cannot be verified now; retry later",
        )
    [record] = [r for r in caplog.records if r.name == "stratus.auth"]
    assert record.getMessage() == "JWKS fetch failed; serving cached keys"
    assert record.error.startswith("HTTPStatusError: ")  # type: ignore[attr-defined]
    assert (record.cached_keys, record.retry_in_s) == (0, 1.0)  # type: ignore[attr-defined]
    assert _refusal(cache, "k1")[0] == "jwks_unavailable"
    assert cache.fetches == 1  # backing off: no fetch before clock 1.5
    now[0] = 1.5
    provider.failing = False
    assert asyncio.run(cache.key("k1")).jwk.key_id == "k1"
    assert cache.fetches == 2
    now[0] = 1.6  # the success cleared the back-off: an unknown kid fetches at once
    provider.failing = True
    assert _refusal(cache, "rotated")[0] == "unknown_kid"  # the cached keys still answer
    assert cache.fetches == 3
    assert asyncio.run(cache.key("k1")).jwk.key_id == "k1"
    last = [r for r in caplog.records if r.name == "stratus.auth"][-1]
    # the cached keys: k1, and under None the lone key; the back-off restarts at 1 s
    assert (last.cached_keys, last.retry_in_s) == (2, 1.0)  # type: ignore[attr-defined]


def test_a_first_successful_fetch_leaves_no_back_off(issuer: Issuer) -> None:
    now = [0.5]
    client = httpx.AsyncClient(transport=_Provider(issuer).transport())
    cache = JwksCache(
        "https://issuer.test/jwks", 300, client, min_interval_s=0, clock=lambda: now[0]
    )
    asyncio.run(cache.key("k1"))
    now[0] = 0.6
    assert _refusal(cache, "rotated")[0] == "unknown_kid"
    assert cache.fetches == 2  # the unknown kid was looked up at once
