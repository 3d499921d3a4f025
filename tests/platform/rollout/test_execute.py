"""The whole rollout against in-memory clouds: the happy path, failures before and after the
flip, a second cloud failing, rollback after success, restores that fail, timings."""

from __future__ import annotations

import itertools

import pytest

from infra.rollout.execute import execute
from infra.rollout.plan import CloudState, Outcome, RolloutRequest, plan_rollback, plan_rollout
from tests.platform.rollout.fakes import FakeEdges, FakeStack, initial_config, state_of

AWS, AZURE = "aws-prod-apps", "azure-prod-apps"


def _world() -> dict[str, FakeStack]:
    return {AWS: FakeStack(initial_config()), AZURE: FakeStack(initial_config())}


def _states(world: dict[str, FakeStack]) -> list[CloudState]:
    return [state_of("aws", AWS, world[AWS].config), state_of("azure", AZURE, world[AZURE].config)]


def _roll(
    world: dict[str, FakeStack], edges: FakeEdges, image: str = "2.0.0", version: int | None = None
) -> Outcome:
    plan = plan_rollout(RolloutRequest("prod", image, model_version=version), _states(world))
    ticks = itertools.count()
    return execute(plan, edges, clock=lambda: float(next(ticks)))


def _serving(edges: FakeEdges, stack: str) -> tuple[str, str]:
    return edges.serving(stack, "ml-api")


def test_happy_path_moves_both_clouds_to_the_new_image_one_after_the_other() -> None:
    world = _world()
    edges = FakeEdges(world)
    outcome = _roll(world, edges)
    assert outcome.ok, outcome.summary()
    assert outcome.done == ["aws", "azure"]
    for stack in (AWS, AZURE):
        assert world[stack].deployed["stratus:apps.api.activeColour"] == "green"
        assert _serving(edges, stack) == ("2.0.0", "3")
        # The old colour is still there, for an instant rollback.
        assert edges.serving(stack, "ml-api-preview") == ("1.0.0", "3")
        assert world[stack].ups == 2
    # One cloud at a time: every AWS call comes before the first Azure call.
    order = [stack for stack, _ in edges.calls]
    assert order.index(AZURE) > max(i for i, s in enumerate(order) if s == AWS)
    # The smoke test ran through the preview Service before the flip, the stable one after.
    aws_calls = [what for stack, what in edges.calls if stack == AWS]
    assert aws_calls.index("smoke:ml-api-preview") < aws_calls.index("smoke:ml-api")
    assert "done on aws, azure" in outcome.summary()


def test_a_new_model_version_is_served_and_checked() -> None:
    world = _world()
    edges = FakeEdges(world)
    outcome = _roll(world, edges, version=7)
    assert outcome.ok
    assert world[AWS].deployed["stratus:apps.api.green.model.version"] == 7
    assert world[AWS].deployed["stratus:apps.api.green.model.alias"] is None
    assert _serving(edges, AWS) == ("2.0.0", "7")


def test_a_failed_smoke_test_before_the_flip_restores_the_idle_colour() -> None:
    world = _world()
    edges = FakeEdges(world, fail=[(AWS, "smoke:ml-api-preview")])
    outcome = _roll(world, edges)
    assert not outcome.ok
    assert outcome.failed == "aws"
    assert outcome.restored
    # Traffic never moved; the idle colour's config is back to what it was.
    assert world[AWS].deployed["stratus:apps.api.activeColour"] == "blue"
    assert world[AWS].config["stratus:apps.api.green.image"] == "1.0.0"
    assert world[AWS].deployed["stratus:apps.api.green.image"] == "1.0.0"
    # Azure was never touched.
    assert not [c for c in edges.calls if c[0] == AZURE]
    assert outcome.untouched == ["azure"]
    statuses = [(r.name, r.status) for r in outcome.records if r.cloud == "aws"]
    assert ("flip the active colour to green", "skipped") in statuses
    assert "FAILED on aws" in outcome.summary()
    assert "aws restored to its previous colour" in outcome.summary()
    assert "azure untouched" in outcome.summary()


