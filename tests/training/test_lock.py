"""``training/lock.py`` against a real ``mlflow server``: one holder at a time, waiting, timing out,
and taking over the lease of a holder that died."""

from __future__ import annotations

import threading

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST

from tests.training.conftest import unique_name
from training.errors import RegistryError
from training.lock import LOCK_SUFFIX, RegistryLock

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_uri(request: pytest.FixtureRequest) -> str:
    """Both backends the stacks run MLflow on: the lock rests on their unique model names."""
    fixture = "mlflow_server" if request.param == "sqlite" else "mlflow_postgres_server"
    return str(request.getfixturevalue(fixture))


def _client(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_one_holder_at_a_time_and_a_clear_timeout(registry_uri: str) -> None:
    client, name = _client(registry_uri), unique_name("lock")
    with RegistryLock(client, name, purpose="run A") as first:
        first.check()
        assert client.get_registered_model(name + LOCK_SUFFIX).tags["owner"] == first.owner
        waits: list[str] = []
        second = RegistryLock(client, name, purpose="run B", wait_s=0, on_wait=waits.append)
        with pytest.raises(RegistryError, match=r"timed out after 0s waiting for the lock on"):
            second.acquire()
        assert waits
        assert "held by run A on " in waits[0]
    # released: the lock model is gone and the next holder gets it at once
    assert not client.search_registered_models(f"name = '{name}{LOCK_SUFFIX}'")
    with RegistryLock(client, name, purpose="run B", wait_s=0):
        pass


def test_a_waiting_holder_gets_the_lock_when_it_is_released(registry_uri: str) -> None:
    client, name = _client(registry_uri), unique_name("lock")
    waiting, acquired = threading.Event(), threading.Event()
    order: list[str] = []

    def contender() -> None:
        lock = RegistryLock(
            client, name, purpose="run B", poll_s=0.05, on_wait=lambda _: waiting.set()
        )
        with lock:
            order.append("B holds")
            acquired.set()

    with RegistryLock(client, name, purpose="run A"):
        thread = threading.Thread(target=contender)
        thread.start()
        assert waiting.wait(60), "the contender never waited for the lock"
        assert not acquired.is_set()
        order.append("A releases")
    thread.join(60)
    assert order == ["A releases", "B holds"]


def test_an_expired_lease_is_taken_over_and_its_holder_stops(registry_uri: str) -> None:
    """A holder that died stops renewing its lease; once it has expired (the contender's clock is
    past it), the contender takes the lock, and the old holder's ``check`` fails."""
    client, name = _client(registry_uri), unique_name("lock")
    now = [1_000_000.0]
    dead = RegistryLock(client, name, purpose="killed run", lease_s=60, clock=lambda: now[0])
    dead.acquire()
    dead._stop.set()  # its process is gone: no more heartbeats
    notes: list[str] = []
    later = RegistryLock(
        client, name, purpose="next run", wait_s=0, on_wait=notes.append, clock=lambda: now[0]
    )
    with pytest.raises(RegistryError, match="timed out"):
        later.acquire()  # the lease still runs
    now[0] += 61
    with later:
        assert later.took_over is not None
        assert later.took_over.owner == dead.owner
        assert any("took over the expired lock" in note for note in notes)
        with pytest.raises(RegistryError, match=r"lost the lock on .*held by next run"):
            dead.check()
        dead.release()  # a late release by the old holder must not delete the new holder's lock
        later.check()


class _RacingClient:
    """A registry whose first lock creation meets a concurrent release: it answers
    RESOURCE_DOES_NOT_EXIST (as the MLflow server did in CI, three shards locking at once),
    with the lock created (``created``) or not."""

    def __init__(self, client: MlflowClient, *, created: bool) -> None:
        self._client = client
        self._created = created
        self.raced = False

    def create_registered_model(self, name: str, **kwargs: object) -> object:
        if not self.raced:
            self.raced = True
            if self._created:
                self._client.create_registered_model(name, **kwargs)  # type: ignore[arg-type]
            raise MlflowException(
                f"Registered Model with name={name} not found",
                error_code=RESOURCE_DOES_NOT_EXIST,
            )
        return self._client.create_registered_model(name, **kwargs)  # type: ignore[arg-type]

    def __getattr__(self, attribute: str) -> object:
        return getattr(self._client, attribute)


@pytest.mark.parametrize("created", [False, True])
def test_a_create_that_meets_a_concurrent_release_competes_again(
    mlflow_server: str, created: bool
) -> None:
    client, name = _client(mlflow_server), unique_name("lock")
    racing = _RacingClient(client, created=created)
    lock = RegistryLock(racing, name, purpose="shard 1", wait_s=5, poll_s=0.05)  # type: ignore[arg-type]
    with lock:
        lock.check()
        assert racing.raced
        assert client.get_registered_model(name + LOCK_SUFFIX).tags["owner"] == lock.owner
    assert not client.search_registered_models(f"name = '{name}{LOCK_SUFFIX}'")
