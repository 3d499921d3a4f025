"""The failover drill: two real deployments of the inference service — "aws" serving from the moto
S3 store, "azure" from the Azurite store, both published by one training run — behind the drill's
resolver, which plays global-prod's own plan (weights, priorities, health-check interval and
threshold, TTL, client retry) for both strategies, time-scaled.

Behaviour only, no timing: the figures (detection, switch, failed requests, RTO met) are
``python -m bench.failover``'s."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from infra.offline import stack_values
from infra.traffic.config import GlobalConfig, parse_global_config
from infra.traffic.drill import Drill, DrillReport, local_plan, run_drill
from tests.conftest import BlobEndpoint, S3Endpoint
from tests.deployments import LocalDeployment, predict_request, prepare_clouds, store_env

pytestmark = pytest.mark.slow

TIME_SCALE = 0.05
AWS, AZURE = "aws-prod-apps", "azure-prod-apps"


def drill_config(strategy: str) -> GlobalConfig:
    """global-prod's ``stratus:global``, read with the stack's own parser, with ``strategy``."""
    section = stack_values("global-prod")["stratus:global"]
    return parse_global_config({**section, "traffic": {**section["traffic"], "strategy": strategy}})


@pytest.fixture(scope="module")
def clouds(
    s3_server: S3Endpoint, azurite: BlobEndpoint, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, LocalDeployment]]:
    env = store_env(s3_server.url, azurite.connection_string)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    deployments = prepare_clouds(
        tmp_path_factory.mktemp("drill"),
        names={"aws": AWS, "azure": AZURE},
        env=env,
        model="stratus-classifier",
    )
    for deployment in deployments.values():
        deployment.start()
    try:
        yield deployments
    finally:
        for deployment in deployments.values():
            deployment.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def _drill(
    strategy: str, deployments: dict[str, LocalDeployment]
) -> tuple[Drill, DrillReport]:
    plan = local_plan(drill_config(strategy), host="ml-api.prod.ml.example.org")
    drill = Drill(plan, deployments, time_scale=TIME_SCALE, request=predict_request(), seed=7)
    async with drill:
        report = await run_drill(drill, AWS)
    return drill, report


@pytest.fixture(scope="module", params=["active-active", "primary-secondary"])
def drilled(
    request: pytest.FixtureRequest, clouds: dict[str, LocalDeployment]
) -> tuple[Drill, DrillReport]:
    # Each drill ends with both sides serving again (the broken side repaired and ready).
    return asyncio.run(_drill(request.param, clouds))


def test_the_drill_plays_the_stacks_own_numbers(drilled: tuple[Drill, DrillReport]) -> None:
    drill, _ = drilled
    plan = drill.plan
    assert (plan.health.interval_seconds, plan.health.failures_to_unhealthy) == (10, 3)
    assert plan.rto.ttl_seconds == 60
    assert plan.rto.client_retry_seconds == 30
    assert {r.target.name: r.weight for r in plan.routes} == {AWS: 50, AZURE: 50}


def test_steady_state_follows_the_strategy(drilled: tuple[Drill, DrillReport]) -> None:
    drill, report = drilled
    before = drill.log.attempts_between(0, report.kill.started_at)
    assert before
    assert all(a.ok for a in before)
    served = {a.endpoint for a in before}
    assert served == ({AWS, AZURE} if report.strategy == "active-active" else {AWS})


def test_a_killed_side_is_marked_unhealthy_after_the_threshold_of_failed_probes(
    drilled: tuple[Drill, DrillReport],
) -> None:
    drill, report = drilled
    assert report.kill.detection_s is not None
    flip = drill.log.flip_after(AWS, False, report.kill.started_at)
    assert flip is not None
    probes = [
        p
        for p in drill.log.probes
        if p.endpoint == AWS and report.kill.started_at <= p.at <= flip.at
    ]
    assert [p.ok for p in probes][-3:] == [False, False, False]
    assert len(probes) == drill.plan.health.failures_to_unhealthy
    # Azure stayed healthy throughout.
    assert not [f for f in drill.log.flips if f.endpoint == AZURE]


def test_after_detection_every_request_goes_to_the_survivor(
    drilled: tuple[Drill, DrillReport],
) -> None:
    drill, report = drilled
    flip = drill.log.flip_after(AWS, False, report.kill.started_at)
    assert flip is not None
    restarted = report.restart.started_at
    # No fresh answer names the dead side once it is marked unhealthy ...
    assert not [a for a in drill.log.answers if flip.at <= a.at < restarted and a.endpoint == AWS]
    # ... requests still reach it only on answers cached before detection: the lost ones, all
    # refused connections to the dead side; then everything goes to Azure and succeeds.
    outage = drill.log.attempts_between(report.kill.started_at, restarted)
    sent_to_dead = [a for a in outage if a.endpoint == AWS and a.at >= report.kill.started_at]
    assert all(not a.ok and a.status is None for a in sent_to_dead)
    assert all(a.endpoint == AWS and a.status is None for a in outage if not a.ok)
    assert report.kill.failed_requests == sum(not a.ok for a in outage)
    if report.strategy == "primary-secondary":
        assert report.kill.failed_requests > 0  # every client was on the primary
    assert report.kill.recovered_s < float("inf")  # every client that failed was served again
    assert all(a.answered_at < flip.at for a in outage if a.endpoint == AWS)
    last_to_aws = report.kill.started_at + report.kill.switch_s
    after = [a for a in outage if a.at > last_to_aws]
    assert after
    assert all(a.ok for a in after)


def test_a_restarted_side_gets_its_traffic_back(drilled: tuple[Drill, DrillReport]) -> None:
    _, report = drilled
    assert report.restart.detection_s is not None
    assert report.restart.first_request_s is not None
    assert report.restart.failed_requests == 0
    if report.strategy == "primary-secondary":
        assert report.restart.all_requests_s is not None


def test_a_broken_store_does_not_hurt_the_running_process(
    drilled: tuple[Drill, DrillReport],
) -> None:
    _, report = drilled
    assert report.served_while_store_broken > 0
    assert report.failed_while_store_broken == 0


def test_pods_that_cannot_load_are_failed_over_and_sync_stores_brings_them_back(
    drilled: tuple[Drill, DrillReport],
) -> None:
    drill, report = drilled
    store = report.store
    assert store.detection_s is not None
    window = drill.log.attempts_between(store.started_at, report.repair.started_at)
    # The endpoint still answers — 503 "not ready" — and only the broken side fails.
    sent_to_broken = [a for a in window if a.endpoint == AWS and a.at >= store.started_at]
    assert all(a.status == 503 for a in sent_to_broken)
    assert {(a.endpoint, a.status) for a in window if not a.ok} <= {(AWS, 503)}
    if report.strategy == "primary-secondary":
        assert sent_to_broken
    assert store.recovered_s < float("inf")
    flip = drill.log.flip_after(AWS, False, store.started_at)
    assert flip is not None
    assert all(a.answered_at < flip.at for a in window if a.endpoint == AWS)
    last_to_aws = store.started_at + store.switch_s
    assert all(a.ok for a in window if a.at > last_to_aws)
    assert report.repair.detection_s is not None
    assert report.repair.first_request_s is not None
