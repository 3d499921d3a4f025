"""The rollout plan, exhaustively: steps and their order, the flip point, what each failure
restores, rollback plans, and requests that cannot be planned."""

from __future__ import annotations

import pytest

from infra.rollout.edges import read_state
from infra.rollout.plan import (
    PlanError,
    RolloutRequest,
    SetConfig,
    Smoke,
    Up,
    WaitAvailable,
    plan_rollback,
    plan_rollout,
)
from tests.platform.rollout.fakes import initial_config, state_of


def _state(cloud: str = "aws", **config: object):  # type: ignore[no-untyped-def]
    values = {**initial_config(), **{f"stratus:apps.api.{k}": v for k, v in config.items()}}
    return state_of(cloud, f"{cloud}-prod-apps", values)  # type: ignore[arg-type]


def test_rollout_steps_on_the_idle_colour_then_flip() -> None:
    plan = plan_rollout(RolloutRequest("prod", "2.0.0", clouds=("aws",)), [_state()])
    (cloud,) = plan.clouds
    kinds = [type(step.action) for step in cloud.steps]
    assert kinds == [SetConfig, Up, WaitAvailable, Smoke, SetConfig, Up, WaitAvailable, Smoke]
    first = cloud.steps[0].action
    assert isinstance(first, SetConfig)
    assert dict(first.values) == {
        "stratus:apps.api.green.image": "2.0.0",
        "stratus:apps.api.green.model.name": "stratus-classifier",
        "stratus:apps.api.green.model.alias": "champion",
        "stratus:apps.api.green.model.version": None,
    }
    assert cloud.steps[3].action == Smoke("ml-api-preview", None)
    assert cloud.steps[cloud.flip_index].action == SetConfig(
        (("stratus:apps.api.activeColour", "green"),)
    )
    assert cloud.steps[6].action == WaitAvailable("ml-api-green", 3)
    assert cloud.steps[7].action == Smoke("ml-api", None)


def test_the_idle_colour_is_whichever_is_not_active() -> None:
    plan = plan_rollout(
        RolloutRequest("prod", "2.0.0", clouds=("aws",)), [_state(activeColour="green")]
    )
    first = plan.clouds[0].steps[0].action
    assert isinstance(first, SetConfig)
    assert first.values[0] == ("stratus:apps.api.blue.image", "2.0.0")
    assert plan.clouds[0].steps[4].action == SetConfig((("stratus:apps.api.activeColour", "blue"),))


def test_a_model_version_replaces_the_alias_and_is_expected_by_the_smoke_tests() -> None:
    plan = plan_rollout(
        RolloutRequest("prod", "2.0.0", model_version=7, clouds=("aws",)), [_state()]
    )
    first = plan.clouds[0].steps[0].action
    assert isinstance(first, SetConfig)
    values = dict(first.values)
    assert values["stratus:apps.api.green.model.version"] == 7
    assert values["stratus:apps.api.green.model.alias"] is None
    smokes = [s.action for s in plan.clouds[0].steps if isinstance(s.action, Smoke)]
    assert [s.expected_version for s in smokes] == ["7", "7"]


def test_restores_put_back_what_was_there() -> None:
    state = _state(**{"green.image": "1.5.0"})
    cloud = plan_rollout(RolloutRequest("prod", "2.0.0", clouds=("aws",)), [state]).clouds[0]
    before = cloud.restore_before_flip[0].action
    assert isinstance(before, SetConfig)
    assert dict(before.values)["stratus:apps.api.green.image"] == "1.5.0"
    assert isinstance(cloud.restore_before_flip[1].action, Up)
    assert cloud.restore_after_flip[0].action == SetConfig(
        (("stratus:apps.api.activeColour", "blue"),)
    )


def test_clouds_run_in_the_requested_order() -> None:
    states = [_state("aws"), _state("azure")]
    plan = plan_rollout(RolloutRequest("prod", "2.0.0", clouds=("azure", "aws")), states)
    assert [c.cloud for c in plan.clouds] == ["azure", "aws"]


def test_rollback_flips_to_the_idle_colour_after_checking_it() -> None:
    plan = plan_rollback("prod", ("aws",), [_state()])
    (cloud,) = plan.clouds
    assert cloud.steps[0].action == WaitAvailable("ml-api-green", 1)
    assert cloud.steps[1].action == Smoke("ml-api-preview", None)
    assert cloud.steps[cloud.flip_index].action == SetConfig(
        (("stratus:apps.api.activeColour", "green"),)
    )
    assert cloud.restore_before_flip == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image": "latest"}, "immutable tag or a sha256"),
        ({"image": "sha256:1234"}, "immutable tag or a sha256"),
        ({"image": "2.0.0", "model_version": 0}, "positive registry version"),
        ({"image": "2.0.0", "clouds": ("aws", "aws")}, "name each cloud once"),
        ({"image": "2.0.0", "clouds": ()}, "name each cloud once"),
    ],
)
def test_bad_requests_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        RolloutRequest("prod", **kwargs)  # type: ignore[arg-type]


def test_a_stack_with_no_idle_pod_cannot_be_rolled_out_or_back() -> None:
    state = _state()
    from dataclasses import replace

    empty = replace(state, idle_replicas=0)
    with pytest.raises(PlanError, match="idleReplicas is 0"):
        plan_rollout(RolloutRequest("prod", "2.0.0", clouds=("aws",)), [empty])
    with pytest.raises(PlanError, match="nothing to roll back to"):
        plan_rollback("prod", ("aws",), [empty])


def test_a_missing_cloud_state_is_refused() -> None:
    with pytest.raises(PlanError, match="no -apps stack state for azure"):
        plan_rollout(RolloutRequest("prod", "2.0.0"), [_state("aws")])


def test_state_is_read_from_the_shipped_stack_files() -> None:
    state = read_state("aws", "prod")
    assert state.stack == "aws-prod-apps"
    assert state.active == "blue"
    assert state.colours["green"].image == "0.1.0"
    assert state.colours["green"].model_alias == "champion"
    assert (state.idle_replicas, state.min_replicas) == (1, 3)
