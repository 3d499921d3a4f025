"""Typed pipeline configuration: YAML file → environment overrides → CLI overrides, validated once.

Precedence (highest first): CLI flags of ``python -m training run``, environment variables
``STRATUS_TRAINING_<SECTION>__<KEY>`` (e.g. ``STRATUS_TRAINING_MODEL__ESTIMATOR=random_forest``,
``STRATUS_TRAINING_PUBLISH__STORES='["s3://models/stratus"]'``), the YAML file, the defaults below.
Every invalid value is reported with its full dotted key (``model.search.cv``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from training.errors import ConfigError

ENV_PREFIX = "STRATUS_TRAINING_"
ENV_NESTED_DELIMITER = "__"
DEFAULT_CONFIG = Path(__file__).parent / "configs" / "default.yaml"
DEFAULT_MODEL_NAME = "stratus-classifier"

Task = Literal["classification", "regression"]
EstimatorName = Literal[
    "logistic_regression",
    "ridge",
    "random_forest",
    "gradient_boosting",
    "hist_gradient_boosting",
]

#: Metrics per task and whether higher is better.
METRICS: dict[Task, dict[str, bool]] = {
    "classification": {
        "accuracy": True,
        "precision": True,
        "recall": True,
        "f1": True,
        "roc_auc": True,
    },
    "regression": {"rmse": False, "mae": False, "r2": True},
}
ESTIMATORS: dict[Task, set[str]] = {
    "classification": {
        "logistic_regression",
        "random_forest",
        "gradient_boosting",
        "hist_gradient_boosting",
    },
    "regression": {"ridge", "random_forest", "gradient_boosting", "hist_gradient_boosting"},
}

#: Estimators that accept NaN in their input, so imputation may be switched off for them.
NAN_NATIVE_ESTIMATORS = frozenset({"hist_gradient_boosting", "random_forest"})


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RangeSpec(Section):
    """Allowed closed interval of a numeric column (either bound optional)."""

    min: float | None = None
    max: float | None = None


class DataConfig(Section):
    source: str = Field(
        "default",
        description="default | sklearn:breast_cancer | sklearn:diabetes | synthetic:<rows> | "
        "a CSV/Parquet path or URL (file://, s3://, az://, abfs://)",
    )
    format: Literal["auto", "csv", "parquet"] = "auto"
    target: str = "target"
    features: list[str] | None = Field(None, description="feature columns; default all but target")
    categorical: list[str] = Field(default_factory=list, description="categorical feature columns")
    synthetic_features: int = Field(20, ge=2, le=1000)

    @field_validator("source")
    @classmethod
    def _source_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        if value.startswith("synthetic:"):
            rows = value.removeprefix("synthetic:")
            if not rows.isdigit() or int(rows) < 1:
                raise ValueError(f"synthetic source needs a positive row count, got {value!r}")
        return value


class ValidationConfig(Section):
    min_rows: int = Field(50, ge=1)
    max_null_fraction: float = Field(
        0.0, ge=0.0, le=1.0, description="largest allowed share of missing values per feature"
    )
    max_duplicate_fraction: float = Field(
        0.0, ge=0.0, le=1.0, description="largest allowed share of fully duplicated rows"
    )
    min_class_count: int = Field(
        2, ge=1, description="classification: rows needed of every class (for stratified split)"
    )
    ranges: dict[str, RangeSpec] = Field(default_factory=dict)


class LandConfig(Section):
    processed_url: str = ".stratus/data-lake/processed"


class SplitConfig(Section):
    test_size: float = Field(0.2, gt=0.0, lt=1.0)


DerivedKind = Literal["ratio", "product", "sum", "difference", "log1p"]


class DerivedFeature(Section):
    name: str
    kind: DerivedKind
    columns: list[str] = Field(min_length=1, max_length=2)

    @model_validator(mode="after")
    def _arity(self) -> DerivedFeature:
        needed = 1 if self.kind == "log1p" else 2
        if len(self.columns) != needed:
            raise ValueError(f"{self.kind} takes {needed} column(s), got {len(self.columns)}")
        return self


class FeaturesConfig(Section):
    numeric_imputer: Literal["mean", "median", "most_frequent", "none"] = Field(
        "median",
        description="none: leave NaN to the estimator (hist_gradient_boosting, random_forest)",
    )
    scale: bool = True
    derived: list[DerivedFeature] = Field(default_factory=list)


class SearchConfig(Section):
    kind: Literal["none", "grid", "random"] = "grid"
    space: dict[str, list[Any]] = Field(default_factory=dict)
    n_iter: int = Field(10, ge=1, description="random search: candidates drawn")
    cv: int = Field(3, ge=2, le=20)

    @field_validator("space")
    @classmethod
    def _non_empty_lists(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, options in value.items():
            if not options:
                raise ValueError(f"search space for {key!r} is an empty list")
        return value


class ModelConfig(Section):
    task: Task = "classification"
    estimator: EstimatorName = "logistic_regression"
    params: dict[str, Any] = Field(default_factory=dict, description="fixed estimator parameters")
    search: SearchConfig = Field(default_factory=SearchConfig)
    n_jobs: int = Field(-1, description="parallel workers for search / forests (-1 = all cores)")

    @model_validator(mode="after")
    def _estimator_fits_task(self) -> ModelConfig:
        if self.estimator not in ESTIMATORS[self.task]:
            allowed = ", ".join(sorted(ESTIMATORS[self.task]))
            raise ValueError(
                f"estimator {self.estimator!r} is not available for task {self.task!r} "
                f"(choose one of: {allowed})"
            )
        return self


class GateConfig(Section):
    primary_metric: str | None = Field(None, description="default: roc_auc / rmse by task")
    min: dict[str, float] = Field(default_factory=dict, description="metric ≥ value required")
    max: dict[str, float] = Field(default_factory=dict, description="metric ≤ value required")
    tolerance: float = Field(
        0.01, ge=0.0, description="how much worse than the champion the candidate may be"
    )
    compare_with_champion: bool = True


class RegistryConfig(Section):
    model_name: str = Field(DEFAULT_MODEL_NAME, min_length=1)
    experiment: str = Field("stratus-training", min_length=1)
    tracking_uri: str | None = Field(
        None, description="default sqlite:///<workdir>/mlflow.db; MLFLOW_TRACKING_URI wins"
    )


class PublishConfig(Section):
    stores: list[str] = Field(default_factory=lambda: [".stratus/model-store"])


class TrainingConfig(BaseSettings):
    """The whole pipeline configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
        case_sensitive=False,
    )

    seed: int = 42
    workdir: str = Field(".stratus", description="local state: MLflow db/artifacts, data lake")
    data: DataConfig = Field(default_factory=DataConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    land: LandConfig = Field(default_factory=LandConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment values are merged explicitly in ``load_config`` (so that they sit between the
        # YAML file and CLI flags); constructing the model only validates what it is given.
        return (init_settings,)

    @model_validator(mode="after")
    def _metrics_fit_task(self) -> TrainingConfig:
        known = METRICS[self.model.task]
        for section, names in (("gate.min", self.gate.min), ("gate.max", self.gate.max)):
            for name in names:
                if name not in known:
                    raise ValueError(
                        f"{section}.{name}: unknown {self.model.task} metric "
                        f"(choose from: {', '.join(known)})"
                    )
        if self.gate.primary_metric is not None and self.gate.primary_metric not in known:
            raise ValueError(
                f"gate.primary_metric: unknown {self.model.task} metric "
                f"{self.gate.primary_metric!r} (choose from: {', '.join(known)})"
            )
        if (
            self.features.numeric_imputer == "none"
            and self.model.estimator not in NAN_NATIVE_ESTIMATORS
        ):
            raise ValueError(
                f"features.numeric_imputer: 'none' needs an estimator that handles missing values "
                f"itself ({', '.join(sorted(NAN_NATIVE_ESTIMATORS))}), not {self.model.estimator!r}"
            )
        if self.model.task == "regression" and self.data.source in ("default",):
            raise ValueError(
                "data.source: the default dataset is a classification dataset; "
                "use sklearn:diabetes or your own data for regression"
            )
        return self

    @property
    def primary_metric(self) -> str:
        default = "roc_auc" if self.model.task == "classification" else "rmse"
        return self.gate.primary_metric or default

    def higher_is_better(self, metric: str) -> bool:
        return METRICS[self.model.task][metric]

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of the effective config (recorded on every model)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def resolve(self, path: str) -> str:
        """A store/data URL as given, or a local path made absolute (relative to the cwd)."""
        if "://" in path or path.startswith("synthetic:") or path.startswith("sklearn:"):
            return path
        if path == "default":
            return path
        return str(Path(path).expanduser().resolve())


#: Free-form mappings: an override replaces them whole (estimator params of another estimator
#: must not inherit the YAML's), while config sections merge key by key.
REPLACED_MAPPINGS = frozenset(
    {"model.params", "model.search.space", "validation.ranges", "gate.min", "gate.max"}
)


def deep_merge(
    base: Mapping[str, Any], override: Mapping[str, Any], _prefix: str = ""
) -> dict[str, Any]:
    """``override`` merged into ``base``: sections merge recursively, everything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        dotted = f"{_prefix}{key}"
        if (
            isinstance(current, Mapping)
            and isinstance(value, Mapping)
            and dotted not in REPLACED_MAPPINGS
        ):
            merged[key] = deep_merge(current, value, f"{dotted}.")
        else:
            merged[key] = value
    return merged


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping, got {type(data).__name__}")
    return data


def environment_overrides() -> dict[str, Any]:
    """Values of ``STRATUS_TRAINING_*`` variables, nested by ``__`` (read by pydantic-settings)."""
    source = EnvSettingsSource(
        TrainingConfig,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        case_sensitive=False,
    )
    try:
        return dict(source())
    except Exception as exc:  # pydantic-settings raises SettingsError for malformed JSON values
        raise ConfigError(f"invalid {ENV_PREFIX}* environment variable: {exc}") from None


def load_config(
    path: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> TrainingConfig:
    """The validated config from ``path`` (default ``configs/default.yaml``), env and overrides."""
    config_path = path or DEFAULT_CONFIG
    data = deep_merge(read_yaml(config_path), environment_overrides())
    data = deep_merge(data, overrides or {})
    try:
        return TrainingConfig(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, config_path)) from None


def format_validation_error(exc: ValidationError, path: Path) -> str:
    lines = [f"invalid config {path} ({exc.error_count()} problems):"]
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        given = error.get("input")
        shown = (
            ""
            if isinstance(given, dict | list) or error["type"] == "missing"
            else f" (got {given!r})"
        )
        lines.append(f"  - {key or '<root>'}: {message}{shown}")
    return "\n".join(lines)
