"""The rollout's edges on a real deployment: the ``-apps`` stacks' config and ``pulumi up``
through Pulumi's Automation API (it needs the Pulumi CLI), the cluster through ``kubectl`` (wait
for Deployments, port-forward to Services, with the foundation's kubeconfig), and the smoke test
over HTTP.

The stack files in ``stacks/`` are the record of what runs: the Automation API writes the new
colour, image and model into ``Pulumi.<cloud>-<env>-apps.yaml``; commit them after a rollout (the
delivery workflow does).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infra.k8s.config import AppsConfig
from infra.offline import project_root, stack_values
from infra.rollout.execute import StepFailedError
from infra.rollout.plan import CLOUDS, Cloud, CloudState, ColourState
from infra.rollout.smoke import SmokeCase, SmokeTester

API_NAMESPACE = "ml-api"
_FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+)")


class ToolMissingError(RuntimeError):
    """A command-line tool the real rollout needs is not installed; the message says which."""


def require(tool: str, why: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise ToolMissingError(f"`{tool}` is not on PATH: {why}")
    return found


def apps_stack(cloud: Cloud, env: str) -> str:
    return f"{cloud}-{env}-apps"


def read_state(cloud: Cloud, env: str) -> CloudState:
    """A cloud's blue/green state from its ``-apps`` stack file (what ``pulumi up`` applies)."""
    stack = apps_stack(cloud, env)
    config = AppsConfig.model_validate(stack_values(stack, with_overrides=False)["stratus:apps"])
    api = config.api
    return CloudState(
        cloud=cloud,
        stack=stack,
        active=api.active_colour,
        colours={
            colour: ColourState(
                image=api.colour(colour).image,
                model_name=api.colour(colour).model.name,
                model_alias=api.colour(colour).model.alias,
                model_version=api.colour(colour).model.version,
            )
            for colour in ("blue", "green")
        },
        idle_replicas=api.idle_replicas,
        min_replicas=api.replicas.min,
    )


def read_states(env: str, clouds: tuple[Cloud, ...] = CLOUDS) -> list[CloudState]:
    return [read_state(cloud, env) for cloud in clouds]


class PulumiStacks:
    """``-apps`` stack config and ``pulumi up`` through the Automation API."""

    def __init__(self, *, log: Any = print) -> None:
        require("pulumi", "the rollout runs `pulumi up` through the Automation API")
        from pulumi import automation

        self._auto = automation
        self._log = log
        self._stacks: dict[str, Any] = {}

    def stack(self, name: str) -> Any:
        if name not in self._stacks:
            self._stacks[name] = self._auto.select_stack(
                stack_name=name, work_dir=str(project_root())
            )
        return self._stacks[name]

    def set_config(self, stack: str, values: dict[str, str | int | None]) -> None:
        target = self.stack(stack)
        for key, value in values.items():
            if value is None:
                target.remove_config(key, path=True)
            else:
                target.set_config(key, self._auto.ConfigValue(value=str(value)), path=True)

    def up(self, stack: str) -> None:
        try:
            self.stack(stack).up(on_output=self._log, color="never")
        except self._auto.errors.CommandError as exc:
            raise StepFailedError(f"pulumi up --stack {stack} failed: {str(exc)[-600:]}") from None

    def output(self, stack: str, name: str) -> Any:
        outputs = self.stack(stack).outputs()
        if name not in outputs:
            raise StepFailedError(f"stack {stack} has no output {name!r}: run `pulumi up` on it")
        return outputs[name].value


