"""Typed service settings, read once from ``STRATUS_*`` environment variables and validated."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_MODEL_URI = "models:/stratus-classifier@champion"


class AuthMode(StrEnum):
    API_KEY = "api-key"
    JWT = "jwt"
    DISABLED = "disabled"


class PredictExecutor(StrEnum):
    """Where a batch's ``predict`` runs: on the event loop (fastest on one core) or a thread."""

    INLINE = "inline"
    THREAD = "thread"


class Settings(BaseSettings):
    """Every setting of the inference service (README "Inference service" documents each)."""

    model_config = SettingsConfigDict(env_prefix="STRATUS_", extra="ignore", frozen=True)

    # model source and lifecycle
    model_uri: str = Field(
        DEFAULT_MODEL_URI,
        description="models:/NAME@ALIAS (MLflow registry) or STORE_URL/NAME[@ALIAS] (bundle store)",
    )
    mlflow_tracking_uri: str | None = Field(None, description="defaults to MLFLOW_TRACKING_URI")
    rollback_alias: str = Field("previous", pattern=r"^[A-Za-z0-9_-]+$")
    watch_interval_s: float = Field(30.0, ge=0, description="0 disables the watcher")
    allow_signature_change: bool = False
    model_cache_dir: Path | None = None
    mlflow_http_retries: int = Field(1, ge=0, le=10)
    mlflow_http_timeout_s: int = Field(10, ge=1, le=600)

    # batching and overload
    max_batch_size: int = Field(256, ge=1, description="rows per predict call")
    max_batch_wait_ms: float = Field(0.0, ge=0, le=1000)
    max_queue: int = Field(1024, ge=1, description="queued requests before 503")
    request_timeout_s: float = Field(10.0, gt=0)
    predict_executor: PredictExecutor = PredictExecutor.INLINE
    max_body_bytes: int = Field(1 << 20, ge=1024)
    retry_after_s: int = Field(1, ge=1)

    # input handling
    strict_input: bool = Field(
        False,
        description="refuse unknown features and missing values the model does not take natively "
        "(default: ignore unknown features with a warning and pass missing values to the model's "
        "own imputer, like `mlflow models serve`)",
    )

    # auth
    auth_mode: AuthMode = AuthMode.API_KEY
    api_keys: SecretStr | None = Field(
        None, description="JSON list of {name, sha256, roles} (hashes, never plain keys)"
    )
    api_keys_file: Path | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_url: str | None = None
    jwt_roles_claim: str = "roles"
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["RS256"])
    jwt_leeway_s: int = Field(30, ge=0)
    jwks_cache_s: int = Field(300, ge=1)
    jwks_timeout_s: float = Field(5.0, gt=0, le=60, description="one JWKS fetch")
    jwks_backoff_max_s: float = Field(
        60.0, gt=0, le=3600, description="longest wait between failed JWKS fetches"
    )

    # observability
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    access_log: bool = True
    otlp_endpoint: str | None = Field(None, description="defaults to OTEL_EXPORTER_OTLP_ENDPOINT")
    service_name: str = "stratus-inference"

    # server (python -m app)
    host: str = "0.0.0.0"
    port: int = Field(8080, ge=1, le=65535)
    graceful_timeout_s: int = Field(30, ge=0)
    header_timeout_s: float = Field(
        10.0, gt=0, le=300, description="a connection must send a request's headers within this"
    )
    keep_alive_timeout_s: int = Field(5, ge=1, le=3600, description="idle keep-alive connection")
    limit_concurrency: int = Field(
        1024, ge=1, description="open connections or requests in progress before 503"
    )

    @model_validator(mode="before")
    @classmethod
    def _split_algorithms(cls, data: object) -> object:
        if isinstance(data, dict):
            raw = data.get("jwt_algorithms")
            if isinstance(raw, str):
                data = {**data, "jwt_algorithms": [a.strip() for a in raw.split(",") if a.strip()]}
        return data

    @model_validator(mode="after")
    def _no_shared_secret_algorithms(self) -> Settings:
        """Keys come from a JWKS URL, i.e. are public: an HMAC "key" there would be public too."""
        hmac_algorithms = [a for a in self.jwt_algorithms if a.upper().startswith("HS")]
        if hmac_algorithms:
            raise ValueError(
                f"STRATUS_JWT_ALGORITHMS: {', '.join(hmac_algorithms)} not allowed: keys come from "
                "the issuer's JWKS URL, so only asymmetric algorithms (RS*, PS*, ES*, EdDSA) apply"
            )
        if not self.jwt_algorithms:
            raise ValueError("STRATUS_JWT_ALGORITHMS must name at least one algorithm")
        return self

    @model_validator(mode="after")
    def _auth_is_complete(self) -> Settings:
        if self.auth_mode is AuthMode.API_KEY and self.api_keys is None and not self.api_keys_file:
            raise ValueError(
                "STRATUS_AUTH_MODE=api-key needs STRATUS_API_KEYS_FILE or STRATUS_API_KEYS "
                "(or set STRATUS_AUTH_MODE=disabled explicitly for a local run)"
            )
        if self.auth_mode is AuthMode.JWT:
            missing = [
                f"STRATUS_{name.upper()}"
                for name in ("jwt_issuer", "jwt_audience", "jwt_jwks_url")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"STRATUS_AUTH_MODE=jwt needs {', '.join(missing)}")
        if self.api_keys_file is not None and not self.api_keys_file.is_file():
            raise ValueError(f"STRATUS_API_KEYS_FILE={self.api_keys_file} is not a readable file")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
