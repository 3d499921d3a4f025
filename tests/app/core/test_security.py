from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.jwt_auth import JwksCache, JwtAuthenticator, signing_keys
from app.core.security import (
    ApiKeyAuthenticator,
    AuthError,
    ConfigError,
    build_authenticator,
    hash_key,
    match_digest,
    new_key_entry,
    parse_key_entries,
)
from tests.app.conftest import MODEL_NAME, Trained, serve
from tests.app.core.identity import Issuer, jwt_settings


def test_api_keys_are_compared_by_hash() -> None:
    key, entry = new_key_entry("ci", ["predict"])
    assert key not in str(entry)
    assert entry["sha256"] == hash_key(key)
    auth = ApiKeyAuthenticator(parse_key_entries(f"[{__import__('json').dumps(entry)}]", "test"))
    who = asyncio.run(auth.authenticate(key))
    assert who.subject == "ci"
    assert who.roles == frozenset({"predict"})
    with pytest.raises(AuthError) as caught:
        asyncio.run(auth.authenticate(key + "x"))
    assert caught.value.reason == "invalid_key"
    with pytest.raises(AuthError, match="required"):
        asyncio.run(auth.authenticate(None))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "not a valid API key list"),
        ("[]", "holds no keys"),
        ('[{"name": "a", "sha256": "abc", "roles": ["predict"]}]', "not a valid API key list"),
        (f'[{{"name": "a", "sha256": "{"0" * 64}", "roles": ["root"]}}]', "unknown role"),
    ],
)
def test_bad_key_lists_are_refused(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_key_entries(raw, "STRATUS_API_KEYS")


def test_key_file(tmp_path: Any) -> None:
    key, entry = new_key_entry("dashboard", ["predict", "admin"])
    path = tmp_path / "keys.json"
    path.write_text(__import__("json").dumps([entry]))
    auth = build_authenticator(Settings(auth_mode="api-key", api_keys_file=path))
    assert asyncio.run(auth.authenticate(key)).roles == frozenset({"predict", "admin"})


def test_auth_is_disabled_only_explicitly() -> None:
    with pytest.raises(ValueError, match="STRATUS_API_KEYS_FILE or STRATUS_API_KEYS"):
        Settings(auth_mode="api-key")
    with pytest.raises(ValueError, match="STRATUS_JWT_ISSUER, STRATUS_JWT_AUDIENCE"):
        Settings(auth_mode="jwt")
    assert Settings(auth_mode="disabled").auth_mode.value == "disabled"


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


def _authenticator(issuer: Issuer) -> JwtAuthenticator:
    client = httpx.AsyncClient(transport=issuer.transport())
    return JwtAuthenticator(jwt_settings(), JwksCache("https://issuer.test/jwks", 300, client))


def test_valid_jwt(issuer: Issuer) -> None:
    who = asyncio.run(_authenticator(issuer).authenticate(issuer.token()))
    assert who.subject == "alice"
    assert who.roles == frozenset({"predict"})
    assert who.method == "jwt"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(time.time()) - 60}, "expired"),
        ({"aud": "someone-else"}, "bad_audience"),
        ({"iss": "https://evil.test/"}, "bad_issuer"),
        ({"sub": None}, "invalid_token"),
    ],
)
def test_invalid_jwts(issuer: Issuer, claims: dict[str, Any], reason: str) -> None:
    with pytest.raises(AuthError) as caught:
        asyncio.run(_authenticator(issuer).authenticate(issuer.token(**claims)))
    assert caught.value.reason == reason


def test_jwt_signed_by_another_key(issuer: Issuer) -> None:
    forger = Issuer()
    with pytest.raises(AuthError) as caught:
        asyncio.run(_authenticator(issuer).authenticate(forger.token()))
    assert caught.value.reason == "invalid_token"
    with pytest.raises(AuthError) as caught:
        asyncio.run(_authenticator(issuer).authenticate("not-a-jwt"))
    assert caught.value.reason == "malformed_token"
    hs = jwt.encode({"sub": "x"}, "secret-secret-secret-secret-secret", algorithm="HS256")
    with pytest.raises(AuthError) as caught:
        asyncio.run(_authenticator(issuer).authenticate(hs))
    assert caught.value.reason == "bad_algorithm"


def test_key_rotation_refetches_the_jwks(issuer: Issuer) -> None:
    authenticator = _authenticator(issuer)

    async def scenario() -> None:
        await authenticator.authenticate(issuer.token())
        issuer.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        issuer.kid = "k2"
        authenticator.jwks._fetched -= 11  # past the refetch guard
        who = await authenticator.authenticate(issuer.token())
        assert who.subject == "alice"

    asyncio.run(scenario())
    assert issuer.fetches == 2


@contextmanager
def _jwt_app(
    store: str, issuer: Issuer, monkeypatch: pytest.MonkeyPatch, **overrides: Any
) -> Iterator[TestClient]:
    """The app in JWT mode, its JWKS fetched from ``issuer`` through httpx's mock transport."""
    real = httpx.AsyncClient

    def mocked(*args: Any, **kwargs: Any) -> httpx.AsyncClient:
        return real(transport=issuer.transport())

    monkeypatch.setattr("app.core.jwt_auth.httpx.AsyncClient", mocked)
    settings = jwt_settings(model_uri=f"{store}/{MODEL_NAME}", watch_interval_s=0, **overrides)
    with serve(settings) as client:
        yield client


