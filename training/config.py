"""Typed pipeline configuration: YAML file → environment overrides → CLI overrides, validated once.

Precedence (highest first): CLI flags of ``python -m training run``, environment variables
``STRATUS_TRAINING_<SECTION>__<KEY>`` (e.g. ``STRATUS_TRAINING_MODEL__ESTIMATOR=random_forest``,
``STRATUS_TRAINING_PUBLISH__STORES='["s3://models/stratus"]'``), the YAML file, the defaults below.

The layering is pydantic-settings' own ordered sources (init kwargs → ``EnvSettingsSource`` →
``YamlConfigSettingsSource``), which merge config sections key by key. The one addition: a
free-form map (``REPLACED_MAPPINGS``, e.g. ``model.params``) given by a higher source replaces the
lower source's map whole — the YAML's ``max_iter`` must not leak into the parameters of another
estimator chosen through the environment. Every invalid value is reported with its dotted key.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)
from pydantic_settings.exceptions import SettingsError

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
#: A class label as YAML/JSON can spell it (matched against the target's values).
Label = bool | int | str

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

#: Free-form mappings: an override replaces them whole (estimator params of another estimator
#: must not inherit the YAML's), while config sections merge key by key.
REPLACED_MAPPINGS = frozenset(
    {"model.params", "model.search.space", "validation.ranges", "gate.min", "gate.max"}
)


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
    positive_label: Label | None = Field(
        None,
        description="binary classification: the class precision/recall/F1 measure "
        "(default 1 for 0/1 or True for boolean targets; required for other labels)",
    )

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
    max_cardinality: int = Field(
        1000,
        ge=2,
        description="most distinct values a categorical feature may have (an identifier column "
        "is not a category)",
    )
    ranges: dict[str, RangeSpec] = Field(default_factory=dict)


class LandConfig(Section):
    processed_url: str = ".stratus/data-lake/processed"


class SplitConfig(Section):
    test_size: float = Field(
        0.2,
        gt=0.0,
        lt=1.0,
        description="share of rows in the holdout; a row's side is decided by a hash of its "
        "content (training/split.py), so it is the same for every run and seed",
    )


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
    max_categories: int | None = Field(
        50,
        ge=2,
        description="one-hot columns per categorical feature at most (the rarest categories "
        "share one 'infrequent' column); null = one column per category",
    )
    min_frequency: int | float | None = Field(
        None,
        gt=0,
        description="categories rarer than this (a count, or a share when < 1) are grouped "
        "as infrequent",
    )


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
    drift_tolerance: float | None = Field(
        None,
        ge=0.0,
        description="how much worse than the drift reference (gate.baseline, else the best "
        "accepted version) the candidate may be; default: gate.tolerance",
    )
    baseline: float | None = Field(
        None, description="a fixed primary-metric value to bound drift against"
    )
    compare_with_champion: bool = True

    @property
    def effective_drift_tolerance(self) -> float:
        return self.tolerance if self.drift_tolerance is None else self.drift_tolerance


class RegistryConfig(Section):
    model_name: str = Field(DEFAULT_MODEL_NAME, min_length=1)
    experiment: str = Field("stratus-training", min_length=1)
    tracking_uri: str | None = Field(
        None, description="default sqlite:///<workdir>/mlflow.db; MLFLOW_TRACKING_URI wins"
    )
    lock_lease_s: float = Field(
        300.0,
        ge=1.0,
        description="lease of the per-model registry lock (renewed while held; a crashed "
        "holder's lock may be taken over once it expires)",
    )
    lock_wait_s: float = Field(
        900.0, ge=0.0, description="how long to wait for another run holding the model's lock"
    )


class PublishConfig(Section):
    stores: list[str] = Field(default_factory=lambda: [".stratus/model-store"])


#: The YAML file the next ``TrainingConfig(...)`` reads (set by ``load_config``).
_YAML_FILE: ContextVar[Path | None] = ContextVar("stratus_training_yaml_file", default=None)


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
        """CLI overrides (init kwargs) > ``STRATUS_TRAINING_*`` > the YAML file > defaults."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, _EnvSource(settings_cls)]
        yaml_file = _YAML_FILE.get()
        if yaml_file is not None:
            sources.append(_YamlSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)

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
        if self.model.task == "regression" and self.data.positive_label is not None:
            raise ValueError("data.positive_label: only classification targets have classes")
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


def _lookup(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def without_overridden_maps(data: dict[str, Any], higher: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` minus the free-form maps that ``higher`` (a higher-priority source) sets."""
    result = copy.deepcopy(data)
    for dotted in REPLACED_MAPPINGS:
        if _lookup(higher, dotted) is None:
            continue
        *parents, leaf = dotted.split(".")
        node = _lookup(result, ".".join(parents)) if parents else result
        if isinstance(node, dict):
            node.pop(leaf, None)
    return result


class _EnvSource(EnvSettingsSource):
    """``STRATUS_TRAINING_*``, whose free-form maps yield to CLI overrides'."""

    def __call__(self) -> dict[str, Any]:
        return without_overridden_maps(super().__call__(), self.current_state)


class _YamlSource(YamlConfigSettingsSource):
    """The YAML file, whose free-form maps yield to the environment's and CLI overrides'."""

    def __call__(self) -> dict[str, Any]:
        return without_overridden_maps(super().__call__(), self.current_state)


def read_yaml(path: Path) -> dict[str, Any]:
    """The YAML mapping in ``path``, or a ``ConfigError`` saying what is wrong with the file."""
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


@contextmanager
def _yaml_file(path: Path) -> Iterator[None]:
    token = _YAML_FILE.set(path)
    try:
        yield
    finally:
        _YAML_FILE.reset(token)


def load_config(
    path: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> TrainingConfig:
    """The validated config from ``path`` (default ``configs/default.yaml``), env and overrides."""
    config_path = path or DEFAULT_CONFIG
    read_yaml(config_path)  # a missing, malformed or non-mapping file is a clear error first
    try:
        with _yaml_file(config_path):
            return TrainingConfig(**dict(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, config_path)) from None
    except SettingsError as exc:  # e.g. malformed JSON in a STRATUS_TRAINING_* variable
        raise ConfigError(f"invalid {ENV_PREFIX}* environment variable: {exc}") from None


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
