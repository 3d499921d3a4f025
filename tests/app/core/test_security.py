from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm

from app.core.config import Settings
from app.core.security import (
    ApiKeyAuthenticator,
    AuthError,
    ConfigError,
    JwksCache,
    JwtAuthenticator,
    build_authenticator,
    hash_key,
    new_key_entry,
    parse_key_entries,
)
from tests.app.conftest import MODEL_NAME, Trained, serve, settings_for

ISSUER = "https://issuer.test/"
AUDIENCE = "stratus-inference"


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


class Issuer:
    """A locally generated RSA key pair and its JWKS, served through httpx's mock transport."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "k1"
        self.fetches = 0

    def jwks(self) -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            self.fetches += 1
            return httpx.Response(200, json=self.jwks())

        return httpx.MockTransport(handler)

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "alice",
            "iat": now,
            "exp": now + 300,
            "realm_access": {"roles": ["predict"]},
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": self.kid})


def jwt_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "auth_mode": "jwt",
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "jwt_jwks_url": "https://issuer.test/jwks",
        "jwt_roles_claim": "realm_access.roles",
        "jwt_leeway_s": 0,
    }
    values.update(overrides)
    return Settings(**values)


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


@pytest.fixture
def jwt_client(store: str, issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    real = httpx.AsyncClient

    def mocked(*args: Any, **kwargs: Any) -> httpx.AsyncClient:
        return real(transport=issuer.transport())

    monkeypatch.setattr("app.core.security.httpx.AsyncClient", mocked)
    base = settings_for(f"{store}/{MODEL_NAME}")
    settings = jwt_settings(**{k: getattr(base, k) for k in ("model_uri", "watch_interval_s")})
    with serve(settings) as client:
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