@pytest.fixture
def jwt_client(store: str, issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    with _jwt_app(store, issuer, monkeypatch) as client:
        yield client


def test_jwt_auth_through_the_api(
    jwt_client: TestClient, issuer: Issuer, logistic: Trained
) -> None:
    body = {"instances": logistic.rows(1)}
    ok = jwt_client.post(
        "/predict", json=body, headers={"Authorization": f"Bearer {issuer.token()}"}
    )
    assert ok.status_code == 200
    expired = issuer.token(exp=int(time.time()) - 5)
    assert (
        jwt_client.post(
            "/predict", json=body, headers={"Authorization": f"Bearer {expired}"}
        ).status_code
        == 401
    )
    admin_only = issuer.token(realm_access={"roles": ["admin"]})
    headers = {"Authorization": f"Bearer {admin_only}"}
    assert jwt_client.post("/predict", json=body, headers=headers).status_code == 403
    assert jwt_client.get("/admin/model", headers=headers).status_code == 200


# --- the API-key comparison helper ----------------------------------------------------------


def test_every_stored_digest_is_compared_with_compare_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Timing cannot be observed in a test; the construction can: each lookup compares the
    digest with every stored entry through ``hmac.compare_digest``, the matching one first or
    last, found or not."""
    stored = [(hashlib.sha256(f"key-{i}".encode()).digest(), f"entry-{i}") for i in range(5)]
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("app.core.security.hmac.compare_digest", spy)
    for probe, expected in [
        (stored[0][0], "entry-0"),
        (stored[4][0], "entry-4"),
        (hashlib.sha256(b"nobody").digest(), None),
    ]:
        calls.clear()
        assert match_digest(probe, stored) == expected
        assert [b for _, b in calls] == [digest for digest, _ in stored]
        assert all(a == probe for a, _ in calls)


# --- key lists never echo key material -----------------------------------------------------

SECRET = "stk_" + "s3cr3t" * 8


@pytest.mark.parametrize(
    "raw",
    [
        f'[{{"name": "ci", "sha256": "{SECRET}", "roles": ["predict"]}}]',  # key for its digest
        SECRET,  # a plain key instead of a list
        f'["{SECRET}"]',
        f'[{{"name": "ci", "{SECRET}": "x", "sha256": "{"0" * 64}", "roles": ["predict"]}}]',
        f'{{"{SECRET}": "ci"}}',
    ],
)
def test_bad_key_lists_do_not_echo_the_key(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_key_entries(raw, "STRATUS_API_KEYS")
    message = str(caught.value)
    assert "STRATUS_API_KEYS is not a valid API key list" in message
    assert "s3cr3t" not in message
    with pytest.raises(ConfigError) as through_settings:
        build_authenticator(Settings(auth_mode="api-key", api_keys=raw))
    assert "s3cr3t" not in str(through_settings.value)


def test_key_list_errors_still_say_where() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_key_entries('[{"name": "ci", "sha256": "abc", "roles": ["predict"]}]', "X")
    assert "entry[0].sha256" in str(caught.value)


# --- JWT: algorithms and key types ---------------------------------------------------------


@pytest.mark.parametrize("algorithms", ["HS256", "RS256,HS512", "hs384"])
def test_shared_secret_algorithms_are_refused_with_a_jwks(algorithms: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        jwt_settings(jwt_algorithms=algorithms)


def test_symmetric_and_encryption_keys_are_dropped_from_the_jwks(issuer: Issuer) -> None:
    document = issuer.jwks()
    document["keys"] += [
        {"kty": "oct", "kid": "shared", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"},
        {**document["keys"][0], "kid": "enc", "use": "enc"},
    ]
    keys = signing_keys(document)
    assert set(keys) == {"k1", None}  # the one usable key also verifies tokens without a kid
    assert keys["k1"].algorithms == frozenset({"RS256"})


def test_a_key_without_alg_verifies_its_key_types_algorithms(issuer: Issuer) -> None:
    document = issuer.jwks()
    del document["keys"][0]["alg"]
    assert "PS256" in signing_keys(document)["k1"].algorithms
    assert "ES256" not in signing_keys(document)["k1"].algorithms


@pytest.fixture
def ec_jwt_client(
    store: str, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    issuer.publish_ec = True
    with _jwt_app(store, issuer, monkeypatch, jwt_algorithms="RS256,ES256") as client:
        yield client


def test_a_kid_naming_a_key_of_another_type_is_401_not_500(
    ec_jwt_client: TestClient, issuer: Issuer, logistic: Trained
) -> None:
    body = {"instances": logistic.rows(1)}

    def call(token: str) -> Any:
        return ec_jwt_client.post(
            "/predict", json=body, headers={"Authorization": f"Bearer {token}"}
        )

    assert call(issuer.ec_token()).status_code == 200  # the EC key verifies ES256
    assert call(issuer.token()).status_code == 200  # the RSA key verifies RS256
    # an RS256 token whose kid names the EC key, and an ES256 token naming the RSA key
    es_header_rsa_kid = jwt.encode(issuer.claims(), issuer.ec_key, "ES256", headers={"kid": "k1"})
    for token in (issuer.token(kid="ec1"), es_header_rsa_kid):
        answer = call(token)
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "unauthenticated"
        assert answer.headers["www-authenticate"] == "Bearer"