def test_an_image_that_never_becomes_available_is_rolled_back_before_traffic() -> None:
    world = _world()
    edges = FakeEdges(world, broken_images={"2.0.0"})
    outcome = _roll(world, edges)
    assert outcome.failed == "aws"
    assert "wait for ml-api-green" in outcome.error
    assert _serving(edges, AWS) == ("1.0.0", "3")


def test_a_failed_verification_after_the_flip_flips_back() -> None:
    world = _world()
    edges = FakeEdges(world, fail=[(AWS, "smoke:ml-api")])
    outcome = _roll(world, edges)
    assert outcome.failed == "aws"
    assert outcome.restored
    assert world[AWS].deployed["stratus:apps.api.activeColour"] == "blue"
    assert _serving(edges, AWS) == ("1.0.0", "3")
    restore = [r.name for r in outcome.records if r.restore]
    assert restore == [
        "flip the active colour back to blue",
        "pulumi up (serve blue again)",
        "wait for ml-api-blue (3 ready)",
    ]


def test_second_cloud_failing_leaves_the_first_on_the_new_version_and_says_so() -> None:
    world = _world()
    edges = FakeEdges(world, fail=[(AZURE, "smoke:ml-api-preview")])
    outcome = _roll(world, edges)
    assert outcome.done == ["aws"]
    assert outcome.failed == "azure"
    assert _serving(edges, AWS) == ("2.0.0", "3")
    assert _serving(edges, AZURE) == ("1.0.0", "3")
    summary = outcome.summary()
    assert "FAILED on azure" in summary
    assert "aws already serve the new version" in summary


def test_a_restore_that_fails_is_reported_as_such() -> None:
    world = _world()
    edges = FakeEdges(world, fail=[(AWS, "smoke:ml-api")])
    outcome_plan = plan_rollout(RolloutRequest("prod", "2.0.0"), _states(world))
    original_up = edges.up
    ups = {"n": 0}

    def up(stack: str) -> None:
        ups["n"] += 1
        if ups["n"] == 3:  # deploy, serve, then the restore's up
            from infra.rollout.execute import StepFailedError

            raise StepFailedError("the cloud API is down")
        original_up(stack)

    edges.up = up  # type: ignore[method-assign]
    outcome = execute(outcome_plan, edges)
    assert outcome.failed == "aws"
    assert not outcome.restored
    assert "could NOT be restored" in outcome.summary()


def test_the_served_version_cannot_be_read_so_nothing_changes() -> None:
    world = _world()
    edges = FakeEdges(world, fail=[(AWS, "version")])
    outcome = _roll(world, edges)
    assert outcome.failed == "aws"
    assert [c for c in edges.calls if c[1] != "version"] == []


def test_rollback_after_a_successful_rollout_serves_the_previous_version() -> None:
    world = _world()
    edges = FakeEdges(world)
    assert _roll(world, edges).ok
    plan = plan_rollback("prod", ("aws", "azure"), _states(world))
    outcome = execute(plan, edges)
    assert outcome.ok, outcome.summary()
    for stack in (AWS, AZURE):
        assert world[stack].deployed["stratus:apps.api.activeColour"] == "blue"
        assert _serving(edges, stack) == ("1.0.0", "3")


def test_rollback_of_one_cloud_only() -> None:
    world = _world()
    edges = FakeEdges(world)
    assert _roll(world, edges).ok
    outcome = execute(plan_rollback("prod", ("azure",), _states(world)), edges)
    assert outcome.ok
    assert _serving(edges, AWS) == ("2.0.0", "3")
    assert _serving(edges, AZURE) == ("1.0.0", "3")


def test_timings_cover_every_step_and_are_reported_against_the_target() -> None:
    world = _world()
    reported = []
    plan = plan_rollout(RolloutRequest("prod", "2.0.0"), _states(world))
    ticks = itertools.count()
    outcome = execute(
        plan, FakeEdges(world), clock=lambda: float(next(ticks)), report=reported.append
    )
    # One read of the served version + eight steps per cloud, each one tick long.
    assert len(outcome.records) == 18
    assert reported == outcome.records
    assert outcome.seconds == pytest.approx(18.0)
    assert "(target 300 s)" in outcome.summary()
