from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.conftest import invoke, write_config
from training.config import DEFAULT_CONFIG, load_config
from training.errors import ConfigError


def test_default_config_is_the_bundled_breast_cancer_logistic_regression(workspace: Path) -> None:
    config = load_config()
    assert config.data.source == "default"
    assert config.model.estimator == "logistic_regression"
    assert config.registry.model_name == "stratus-classifier"
    assert config.publish.stores == [".stratus/model-store"]
    assert config.primary_metric == "roc_auc"


def test_environment_overrides_yaml_and_cli_overrides_environment(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRATUS_TRAINING_MODEL__ESTIMATOR", "random_forest")
    monkeypatch.setenv("STRATUS_TRAINING_MODEL__PARAMS", '{"n_estimators": 5}')
    monkeypatch.setenv("STRATUS_TRAINING_PUBLISH__STORES", '["s3://models/a", "az://models/b"]')
    monkeypatch.setenv("STRATUS_TRAINING_SEED", "7")
    config = load_config(DEFAULT_CONFIG)
    assert config.model.estimator == "random_forest"
    assert config.model.params == {"n_estimators": 5}
    assert config.publish.stores == ["s3://models/a", "az://models/b"]
    assert config.seed == 7
    # the rest of the YAML section is kept (deep merge), CLI flags win over the environment
    assert config.model.search.cv == 3
    assert load_config(None, {"seed": 11}).seed == 11


def test_config_hash_changes_with_the_config(workspace: Path) -> None:
    assert load_config().config_hash() == load_config().config_hash()
    assert load_config().config_hash() != load_config(None, {"seed": 1}).config_hash()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"model": {"estimator": "svm"}}, "model.estimator: Input should be"),
        (
            {"model": {"search": {"cv": 1}}},
            "model.search.cv: Input should be greater than or equal to 2",
        ),
        ({"split": {"test_size": 1.5}}, "split.test_size: Input should be less than 1"),
        ({"modle": {}}, "modle: unknown key"),
        ({"gate": {"min": {"rmse": 1.0}}}, "gate.min.rmse: unknown classification metric"),
        ({"model": {"estimator": "ridge"}}, "estimator 'ridge' is not available for task"),
        ({"data": {"source": "synthetic:lots"}}, "synthetic source needs a positive row count"),
    ],
)
def test_invalid_config_names_the_key(workspace: Path, override: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(workspace, override))
    assert message in str(caught.value)


def test_invalid_environment_value_names_the_key(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRATUS_TRAINING_VALIDATION__MIN_ROWS", "many")
    with pytest.raises(ConfigError, match=r"validation\.min_rows: Input should be a valid integer"):
        load_config()


def test_missing_or_malformed_config_file(workspace: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.yaml"):
        load_config(workspace / "nope.yaml")
    broken = workspace / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(broken)
    listing = workspace / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(listing)


def test_cli_invalid_config_exits_nonzero_and_changes_nothing(workspace: Path) -> None:
    config = write_config(workspace, {"model": {"search": {"kind": "exhaustive"}}})
    result = invoke(["run", "--config", str(config)])
    assert result.exit_code == 1
    assert "model.search.kind" in result.output
    assert "error:" in result.output
    assert not (workspace / ".stratus").exists()


def test_cli_unknown_estimator_parameter_is_a_config_error(workspace: Path) -> None:
    config = write_config(workspace, {"model": {"params": {"max_depth": 3}}})
    result = invoke(["run", "--config", str(config)])
    assert result.exit_code == 1
    assert "model.params: logistic_regression has no parameter(s) max_depth" in result.output
    assert not (workspace / ".stratus" / "mlflow.db").exists()
    assert not (workspace / ".stratus" / "model-store").exists()


def test_free_form_maps_are_replaced_whole_by_a_higher_source(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sections merge key by key; ``model.params`` & co. are replaced (an estimator chosen in the
    environment must not inherit the YAML's ``max_iter``)."""
    monkeypatch.setenv("STRATUS_TRAINING_MODEL__ESTIMATOR", "random_forest")
    monkeypatch.setenv("STRATUS_TRAINING_MODEL__PARAMS", '{"n_estimators": 5}')
    monkeypatch.setenv("STRATUS_TRAINING_GATE__MIN", '{"f1": 0.5}')
    config = load_config()
    assert config.model.params == {"n_estimators": 5}
    assert config.gate.min == {"f1": 0.5}
    assert config.gate.tolerance == 0.01  # the rest of the YAML's gate section is kept
    overridden = load_config(None, {"model": {"params": {"max_depth": 3}}})
    assert overridden.model.params == {"max_depth": 3}
    assert overridden.model.estimator == "random_forest"


def test_malformed_json_in_the_environment_is_a_config_error(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRATUS_TRAINING_PUBLISH__STORES", "[not json")
    with pytest.raises(ConfigError, match=r"invalid STRATUS_TRAINING_\* environment variable"):
        load_config()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"features": {"max_categories": 1}},
            "features.max_categories: Input should be greater than or equal to 2",
        ),
        ({"gate": {"drift_tolerance": -0.1}}, "gate.drift_tolerance: Input should be greater"),
        ({"registry": {"lock_lease_s": 0}}, "registry.lock_lease_s: Input should be greater"),
        (
            {
                "data": {"source": "sklearn:diabetes", "positive_label": 1},
                "model": {"task": "regression", "estimator": "ridge", "search": {"space": {}}},
                "gate": {"min": {}, "primary_metric": "rmse"},
            },
            "data.positive_label: only classification targets have classes",
        ),
    ],
)
def test_new_keys_are_validated(workspace: Path, override: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(workspace, override))
    assert message in str(caught.value)


def test_the_default_config_names_the_positive_class(workspace: Path) -> None:
    assert load_config().data.positive_label == 0  # malignant, in the bundled dataset
