"""The failover drill: the global layer's DNS failover played against live deployments.

A **simulation of DNS failover**, driven by the routing plan the stack deploys
(:mod:`infra.traffic.plan`, built from the same ``stratus:global`` config objects):

* a **health checker** probes each endpoint's health route (the plan's path, the plan's host as
  ``Host`` header) and waits the plan's interval after each answer; an endpoint turns unhealthy
  after the plan's ``failures_to_unhealthy`` consecutive failures and healthy again after
  ``successes_to_healthy`` consecutive successes (Route 53: the threshold; Traffic Manager: one);
* a **resolver** answers like the provider: weighted among the healthy endpoints
  (active-active) or the healthy one first by priority (primary-secondary), failing open when
  none is healthy (:meth:`RoutingPlan.shares`);
* **clients** under steady load cache an answer for the TTL clients really see (the plan's RTO
  TTL), and after a failed request wait the configured client retry before the next try.

Every duration is the plan's, multiplied by ``time_scale`` so that minutes of failover play out in
seconds; figures are reported back in the plan's (unscaled) seconds.

What it does **not** model: DNS resolvers that ignore or clamp TTLs, many checker regions voting
(Route 53 counts an endpoint healthy when more than 18 % of its checkers say so, Traffic Manager
probes from many places), probe timing jitter and the providers' propagation delay after a status
change, TLS and the cloud load balancers in front of the ingress, real network latency between
clients and clouds, and clients that keep connections open across DNS changes.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from infra.traffic.config import GlobalConfig
from infra.traffic.plan import RoutingPlan, Target, build_plan

#: Real seconds: a probe never times out faster than this on a busy machine.
MIN_PROBE_TIMEOUT_S = 1.0
#: Real seconds a client waits for an answer (a dead endpoint refuses at once).
REQUEST_TIMEOUT_S = 5.0


class Deployment(Protocol):
    """One endpoint of the drill and what the drill does to it (the harness implements it)."""

    @property
    def url(self) -> str:
        """Where the endpoint answers now (``http://127.0.0.1:PORT``)."""
        ...

    def kill(self) -> None:
        """SIGKILL the serving process: the endpoint stops answering at once."""

    def start(self) -> None:
        """Start it again; return once it is ready."""

    def break_store(self) -> None:
        """Damage the model store it loads from (the served model is already in memory)."""

    def start_replacement(self) -> None:
        """Start fresh pods beside the running ones (they load from the store); return once
        they are alive, whether or not they are ready."""

    def switch_to_replacement(self) -> None:
        """The endpoint answers from the fresh pods from now on (as an ingress would once the
        old pods are gone); the old ones drain their in-flight requests and stop."""

    def repair_store(self) -> None:
        """Bring its store back (``sync-stores`` from the other cloud's store); return once the
        endpoint is ready again (its pods reloaded the model)."""


@dataclass(frozen=True)
class Attempt:
    #: When the request was sent, and when its answer (or error) came back.
    at: float
    done: float
    endpoint: str
    ok: bool
    status: int | None
    #: When the client got the DNS answer it used (it caches answers for the TTL).
    answered_at: float
    client: int


@dataclass(frozen=True)
class Probe:
    at: float
    endpoint: str
    ok: bool


@dataclass(frozen=True)
class Flip:
    at: float
    endpoint: str
    healthy: bool


@dataclass(frozen=True)
class Answer:
    at: float
    endpoint: str


class DrillClock:
    """Plan seconds since the drill started, running ``1 / scale`` times faster than real time."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self._start = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._start) / self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds * self.scale)


@dataclass
class DrillLog:
    attempts: list[Attempt] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    flips: list[Flip] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    def attempts_between(self, start: float, end: float = float("inf")) -> list[Attempt]:
        """Requests that came back in ``[start, end)``."""
        return [a for a in self.attempts if start <= a.done < end]

    def flip_after(self, endpoint: str, healthy: bool, since: float) -> Flip | None:
        for flip in self.flips:
            if flip.endpoint == endpoint and flip.healthy == healthy and flip.at >= since:
                return flip
        return None


class Drill:
    """The checker, resolver and load clients running against ``deployments``."""

    def __init__(
        self,
        plan: RoutingPlan,
        deployments: Mapping[str, Deployment],
        *,
        time_scale: float,
        request: Mapping[str, Any],
        clients: int = 8,
        pace_seconds: float = 0.02,
        seed: int = 0,
    ) -> None:
        missing = {r.target.name for r in plan.routes} - set(deployments)
        if missing:
            raise ValueError(f"no deployment for endpoint(s) {', '.join(sorted(missing))}")
        self.plan = plan
        self.deployments = deployments
        self.clock = DrillClock(time_scale)
        self.log = DrillLog()
        self.healthy = {route.target.name: True for route in plan.routes}
        self._streak = dict.fromkeys(self.healthy, 0)
        self._request = dict(request)
        self._clients = clients
        self._pace = pace_seconds
        self._rng = random.Random(seed)
        self._tasks: list[asyncio.Task[None]] = []
        self._http: httpx.AsyncClient | None = None

    # --- the provider's side: health checks and answers --------------------------------------

    async def _probe(self, name: str) -> bool:
        assert self._http is not None
        health = self.plan.health
        timeout = max(health.timeout_seconds * self.clock.scale, MIN_PROBE_TIMEOUT_S)
        try:
            response = await self._http.get(
                self.deployments[name].url + health.path,
                headers={"Host": self.plan.host},
                timeout=timeout,
            )
        except httpx.HTTPError:
            return False
        return 200 <= response.status_code < 300

    def _record_probe(self, name: str, ok: bool) -> None:
        self.log.probes.append(Probe(self.clock.now(), name, ok))
        if ok == self.healthy[name]:
            self._streak[name] = 0
            return
        self._streak[name] += 1
        needed = (
            self.plan.health.successes_to_healthy if ok else self.plan.health.failures_to_unhealthy
        )
        if self._streak[name] >= needed:
            self.healthy[name] = ok
            self._streak[name] = 0
            self.log.flips.append(Flip(self.clock.now(), name, ok))

    async def _check(self, name: str) -> None:
        while True:
            self._record_probe(name, await self._probe(name))
            await self.clock.sleep(self.plan.health.interval_seconds)

    def answer(self) -> str:
        """One fresh DNS answer, as the provider would give it now."""
        shares = self.plan.shares({name for name, up in self.healthy.items() if up})
        names = [name for name, share in shares.items() if share > 0]
        chosen = self._rng.choices(names, weights=[shares[n] for n in names])[0]
        self.log.answers.append(Answer(self.clock.now(), chosen))
        return chosen

    # --- the clients' side -------------------------------------------------------------------

    async def _send(self, name: str) -> tuple[bool, int | None]:
        assert self._http is not None
        try:
            response = await self._http.post(
                self.deployments[name].url + "/predict",
                json=self._request,
                headers={"Host": self.plan.host},
                timeout=REQUEST_TIMEOUT_S,
            )
        except httpx.HTTPError:
            return False, None
        return response.status_code == 200, response.status_code

    async def _client(self, client: int) -> None:
        ttl = self.plan.rto.ttl_seconds
        # Clients resolved at random moments before the drill: their caches expire out of step.
        answered = self.clock.now() - self._rng.uniform(0, ttl)
        cached, expires = self.answer(), answered + ttl
        while True:
            if self.clock.now() >= expires:
                answered = self.clock.now()
                cached, expires = self.answer(), answered + ttl
            sent = self.clock.now()
            ok, status = await self._send(cached)
            done = self.clock.now()
            self.log.attempts.append(Attempt(sent, done, cached, ok, status, answered, client))
            if ok:
                await asyncio.sleep(self._pace)
            else:
                await self.clock.sleep(self.plan.rto.client_retry_seconds)

    # --- running -----------------------------------------------------------------------------

    async def __aenter__(self) -> Drill:
        self._http = httpx.AsyncClient(limits=httpx.Limits(max_connections=64))
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._check(name)) for name in self.healthy]
        self._tasks += [loop.create_task(self._client(n)) for n in range(self._clients)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    async def wait_for(self, condition: Callable[[], bool], limit: float) -> bool:
        """Wait (at most ``limit`` plan seconds) until ``condition`` holds."""
        deadline = self.clock.now() + limit
        while not condition():
            if self.clock.now() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def act(self, action: Callable[[], None]) -> tuple[float, float]:
        """Run a blocking action on the deployments; the plan times it started and returned."""
        started = self.clock.now()
        await asyncio.to_thread(action)
        return started, self.clock.now()


# --- the scenarios and their figures ---------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    """From the moment an endpoint fails until every request goes elsewhere (plan seconds)."""

    scenario: str
    started_at: float
    #: Until the checker marked it unhealthy (``None``: it never did).
    detection_s: float | None
    #: Until the last request sent to it: afterwards every request goes to the others.
    switch_s: float
    #: Until every client that saw a failure was served again (its first success after its
    #: last failure): the recovery time clients experience.
    recovered_s: float
    failed_requests: int
    requests: int
    objective_s: int
    budget_s: int

    @property
    def rto_met(self) -> bool:
        return self.detection_s is not None and self.recovered_s <= self.objective_s


@dataclass(frozen=True)
class Recovery:
    """From the moment an endpoint can serve again until it gets traffic back (plan seconds)."""

    scenario: str
    started_at: float
    detection_s: float | None
    #: Until its first successful request.
    first_request_s: float | None
    #: primary-secondary: until every request goes to it again (``None`` for active-active).
    all_requests_s: float | None
    failed_requests: int
    #: Real seconds it took to make the endpoint ready again (process start, store repair and
    #: model load): not scaled, so not counted in the plan-second figures above.
    made_ready_real_s: float


@dataclass(frozen=True)
class DrillReport:
    strategy: str
    victim: str
    kill: Outage
    restart: Recovery
    #: While the store was broken but the process kept running: requests it served and failed.
    served_while_store_broken: int
    failed_while_store_broken: int
    store: Outage
    repair: Recovery


async def _outage(drill: Drill, victim: str, scenario: str, started_at: float) -> Outage:
    plan = drill.plan
    limit = 10 * plan.rto.total_seconds
    await drill.wait_for(lambda: not drill.healthy[victim], limit)
    # Every answer cached before detection expires, and every client's retry fires, by then.
    await drill.clock.sleep(
        plan.rto.ttl_seconds + plan.rto.client_retry_seconds + 2 * plan.health.interval_seconds
    )
    flip = drill.log.flip_after(victim, False, started_at)
    window = drill.log.attempts_between(started_at)
    to_victim = [a.at for a in window if a.endpoint == victim]
    return Outage(
        scenario=scenario,
        started_at=started_at,
        detection_s=None if flip is None else flip.at - started_at,
        switch_s=max(0.0, max(to_victim) - started_at) if to_victim else 0.0,
        recovered_s=_recovered(window, started_at),
        failed_requests=sum(not a.ok for a in window),
        requests=len(window),
        objective_s=plan.rto.objective_seconds,
        budget_s=plan.rto.total_seconds,
    )


def _recovered(window: list[Attempt], started_at: float) -> float:
    """Until every client whose requests failed in ``window`` was served again."""
    worst = 0.0
    for client in {a.client for a in window if not a.ok}:
        mine = [a for a in window if a.client == client]
        last_failure = max(a.done for a in mine if not a.ok)
        served = [a.done for a in mine if a.ok and a.at >= last_failure]
        worst = max(worst, (min(served) if served else float("inf")) - started_at)
    return worst


async def _recovery(
    drill: Drill, victim: str, scenario: str, started_at: float, made_ready_real_s: float
) -> Recovery:
    plan = drill.plan
    limit = 10 * plan.rto.total_seconds
    await drill.wait_for(lambda: drill.healthy[victim], limit)

    def served_again() -> bool:
        return any(a.ok for a in drill.log.attempts_between(started_at) if a.endpoint == victim)

    # Clients find it as their cached answers expire; then every cached answer has expired.
    await drill.wait_for(served_again, 3 * plan.rto.ttl_seconds)
    await drill.clock.sleep(plan.rto.ttl_seconds + 2 * plan.health.interval_seconds)
    flip = drill.log.flip_after(victim, True, started_at)
    window = drill.log.attempts_between(started_at)
    served = [a.at for a in window if a.endpoint == victim and a.ok]
    all_back: float | None = None
    if plan.strategy == "primary-secondary" and plan.route(victim).priority == 1:
        elsewhere = [a.at for a in window if a.endpoint != victim]
        all_back = max(0.0, max(elsewhere) - started_at) if elsewhere else 0.0
    return Recovery(
        scenario=scenario,
        started_at=started_at,
        detection_s=None if flip is None else flip.at - started_at,
        first_request_s=max(0.0, min(served) - started_at) if served else None,
        all_requests_s=all_back,
        failed_requests=sum(not a.ok for a in window),
        made_ready_real_s=made_ready_real_s,
    )


async def run_drill(drill: Drill, victim: str) -> DrillReport:
    """Inside a running ``drill``: kill ``victim`` and bring it back, then break its model store
    (harmless while it runs), replace its pods (they cannot load) and repair the store."""
    interval = drill.plan.health.interval_seconds
    await drill.clock.sleep(3 * interval)  # steady state
    deployment = drill.deployments[victim]
    killed_at, _ = await drill.act(deployment.kill)
    kill = await _outage(drill, victim, "process killed (SIGKILL)", killed_at)
    starting, ready_at = await drill.act(deployment.start)
    real = (ready_at - starting) * drill.clock.scale
    restart = await _recovery(drill, victim, "process restarted", ready_at, real)

    broken_at, _ = await drill.act(deployment.break_store)
    await drill.clock.sleep(3 * interval)
    while_broken = drill.log.attempts_between(broken_at)
    await drill.act(deployment.start_replacement)
    _, replaced_at = await drill.act(deployment.switch_to_replacement)
    store = await _outage(drill, victim, "model store broken, pods replaced", replaced_at)
    repairing, repaired_at = await drill.act(deployment.repair_store)
    real = (repaired_at - repairing) * drill.clock.scale
    repair = await _recovery(drill, victim, "store repaired by sync-stores", repaired_at, real)
    return DrillReport(
        strategy=drill.plan.strategy,
        victim=victim,
        kill=kill,
        restart=restart,
        served_while_store_broken=sum(a.ok and a.endpoint == victim for a in while_broken),
        failed_while_store_broken=sum(not a.ok for a in while_broken),
        store=store,
        repair=repair,
    )


def local_plan(config: GlobalConfig, *, host: str, health_path: str = "/readyz") -> RoutingPlan:
    """The plan of ``config`` for endpoints standing in locally for the clouds' ingresses (the
    addresses differ; weights, priorities, health numbers and TTL are the config's)."""
    targets = {
        endpoint.name: Target(endpoint.name, endpoint.cloud, "127.0.0.1", host, health_path, 443)
        for endpoint in config.endpoints
    }
    return build_plan(config, targets)
