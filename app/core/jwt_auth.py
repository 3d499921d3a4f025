"""OAuth 2.0 bearer JWTs verified against the issuer's JWKS (``STRATUS_AUTH_MODE=jwt``).

Its own module so that PyJWT, cryptography and httpx are imported only by workers that verify
JWTs (``app.core.security.build_authenticator`` imports it then).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from app.core.config import Settings
from app.core.security import AuthError, Principal

logger = logging.getLogger("stratus.auth")


#: algorithms a JWK without an ``alg`` member may verify, by key type (``EC`` keys: their curve's)
_KEY_TYPE_ALGORITHMS = {
    "RSA": frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
    "OKP": frozenset({"EdDSA"}),
}


@dataclass(frozen=True)
class SigningKey:
    """A verification key from the JWKS and the algorithms it may verify."""

    jwk: jwt.PyJWK
    algorithms: frozenset[str]


def signing_keys(document: Any) -> dict[str | None, SigningKey]:
    """The usable signature keys of a JWKS document, by ``kid`` (``None`` for a lone key).

    A key that declares ``alg`` verifies only that algorithm; one that does not, the algorithms
    of its key type. Symmetric (``oct``) keys are dropped: a key published in a JWKS is public,
    so an HMAC secret there would let anyone sign. So are encryption keys and unusable entries.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the JWKS document has no 'keys' array")
    keys: list[SigningKey] = []
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("kty") == "oct":
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            jwk = jwt.PyJWK(entry)
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
        declared = entry.get("alg")
        if isinstance(declared, str):
            algorithms = frozenset({declared})
        else:
            algorithms = _KEY_TYPE_ALGORITHMS.get(
                str(jwk.key_type), frozenset({jwk.algorithm_name})
            )
        keys.append(SigningKey(jwk, algorithms))
    if not keys:
        raise ValueError("the JWKS document holds no usable signature keys")
    by_kid: dict[str | None, SigningKey] = {k.jwk.key_id: k for k in keys}
    if len(keys) == 1:
        by_kid[None] = keys[0]
    return by_kid


class JwksCache:
    """The issuer's signing keys, fetched with httpx; never makes a request wait on a slow issuer
    when the keys it needs are cached.

    * A known ``kid`` is answered from the cache at once. When the cache is older than ``ttl_s``
      a refresh starts in the background; until it succeeds the cached keys keep serving.
    * An unknown ``kid`` (key rotation) waits for a refresh; requests share the one refresh in
      flight (single flight), and fetches for unknown kids are at least ``min_interval_s`` apart
      so a spray of made-up kids cannot turn into a fetch per request.
    * After a failed fetch the next one waits ``1, 2, 4, ...`` seconds (at most ``backoff_max_s``);
      during that time an unknown ``kid`` is refused at once.
    * A refresh is a task of its own: a request that gives up (its timeout) does not cancel it.
    Fetch errors, which name the issuer's URL, are logged and never shown to clients.
    """

    def __init__(
        self,
        url: str,
        ttl_s: float,
        client: httpx.AsyncClient | None = None,
        *,
        timeout_s: float = 5.0,
        backoff_max_s: float = 60.0,
        min_interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.ttl_s = ttl_s
        self.backoff_max_s = backoff_max_s
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._client = client or httpx.AsyncClient(timeout=timeout_s)
        self._keys: dict[str | None, SigningKey] = {}
        self._fetched: float | None = None  # clock time of the last successful fetch
        self._failures = 0
        self._not_before = 0.0  # no fetch before this clock time (back-off)
        self._refreshing: asyncio.Task[None] | None = None
        self.fetches = 0

    async def key(self, kid: str | None) -> SigningKey:
        known = self._keys.get(kid)
        if known is not None:
            if self._stale():
                self._start_refresh()  # in the background: this request does not wait
            return known
        refresh = self._refreshing or self._start_refresh(unknown_kid=True)
        if refresh is not None:
            await asyncio.shield(refresh)  # the fetch outlives a request that stops waiting
            known = self._keys.get(kid)
            if known is not None:
                return known
        if not self._keys:
            raise AuthError("jwks_unavailable", "the token cannot be verified now; retry later")
        raise AuthError("unknown_kid", "the token's signing key is not in the issuer's JWKS")

    def _stale(self) -> bool:
        return self._fetched is None or self._clock() - self._fetched > self.ttl_s

    def _start_refresh(self, *, unknown_kid: bool = False) -> asyncio.Task[None] | None:
        if self._refreshing is not None:
            return self._refreshing
        now = self._clock()
        if now < self._not_before:
            return None  # backing off after a failure
        if unknown_kid and self._fetched is not None and now - self._fetched < self.min_interval_s:
            return None  # fetched a moment ago: the kid is not there
        self._refreshing = asyncio.get_running_loop().create_task(
            self._refresh(), name="stratus-jwks-refresh"
        )
        return self._refreshing

    async def _refresh(self) -> None:
        self.fetches += 1
        try:
            response = await self._client.get(self.url)
            response.raise_for_status()
            keys = signing_keys(response.json())
        except Exception as exc:  # any failure: keep the keys we have, back off, log the cause
            self._failures += 1
            delay = min(self.backoff_max_s, 2.0 ** (self._failures - 1))
            self._not_before = self._clock() + delay
            logger.warning(
                "JWKS fetch failed; serving cached keys",
                extra={
                    "jwks_url": self.url,
                    "error": f"{type(exc).__name__}: {exc}",
                    "cached_keys": len(self._keys),
                    "retry_in_s": delay,
                },
            )
        else:
            self._keys = keys
            self._fetched = self._clock()
            self._failures = 0
            self._not_before = 0.0
        finally:
            self._refreshing = None

    async def aclose(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
        await self._client.aclose()


class JwtAuthenticator:
    method = "jwt"
    may_wait = True  # for the issuer's JWKS

    def __init__(self, settings: Settings, jwks: JwksCache) -> None:
        assert settings.jwt_issuer
        assert settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.algorithms = frozenset(settings.jwt_algorithms)
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
        algorithm = header.get("alg")
        kid = header.get("kid")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise AuthError(
                "bad_algorithm", f"token algorithm must be one of {sorted(self.algorithms)}"
            )
        if kid is not None and not isinstance(kid, str):
            raise AuthError("malformed_token", "the token's 'kid' is not a string")
        key = await self.jwks.key(kid)
        if algorithm not in key.algorithms:
            raise AuthError("bad_algorithm", "the token's algorithm does not match its signing key")
        try:
            claims = jwt.decode(
                token,
                key.jwk.key,
                algorithms=[algorithm],
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
        except Exception:  # a key the crypto library refuses for this token: still just invalid
            raise AuthError("invalid_token", "the token is not valid") from None
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
