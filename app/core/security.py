"""Authentication: hashed API keys or OAuth 2.0 bearer JWTs (JWKS), and role checks.

API keys are high-entropy random tokens, so the service stores and compares only their SHA-256
digests (``hmac.compare_digest`` over every configured key, so timing reveals nothing). The key
list comes from ``STRATUS_API_KEYS`` (JSON) or the mounted file ``STRATUS_API_KEYS_FILE``:
``[{"name": "ci", "sha256": "<hex digest>", "roles": ["predict"]}]``. ``python -m app.keys``
makes a new key and its entry. JWTs are verified by ``app.core.jwt_auth``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

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


def _location(loc: Iterable[int | str]) -> str:
    """Where a problem is, naming only list positions and known fields: a misplaced key (say, a
    plain key used as a field name) must not reach a log through an error message."""
    parts = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif part in ApiKeyEntry.model_fields:
            parts.append(f".{part}")
        else:
            parts.append(".<unknown field>")
    return "entry" + "".join(parts) if parts else "the list"


def parse_key_entries(raw: bytes | str, where: str) -> list[ApiKeyEntry]:
    """Validate a JSON key list. Errors name the position and the rule, never the value: the
    value may be a plain key pasted where its digest belongs."""
    try:
        entries = _ENTRIES.validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_location(error['loc'])}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False, include_context=False)
        )
        raise ConfigError(f"{where} is not a valid API key list: {problems}") from None
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
    #: whether authenticating can wait on something outside the process (an identity provider)
    may_wait: bool

    async def authenticate(self, token: str | None) -> Principal: ...


T = TypeVar("T")


def match_digest(digest: bytes, stored: Sequence[tuple[bytes, T]]) -> T | None:
    """The value stored with ``digest``, or None.

    Every stored digest is compared, with ``hmac.compare_digest`` and without an early exit, so
    the time taken depends on neither which entry matches nor how much of a digest does.
    """
    found: T | None = None
    for candidate, value in stored:
        if hmac.compare_digest(digest, candidate):
            found = value
    return found


class ApiKeyAuthenticator:
    method = "api-key"
    may_wait = False

    def __init__(self, entries: list[ApiKeyEntry]) -> None:
        self._entries = [(bytes.fromhex(e.sha256), e) for e in entries]

    async def authenticate(self, token: str | None) -> Principal:
        if token is None:
            raise AuthError(
                "missing", "an API key is required (X-API-Key or Authorization: Bearer)"
            )
        found = match_digest(hashlib.sha256(token.encode()).digest(), self._entries)
        if found is None:
            raise AuthError("invalid_key", "the API key is not valid")
        return Principal(found.name, found.roles, self.method)


class NoAuthenticator:
    """Explicit ``STRATUS_AUTH_MODE=disabled`` (local runs): everyone has every role."""

    method = "disabled"
    may_wait = False

    async def authenticate(self, token: str | None) -> Principal:
        return Principal("anonymous", ROLES, self.method)


def build_authenticator(settings: Settings) -> Authenticator:
    if settings.auth_mode is AuthMode.DISABLED:
        return NoAuthenticator()
    if settings.auth_mode is AuthMode.JWT:
        # imported here: PyJWT (with cryptography) and httpx (with its CLI's rich and pygments)
        # are only needed for JWTs, and cost every API-key worker start-up time and memory
        from app.core.jwt_auth import JwksCache, JwtAuthenticator

        assert settings.jwt_jwks_url
        jwks = JwksCache(
            settings.jwt_jwks_url,
            settings.jwks_cache_s,
            timeout_s=settings.jwks_timeout_s,
            backoff_max_s=settings.jwks_backoff_max_s,
        )
        return JwtAuthenticator(settings, jwks)
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
