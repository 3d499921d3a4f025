"""Authentication: hashed API keys or OAuth 2.0 bearer JWTs (JWKS), and role checks.

API keys are high-entropy random tokens, so the service stores and compares only their SHA-256
digests (``hmac.compare_digest`` over every configured key, so timing reveals nothing). The key
list comes from ``STRATUS_API_KEYS`` (JSON) or the mounted file ``STRATUS_API_KEYS_FILE``:
``[{"name": "ci", "sha256": "<hex digest>", "roles": ["predict"]}]``. ``python -m app.keys``
makes a new key and its entry.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import jwt
import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from app.core.config import AuthMode, Settings

ROLE_PREDICT = "predict"
ROLE_ADMIN = "admin"
ROLES = frozenset({ROLE_PREDICT, ROLE_ADMIN})


class AuthError(Exception):
    """401: no or invalid credentials. ``reason`` is a short metric label, never the secret."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ConfigError(ValueError):
    """The auth configuration is unusable."""


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    method: str


class ApiKeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the key")
    roles: frozenset[str] = Field(min_length=1)


_ENTRIES = TypeAdapter(list[ApiKeyEntry])


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_key_entries(raw: bytes | str, where: str) -> list[ApiKeyEntry]:
    try:
        entries = _ENTRIES.validate_json(raw)
    except ValidationError as exc:
        raise ConfigError(f"{where} is not a valid API key list: {exc}") from None
    for entry in entries:
        unknown = entry.roles - ROLES
        if unknown:
            raise ConfigError(f"{where}: key {entry.name!r} has unknown role(s) {sorted(unknown)}")
    if not entries:
        raise ConfigError(f"{where} holds no keys")
    return entries


def bearer_token(authorization: str | None, api_key: str | None) -> str | None:
    if api_key:
        return api_key
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


class Authenticator(Protocol):
    method: str

    async def authenticate(self, token: str | None) -> Principal: ...


class ApiKeyAuthenticator:
    method = "api-key"

    def __init__(self, entries: list[ApiKeyEntry]) -> None:
        self._entries = [(bytes.fromhex(e.sha256), e) for e in entries]

    async def authenticate(self, token: str | None) -> Principal:
        if token is None:
            raise AuthError(
                "missing", "an API key is required (X-API-Key or Authorization: Bearer)"
            )
        digest = hashlib.sha256(token.encode()).digest()
        found: ApiKeyEntry | None = None
        for stored, entry in self._entries:  # compare with every key: constant time overall
            if hmac.compare_digest(digest, stored):
                found = entry
        if found is None:
            raise AuthError("invalid_key", "the API key is not valid")
        return Principal(found.name, found.roles, self.method)


class JwksCache:
    """The issuer's signing keys, fetched with httpx and refreshed on expiry or unknown ``kid``."""

    def __init__(self, url: str, ttl_s: float, client: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self.ttl_s = ttl_s
        self._client = client or httpx.AsyncClient(timeout=5.0)
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK:
        expired = time.monotonic() - self._fetched > self.ttl_s
        if expired or kid not in self._keys:
            await self._refresh(min_age=0 if expired else 10.0)
        try:
            return self._keys[kid]
        except KeyError:
            raise AuthError(
                "unknown_kid", "the token's signing key is not in the issuer's JWKS"
            ) from None

    async def _refresh(self, min_age: float) -> None:
        async with self._lock:
            if self._keys and time.monotonic() - self._fetched < min_age:
                return
            try:
                response = await self._client.get(self.url)
                response.raise_for_status()
                keyset = jwt.PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                if not self._keys:
                    raise AuthError("jwks_unavailable", f"cannot fetch the JWKS: {exc}") from None
                return  # keep using the keys we have
            keys: dict[str | None, jwt.PyJWK] = {k.key_id: k for k in keyset.keys}
            if len(keyset.keys) == 1:
                keys[None] = keyset.keys[0]
            self._keys = keys
            self._fetched = time.monotonic()

    async def aclose(self) -> None:
        await self._client.aclose()


class JwtAuthenticator:
    method = "jwt"

    def __init__(self, settings: Settings, jwks: JwksCache) -> None:
        assert settings.jwt_issuer
        assert settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.algorithms = list(settings.jwt_algorithms)
        self.roles_claim = settings.jwt_roles_claim.split(".")
        self.leeway = settings.jwt_leeway_s
        self.jwks = jwks

    async def authenticate(self, token: str | None) -> Principal:
        if token is None:
            raise AuthError("missing", "a bearer token is required (Authorization: Bearer)")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed_token", "the bearer token is not a JWT") from None
        if header.get("alg") not in self.algorithms:
            raise AuthError("bad_algorithm", f"token algorithm must be one of {self.algorithms}")
        key = await self.jwks.key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("expired", "the token has expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError("bad_audience", "the token is not for this audience") from None
        except jwt.InvalidIssuerError:
            raise AuthError("bad_issuer", "the token is not from the configured issuer") from None
        except jwt.PyJWTError as exc:
            raise AuthError("invalid_token", f"the token is not valid: {exc}") from None
        return Principal(str(claims["sub"]), self._roles(claims), self.method)

    def _roles(self, claims: dict[str, Any]) -> frozenset[str]:
        value: Any = claims
        for part in self.roles_claim:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            return frozenset(value.split())
        if isinstance(value, list):
            return frozenset(str(v) for v in value)
        return frozenset()


class NoAuthenticator:
    """Explicit ``STRATUS_AUTH_MODE=disabled`` (local runs): everyone has every role."""

    method = "disabled"

    async def authenticate(self, token: str | None) -> Principal:
        return Principal("anonymous", ROLES, self.method)


def build_authenticator(settings: Settings) -> Authenticator:
    if settings.auth_mode is AuthMode.DISABLED:
        return NoAuthenticator()
    if settings.auth_mode is AuthMode.JWT:
        assert settings.jwt_jwks_url
        return JwtAuthenticator(settings, JwksCache(settings.jwt_jwks_url, settings.jwks_cache_s))
    entries: list[ApiKeyEntry] = []
    if settings.api_keys is not None:
        entries += parse_key_entries(settings.api_keys.get_secret_value(), "STRATUS_API_KEYS")
    if settings.api_keys_file is not None:
        raw = settings.api_keys_file.read_bytes()
        entries += parse_key_entries(raw, f"STRATUS_API_KEYS_FILE={settings.api_keys_file}")
    return ApiKeyAuthenticator(entries)


def new_key_entry(name: str, roles: list[str]) -> tuple[str, dict[str, Any]]:
    """A fresh random key and the entry to configure for it."""
    import secrets

    key = "stk_" + secrets.token_urlsafe(32)
    entry = ApiKeyEntry(name=name, sha256=hash_key(key), roles=frozenset(roles))
    if entry.roles - ROLES:
        raise ConfigError(f"unknown role(s) {sorted(entry.roles - ROLES)}; use {sorted(ROLES)}")
    return key, orjson.loads(entry.model_dump_json())
