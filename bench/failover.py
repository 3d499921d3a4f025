"""The failover drill's figures: detection time, switch time, failed requests, RTO met, return.

``python -m bench.failover [--quick] [--runs N] [--time-scale S] [--clients N]``

Two real local deployments of the inference service — "aws" serving from a moto S3 store, "azure"
from an Azurite store, both published by one training run — behind the drill's resolver
(``infra/traffic/drill.py``), which plays global-prod's own routing plan: its weights or
priorities, health-check interval and failure threshold, TTL and client retry, read with the
stack's own parser from ``stacks/Pulumi.global-prod.yaml``. For each strategy (active-active, and
the same config with primary-secondary) and each run: SIGKILL "aws" under steady load and bring it
back, then break its model store, replace its pods and repair the store with ``sync-stores``.

Durations are the plan's seconds: the drill runs ``1 / --time-scale`` times faster than real time
(default 0.05: a 10 s health-check interval takes 0.5 s), and the medians over ``--runs`` are
printed with the RTO budget. It is a simulation of DNS failover (README "Multi-cloud" says what it
does not model), and the figures are noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from infra.offline import stack_values
from infra.traffic.config import GlobalConfig, parse_global_config
from infra.traffic.drill import Drill, DrillReport, local_plan, run_drill
from tests import servers
from tests.deployments import LocalDeployment, predict_request, prepare_clouds, store_env

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
STACK = "global-prod"
STRATEGIES = ("active-active", "primary-secondary")
VICTIM_CLOUD, SURVIVOR_CLOUD = "aws", "azure"


def drill_config(strategy: str) -> GlobalConfig:
    """global-prod's ``stratus:global``, read with the stack's own parser, with ``strategy``."""
    section = stack_values(STACK)["stratus:global"]
    return parse_global_config({**section, "traffic": {**section["traffic"], "strategy": strategy}})


def drill_host() -> str:
    """The host global-prod serves (what every probe sends as Host header)."""
    return f"ml-api.prod.{stack_values(STACK)['stratus:dnsZone']}"


def endpoint_names(config: GlobalConfig) -> dict[str, str]:
    """cloud → endpoint name (one endpoint per cloud in global-prod)."""
    return {endpoint.cloud: endpoint.name for endpoint in config.endpoints}


async def drill_once(
    strategy: str,
    deployments: dict[str, LocalDeployment],
    *,
    time_scale: float,
    clients: int,
    seed: int,
) -> DrillReport:
    config = drill_config(strategy)
    victim = endpoint_names(config)[VICTIM_CLOUD]
    plan = local_plan(config, host=drill_host())
    drill = Drill(
        plan,
        deployments,
        time_scale=time_scale,
        request=predict_request(),
        clients=clients,
        seed=seed,
    )
    async with drill:
        return await run_drill(drill, victim)


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def table(reports: dict[str, list[DrillReport]]) -> str:
    """One line per strategy and scenario: medians over the runs."""
    header = (
        f"{'strategy':<18} {'scenario':<36} {'detect s':>9} {'switch s':>9} {'served s':>9} "
        f"{'failed':>7} {'of reqs':>8} {'RTO met':>8} {'back s':>7} {'all back s':>10} "
        f"{'ready (real s)':>14}"
    )
    lines = [header, "-" * len(header)]
    for strategy, runs in reports.items():
        for outage_of, recovery_of in (
            (lambda r: r.kill, lambda r: r.restart),
            (lambda r: r.store, lambda r: r.repair),
        ):
            outages = [outage_of(r) for r in runs]
            recoveries = [recovery_of(r) for r in runs]
            met = sum(o.rto_met for o in outages)
            lines.append(
                f"{strategy:<18} {outages[0].scenario:<36} "
                f"{_fmt(_median([o.detection_s for o in outages])):>9} "
                f"{_fmt(_median([o.switch_s for o in outages])):>9} "
                f"{_fmt(_median([o.recovered_s for o in outages])):>9} "
                f"{_fmt(_median([o.failed_requests for o in outages])):>7} "
                f"{_fmt(_median([o.requests for o in outages])):>8} "
                f"{f'{met}/{len(outages)}':>8} "
                f"{_fmt(_median([r.first_request_s for r in recoveries])):>7} "
                f"{_fmt(_median([r.all_requests_s for r in recoveries])):>10} "
                f"{_median([r.made_ready_real_s for r in recoveries]) or 0:>14.1f}"
            )
        served = _median([r.served_while_store_broken for r in runs])
        failed = _median([r.failed_while_store_broken for r in runs])
        lines.append(
            f"{strategy:<18} {'store broken, process running':<36} {'':>9} {'':>9} {'':>9} "
            f"{_fmt(failed):>7} {_fmt(served):>8}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="one run")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs

    config = drill_config("active-active")
    print(f"{STACK}: {config.traffic.configured_budget().describe()}", flush=True)
    reports: dict[str, list[DrillReport]] = {strategy: [] for strategy in STRATEGIES}
    with tempfile.TemporaryDirectory(prefix="stratus-failover-") as scratch, ExitStack() as stack:
        workdir = Path(scratch)
        moto = stack.enter_context(servers.moto_server(workdir / "moto"))
        azurite = stack.enter_context(servers.azurite_server(workdir / "azurite"))
        env = store_env(moto.url, servers.azurite_connection_string(azurite.url))
        os.environ.update(env)
        deployments = prepare_clouds(
            workdir, names=endpoint_names(config), env=env, model="stratus-classifier"
        )
        for deployment in deployments.values():
            stack.callback(deployment.stop)
            deployment.start()
        # Each drill ends with both sides serving again (the broken side repaired and ready).
        for run in range(runs):
            for strategy in STRATEGIES:
                report = asyncio.run(
                    drill_once(
                        strategy,
                        deployments,
                        time_scale=args.time_scale,
                        clients=args.clients,
                        seed=run,
                    )
                )
                reports[strategy].append(report)
                print(f"run {run + 1}/{runs} {strategy}: done", flush=True)
    print()
    print(
        f"{STACK} drill, time scale {args.time_scale}, {args.clients} clients, medians of "
        f"{runs} run(s); seconds are the plan's (RTO budget "
        f"{config.traffic.configured_budget().total_seconds} s, objective "
        f"{config.traffic.rto_seconds} s)"
    )
    print(table(reports))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"failover-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "stack": STACK,
                "time_scale": args.time_scale,
                "clients": args.clients,
                "reports": {s: [asdict(r) for r in rs] for s, rs in reports.items()},
            },
            indent=2,
        )
    )
    print(f"\nJSON: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