class KubectlCluster:
    """One cluster, reached with the foundation's kubeconfig (kept in a private temp file)."""

    def __init__(self, kubeconfig: str, *, poll_seconds: float = 5.0) -> None:
        self._kubectl = require("kubectl", "the rollout waits for Deployments and port-forwards")
        handle = tempfile.NamedTemporaryFile("w", suffix=".kubeconfig", delete=False)  # noqa: SIM115
        with handle:
            handle.write(kubeconfig)
        os.chmod(handle.name, 0o600)
        self.kubeconfig = Path(handle.name)
        self.poll_seconds = poll_seconds

    def close(self) -> None:
        self.kubeconfig.unlink(missing_ok=True)

    def _run(self, *args: str) -> str:
        result = subprocess.run(
            [self._kubectl, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StepFailedError(f"kubectl {' '.join(args)}: {result.stderr.strip()[-400:]}")
        return result.stdout

    def wait_available(self, deployment: str, replicas: int, timeout: float) -> None:
        """Until the rollout of ``deployment`` is complete with at least ``replicas`` available."""
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            document = json.loads(
                self._run("-n", API_NAMESPACE, "get", "deployment", deployment, "-o", "json")
            )
            status = document.get("status", {})
            spec_replicas = document.get("spec", {}).get("replicas", 0)
            done = (
                status.get("observedGeneration", 0) >= document["metadata"]["generation"]
                and status.get("updatedReplicas", 0) >= spec_replicas
                and status.get("availableReplicas", 0) >= replicas
                and status.get("unavailableReplicas", 0) == 0
            )
            if done:
                return
            time.sleep(self.poll_seconds)
        raise StepFailedError(
            f"{deployment} not available after {timeout:.0f} s: "
            f"{status.get('availableReplicas', 0)}/{replicas} available"
        )

    @contextlib.contextmanager
    def forward(self, service: str) -> Iterator[str]:
        """``kubectl port-forward svc/<service>`` on a free local port; yields the base URL."""
        process = subprocess.Popen(
            [
                self._kubectl, "--kubeconfig", str(self.kubeconfig), "-n", API_NAMESPACE,
                "port-forward", f"svc/{service}", "0:80", "--address", "127.0.0.1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = _FORWARDING.search(line)
            if match is None:
                error = process.stderr.read() if process.stderr else ""
                raise StepFailedError(f"port-forward to svc/{service} failed: {line}{error}"[:400])
            yield f"http://127.0.0.1:{match.group(1)}"
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)


class RolloutEdges:
    """The :class:`~infra.rollout.execute.Edges` of a real rollout of one environment."""

    def __init__(
        self,
        env: str,
        *,
        case: SmokeCase,
        api_key: str | None,
        wait_timeout: float = 600.0,
    ) -> None:
        self.env = env
        self.case = case
        self.wait_timeout = wait_timeout
        self.stacks = PulumiStacks()
        self._api_key = api_key
        self._clusters: dict[str, KubectlCluster] = {}

    def close(self) -> None:
        for cluster in self._clusters.values():
            cluster.close()

    def cluster(self, stack: str) -> KubectlCluster:
        if stack not in self._clusters:
            foundation = stack.removesuffix("-apps")
            kubeconfig = self.stacks.output(foundation, "kubeconfig")
            self._clusters[stack] = KubectlCluster(str(kubeconfig))
        return self._clusters[stack]

    def api_key(self, stack: str) -> str:
        if self._api_key:
            return self._api_key
        generated = self.stacks.stack(stack).outputs().get("apiKeys")
        if generated is not None:
            return str(generated.value["predict"])
        raise StepFailedError(
            f"no API key for the smoke test of {stack}: set STRATUS_SMOKE_API_KEY to a key with "
            "the predict role"
        )

    # --- Edges ---------------------------------------------------------------------------------
    def set_config(self, stack: str, values: dict[str, str | int | None]) -> None:
        self.stacks.set_config(stack, values)

    def up(self, stack: str) -> None:
        self.stacks.up(stack)

    def wait_available(self, stack: str, deployment: str, replicas: int) -> None:
        self.cluster(stack).wait_available(deployment, replicas, self.wait_timeout)

    def served_version(self, stack: str, service: str) -> str:
        with (
            self.cluster(stack).forward(service) as url,
            SmokeTester(url, self.api_key(stack)) as tester,
        ):
            return tester.served_version(self.case.model)

    def smoke(self, stack: str, service: str, expected_version: str) -> None:
        with (
            self.cluster(stack).forward(service) as url,
            SmokeTester(url, self.api_key(stack)) as tester,
        ):
            tester.check(self.case, expected_version)
