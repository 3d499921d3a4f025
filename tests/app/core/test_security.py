from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.core.config import Settings
from app.core.jwt_auth import JwksCache, JwtAuthenticator, signing_keys
from app.core.security import (
    ROLES,
    ApiKeyAuthenticator,
    AuthError,
    ConfigError,
    NoAuthenticator,
    Principal,
    bearer_token,
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


# Each refusal carries its own reason (the metric label) and message (what the 401 says); the
# helpers around the authenticators keep exactly their documented rules.


def _jwt(issuer: Issuer, **settings: Any) -> JwtAuthenticator:
    client = httpx.AsyncClient(transport=issuer.transport())
    jwks = JwksCache("https://issuer.test/jwks", 300, client)
    return JwtAuthenticator(jwt_settings(**settings), jwks)


def _refusal(authenticate: Any) -> tuple[str, str]:
    with pytest.raises(AuthError) as caught:
        asyncio.run(authenticate)
    return caught.value.reason, str(caught.value)


def _unsigned(header: dict[str, Any]) -> str:
    """A token-shaped string with the given header (its signature is never reached)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part({'sub': 'x'})}.c2ln"


def test_jwt_refusals_say_why(issuer: Issuer) -> None:
    auth = _jwt(issuer, jwt_algorithms="RS256,ES256")
    now = int(time.time())
    issuer.publish_ec = True
    es_token_naming_the_rsa_key = jwt.encode(
        issuer.claims(), issuer.ec_key, "ES256", headers={"kid": "k1"}
    )
    cases = {
        None: ("missing", "a bearer token is required (Authorization: Bearer)"),
        "not-a-jwt": ("malformed_token", "the bearer token is not a JWT"),
        jwt.encode({"sub": "x"}, "secret-secret-secret-secret-secret", algorithm="HS256"): (
            "bad_algorithm",
            "token algorithm must be one of ['ES256', 'RS256']",
        ),
        _unsigned({"alg": ["RS256"], "kid": "k1"}): (
            "bad_algorithm",
            "token algorithm must be one of ['ES256', 'RS256']",
        ),
        es_token_naming_the_rsa_key: (
            "bad_algorithm",
            "the token's algorithm does not match its signing key",
        ),
        issuer.token(exp=now - 60): ("expired", "the token has expired"),
        issuer.token(aud="someone-else"): ("bad_audience", "the token is not for this audience"),
        issuer.token(iss="https://evil.test/"): (
            "bad_issuer",
            "the token is not from the configured issuer",
        ),
        issuer.token(sub=None): (
            "invalid_token",
            'the token is not valid: Token is missing the "sub" claim',
        ),
    }
    for token, expected in cases.items():
        assert _refusal(auth.authenticate(token)) == expected, token


def test_jwt_leeway_accepts_a_token_just_expired(issuer: Issuer) -> None:
    token = issuer.token(exp=int(time.time()) - 5)
    who = asyncio.run(_jwt(issuer, jwt_leeway_s=60).authenticate(token))
    assert who == Principal("alice", frozenset({"predict"}), "jwt")
    assert _refusal(_jwt(issuer).authenticate(token))[0] == "expired"


def test_a_fresh_jwks_is_fetched_once_for_many_tokens(issuer: Issuer) -> None:
    client = httpx.AsyncClient(transport=issuer.transport())
    now = [1000.0]
    jwks = JwksCache("https://issuer.test/jwks", 300, client, clock=lambda: now[0])
    auth = JwtAuthenticator(jwt_settings(), jwks)

    async def three() -> None:
        for _ in range(3):
            await auth.authenticate(issuer.token())
            await asyncio.sleep(0)

    asyncio.run(three())
    assert issuer.fetches == 1
    now[0] += 301  # older than the TTL: the next request refreshes in the background
    asyncio.run(three())
    assert issuer.fetches == 2


def test_api_key_refusals_and_principal() -> None:
    key, entry = new_key_entry("ci", ["predict"])
    auth = ApiKeyAuthenticator(parse_key_entries(json.dumps([entry]), "test"))
    assert _refusal(auth.authenticate(None)) == (
        "missing",
        "an API key is required (X-API-Key or Authorization: Bearer)",
    )
    assert _refusal(auth.authenticate(key + "x")) == ("invalid_key", "the API key is not valid")
    assert asyncio.run(auth.authenticate(key)) == Principal("ci", frozenset({"predict"}), "api-key")


def test_disabled_auth_gives_everyone_every_role() -> None:
    who = asyncio.run(NoAuthenticator().authenticate(None))
    assert who == Principal("anonymous", ROLES, "disabled")


@pytest.mark.parametrize(
    ("authorization", "api_key", "token"),
    [
        (None, None, None),
        ("Bearer abc", None, "abc"),
        ("bearer abc ", None, "abc"),
        ("BEARER  abc", None, "abc"),
        ("Bearer abc", "from-header", "from-header"),
        ("Basic abc", None, None),
        ("Bearer ", None, None),
        ("Bearer", None, None),
    ],
)
def test_bearer_token(authorization: str | None, api_key: str | None, token: str | None) -> None:
    assert bearer_token(authorization, api_key) == token


def test_jwks_documents_without_keys_are_refused() -> None:
    for document in ([], {"keys": "k1"}, {}):
        with pytest.raises(ValueError, match="JWKS") as caught:
            signing_keys(document)
        assert str(caught.value) == "the JWKS document has no 'keys' array"
    with pytest.raises(ValueError, match="JWKS") as caught:
        signing_keys({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})
    assert str(caught.value) == "the JWKS document holds no usable signature keys"


def test_unusable_jwks_entries_before_a_good_key_are_skipped(issuer: Issuer) -> None:
    good = issuer.jwks()["keys"][0]
    del good["use"]  # `use` defaults to a signature key
    skipped = [
        "not an object",
        {"kty": "oct", "kid": "shared", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"},
        {**good, "kid": "enc", "use": "enc"},
        {"kty": "RSA", "kid": "broken"},
    ]
    keys = signing_keys({"keys": [*skipped, good]})
    assert set(keys) == {"k1", None}
    assert keys[None] is keys["k1"]
    assert keys["k1"].algorithms == frozenset({"RS256"})


def test_a_key_type_outside_the_table_verifies_its_own_algorithm(issuer: Issuer) -> None:
    issuer.publish_ec = True
    ec = issuer.jwks()["keys"][1]
    del ec["alg"]
    assert signing_keys({"keys": [ec]})["ec1"].algorithms == frozenset({"ES256"})


def test_key_list_errors_name_each_place(tmp_path: Path) -> None:
    digest = "0" * 64
    cases = {
        "{}": "X is not a valid API key list: the list: Input should be a valid array",
        f'[{{"name": "a", "sha256": "{digest}", "roles": ["predict"], "stk_x": 1}}, '
        f'{{"name": "", "sha256": "{digest}", "roles": ["predict"]}}]': (
            "X is not a valid API key list: entry[0].<unknown field>: Extra inputs are not "
            "permitted; entry[1].name: String should have at least 1 character"
        ),
    }
    for raw, message in cases.items():
        with pytest.raises(ConfigError) as caught:
            parse_key_entries(raw, "X")
        assert str(caught.value) == message


def test_keys_from_the_variable_and_the_file_both_count(tmp_path: Path) -> None:
    env_key, env_entry = new_key_entry("env", ["predict"])
    file_key, file_entry = new_key_entry("file", ["admin"])
    path = tmp_path / "keys.json"
    path.write_text(json.dumps([file_entry]))
    auth = build_authenticator(
        Settings(api_keys=SecretStr(json.dumps([env_entry])), api_keys_file=path)
    )
    assert asyncio.run(auth.authenticate(env_key)).subject == "env"
    assert asyncio.run(auth.authenticate(file_key)).subject == "file"


def test_an_empty_key_list_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build_authenticator(Settings(api_keys=SecretStr("[]")))
    assert str(caught.value) == "STRATUS_API_KEYS holds no keys"
    path = tmp_path / "keys.json"
    path.write_text("[]")
    with pytest.raises(ConfigError) as caught:
        build_authenticator(Settings(api_keys_file=path))
    assert str(caught.value) == f"STRATUS_API_KEYS_FILE={path} holds no keys"


def test_jwt_settings_reach_the_jwks_cache() -> None:
    auth = build_authenticator(jwt_settings(jwks_cache_s=42, jwks_backoff_max_s=7))
    assert isinstance(auth, JwtAuthenticator)
    assert (auth.jwks.url, auth.jwks.ttl_s, auth.jwks.backoff_max_s) == (
        "https://issuer.test/jwks",
        42,
        7,
    )


def test_new_keys_are_long_random_and_prefixed() -> None:
    key, entry = new_key_entry("ci", ["predict", "admin"])
    other, _ = new_key_entry("ci", ["predict"])
    assert key.startswith("stk_")
    assert len(key) == len("stk_") + 43  # 32 random bytes, base64url
    assert key != other
    assert (entry["name"], entry["sha256"]) == ("ci", hash_key(key))
    assert sorted(entry["roles"]) == ["admin", "predict"]
    with pytest.raises(ConfigError) as caught:
        new_key_entry("ci", ["predict", "root"])
    assert str(caught.value) == "unknown role(s) ['root']; use ['admin', 'predict']"
