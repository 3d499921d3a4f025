"""A per-model lock in the MLflow registry, so that runs and commands on one model take turns.

Everything that reads the champion and moves aliases or store pointers — a run's gate, register,
alias move and publish; ``promote``; ``rollback``; ``reconcile`` — holds the lock of that model, so
two runs cannot interleave alias moves and each run's gate compares with the champion it replaces.

Why a registered model: MLflow's REST API has no compare-and-swap on tags or aliases, but creating
a registered model is atomic (the name is unique in the backend database; a second create fails
with ``RESOURCE_ALREADY_EXISTS``). The lock of ``NAME`` is the registered model
``NAME.stratus-lock`` (``LOCK_SUFFIX``), created to acquire and deleted to release.

It is a lease: its tags name the holder and an expiry, renewed by a heartbeat thread while held.
A holder that died (a killed pod) stops renewing; once its lease has expired, a contender deletes
the stale lock (after re-reading that the same holder still owns it) and takes it. A holder checks
(``check``) that it still owns the lock before each write, so one that lost its lease (its
heartbeat failed for a whole lease) stops instead of writing over the next holder's work.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from training.errors import RegistryError

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".stratus-lock"
OWNER_TAG = "owner"
EXPIRES_TAG = "expires_at"
HOLDER_TAG = "holder"


def lock_name(model_name: str) -> str:
    return f"{model_name}{LOCK_SUFFIX}"


@dataclass(frozen=True)
class Holder:
    owner: str
    expires_at: float
    description: str


class RegistryLock:
    """``with RegistryLock(client, name, purpose=...) as lock:`` — see the module docstring."""

    def __init__(
        self,
        client: MlflowClient,
        model_name: str,
        *,
        purpose: str,
        lease_s: float = 300.0,
        wait_s: float = 900.0,
        poll_s: float = 1.0,
        on_wait: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.model_name = model_name
        self.name = lock_name(model_name)
        self.owner = uuid.uuid4().hex
        self.description = f"{purpose} on {socket.gethostname()} (pid {os.getpid()})"
        self.lease_s = lease_s
        self.wait_s = wait_s
        self.poll_s = poll_s
        self.on_wait = on_wait
        self.clock = clock
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self.took_over: Holder | None = None

    # -- acquire / release -------------------------------------------------------------------

    def __enter__(self) -> RegistryLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> None:
        deadline = self.clock() + self.wait_s
        announced: str | None = None
        while True:
            if self._try_create():
                self._start_heartbeat()
                return
            holder = self.holder()
            if holder is None:
                continue  # released between our create and our read: try again at once
            if holder.owner == self.owner:
                # our create went through although its answer was an error (see _try_create)
                self._start_heartbeat()
                return
            if holder.expires_at < self.clock():
                self._take_over(holder)
                continue
            if announced != holder.owner and self.on_wait is not None:
                self.on_wait(
                    f"waiting for the lock on {self.model_name}, held by {holder.description} "
                    f"(lease until {time.strftime('%H:%M:%S', time.localtime(holder.expires_at))})"
                )
            announced = holder.owner
            if self.clock() >= deadline:
                raise RegistryError(
                    f"timed out after {self.wait_s:g}s waiting for the lock on {self.model_name}, "
                    f"held by {holder.description}; the lease expires at "
                    f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(holder.expires_at))} "
                    f"(registry.lock_wait_s)"
                )
            time.sleep(self.poll_s)

    def release(self) -> None:
        """Delete the lock if this process still holds it. A registry that cannot be reached now
        is logged, not raised (that would hide the error being handled): the lease expires."""
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None
        try:
            holder = self.holder()
            if holder is not None and holder.owner == self.owner:
                self.client.delete_registered_model(self.name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                log.warning(
                    "could not release the lock on %s (%s); it expires with its lease in %gs",
                    self.model_name,
                    exc.message,
                    self.lease_s,
                )

    def check(self) -> None:
        """Raise unless this process still holds the lock (call before every write)."""
        holder = self.holder()
        if holder is None or holder.owner != self.owner:
            taken = f", now held by {holder.description}" if holder else ""
            raise RegistryError(
                f"lost the lock on {self.model_name} (its lease expired{taken}); "
                "nothing more was written: run `python -m training reconcile "
                f"{self.model_name}` once the other holder is done"
            )

    def holder(self) -> Holder | None:
        try:
            model = self.client.get_registered_model(self.name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        tags = model.tags or {}
        try:
            return Holder(
                owner=tags[OWNER_TAG],
                expires_at=float(tags[EXPIRES_TAG]),
                description=tags.get(HOLDER_TAG, "an unknown holder"),
            )
        except (KeyError, ValueError):
            # Made by hand (ours are created with their tags in one call): a lease that began
            # when it was created.
            return Holder(
                owner=json.dumps(sorted(tags.items())),
                expires_at=int(model.creation_timestamp or 0) / 1000 + self.lease_s,
                description="an unknown holder (the lock has no lease tags)",
            )

    # -- internals ---------------------------------------------------------------------------

    def _tags(self) -> dict[str, str]:
        return {
            OWNER_TAG: self.owner,
            EXPIRES_TAG: f"{self.clock() + self.lease_s:.3f}",
            HOLDER_TAG: self.description,
        }

    def _try_create(self) -> bool:
        try:
            self.client.create_registered_model(
                self.name,
                tags=self._tags(),
                description=f"Stratus lock of the registered model {self.model_name} "
                "(deleted when released; see training/lock.py)",
            )
        except MlflowException as exc:
            # ALREADY_EXISTS: held. DOES_NOT_EXIST: the registry answers so when the name is
            # deleted (a holder releasing) while it creates it — contended either way: the loop
            # reads who holds it now, which may be this very process.
            if exc.error_code in ("RESOURCE_ALREADY_EXISTS", "RESOURCE_DOES_NOT_EXIST"):
                return False
            raise RegistryError(
                f"cannot take the lock on {self.model_name}: {exc.message}"
            ) from None
        return True

    def _take_over(self, stale: Holder) -> None:
        current = self.holder()
        if current is None or current.owner != stale.owner:
            return  # someone else released or took it meanwhile: compete again
        try:
            self.client.delete_registered_model(self.name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
        self.took_over = stale
        if self.on_wait is not None:
            self.on_wait(
                f"took over the expired lock on {self.model_name} from {stale.description}"
            )

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._heartbeat = threading.Thread(
            target=self._renew, name=f"lease:{self.name}", daemon=True
        )
        self._heartbeat.start()

    def _renew(self) -> None:
        interval = max(self.lease_s / 3, 0.1)
        while not self._stop.wait(interval):
            try:
                holder = self.holder()
                if holder is None or holder.owner != self.owner:
                    return  # lost: check() reports it before the next write
                self.client.set_registered_model_tag(
                    self.name, EXPIRES_TAG, f"{self.clock() + self.lease_s:.3f}"
                )
            except MlflowException:
                continue  # the registry is unreachable for now: retry at the next beat
