"""A test identity provider: locally generated signing keys, tokens, and a real JWKS endpoint
on 127.0.0.1 that can be told to fail or to hang."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from app.core.config import Settings

ISSUER = "https://issuer.test/"
AUDIENCE = "stratus-inference"


class Issuer:
    """An RSA signing key (``kid`` ``k1``), an EC one (``ec1``) and their JWKS."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "k1"
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.publish_ec = False
        self.fetches = 0

    def jwks(self) -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        keys = [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]
        if self.publish_ec:
            ec_public = ECAlgorithm.to_jwk(self.ec_key.public_key(), as_dict=True)
            keys.append({**ec_public, "kid": "ec1", "use": "sig", "alg": "ES256"})
        return {"keys": keys}

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            self.fetches += 1
            return httpx.Response(200, json=self.jwks())

        return httpx.MockTransport(handler)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "alice",
            "iat": now,
            "exp": now + 300,
            "realm_access": {"roles": ["predict"]},
        }
        body.update(overrides)
        return {k: v for k, v in body.items() if v is not None}

    def token(self, *, kid: str | None = None, **claims: Any) -> str:
        return jwt.encode(
            self.claims(**claims), self.key, algorithm="RS256", headers={"kid": kid or self.kid}
        )

    def ec_token(self, **claims: Any) -> str:
        return jwt.encode(self.claims(**claims), self.ec_key, "ES256", headers={"kid": "ec1"})


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


class IdentityProvider:
    """A real HTTP JWKS endpoint. ``mode``: ``serve`` (200 with the issuer's JWKS), ``fail``
    (500) or ``hang`` (accept the request and answer nothing until closed)."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self.mode = "serve"
        self.requests = 0
        self.pending = 0
        self._lock = threading.Lock()
        self._release = threading.Event()
        #: set once a request is being held in ``hang`` mode
        self.hanging = threading.Event()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with provider._lock:
                    provider.requests += 1
                    mode = provider.mode
                if mode == "hang":
                    with provider._lock:
                        provider.pending += 1
                    provider.hanging.set()
                    provider._release.wait(120)
                    with provider._lock:
                        provider.pending -= 1
                    return
                status, body = (
                    (200, json.dumps(provider.issuer.jwks()).encode())
                    if mode == "serve"
                    else (500, b'{"error": "internal"}')
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/realms/internal/jwks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def identity_provider(issuer: Issuer) -> Iterator[IdentityProvider]:
    provider = IdentityProvider(issuer)
    provider.start()
    try:
        yield provider
    finally:
        provider.close()
