"""The node's update loop: check the registry now and then, hand verified models to the cameras.

:func:`start_model_updates` is what :class:`lineguard.edge.app.EdgeNode` calls once its
cameras run: every ``interval_s`` the :class:`UpdateWorker` runs
:meth:`UpdateClient.check`; an installed (or, after a restart, re-verified) release
reaches every inspect worker through ``use_model(runner, ref)``, which swaps between
two frames. A refusal is already journaled and reported by the client; the worker
only logs it and keeps the running model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from lineguard.contracts.errors import LineGuardError
from lineguard.contracts.events import ModelRef
from lineguard.contracts.types import ModelRunner
from lineguard.edge.update.client import RunnerLoader, UpdateClient
from lineguard.edge.update.slot import ModelSlot
from lineguard.edge.workers import Worker

__all__ = ["DEFAULT_INTERVAL_S", "ModelUser", "UpdateWorker", "start_model_updates"]

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_S = 60.0


class ModelUser(Protocol):
    """What takes a verified model: an inspect worker (``InspectWorker.use_model``)."""

    def use_model(self, runner: ModelRunner, ref: ModelRef) -> None: ...


class UpdateWorker(Worker):
    """``check()`` every ``interval_s``; the client is built on first use (and rebuilt after errors)."""

    def __init__(
        self,
        stop: threading.Event,
        connect: Callable[[], UpdateClient],
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        super().__init__("model-updates", stop)
        self._connect = connect
        self._client: UpdateClient | None = None
        self.interval_s = interval_s
        self.last_status: str | None = None

    def step(self) -> None:
        try:
            if self._client is None:
                self._client = self._connect()
            self.last_status = self._client.check().status
        except LineGuardError as exc:  # VerificationError included: journaled and reported already
            self.record_error(exc)
            self.last_status = "refused" if getattr(exc, "check", None) else "error"
            log.warning("model update: %s", exc.message)
        except Exception as exc:  # e.g. the server unreachable or the TLS files unreadable: try later
            self.record_error(exc)
            self.last_status = "error"
            self._client = None  # rebuilt next time (a renewed certificate, a new server address)
            log.warning("model update check failed: %s: %s", type(exc).__name__, exc)
        self.stop_event.wait(self.interval_s)

    def teardown(self) -> None:
        if self._client is not None:
            self._client.close()


def start_model_updates(
    stop: threading.Event,
    data_dir: Path,
    users: Sequence[ModelUser],
    *,
    server_url: str | None = None,
    interval_s: float = DEFAULT_INTERVAL_S,
    loader: RunnerLoader | None = None,
) -> UpdateWorker:
    """Start the update loop for an enrolled node; verified models go to every ``user``.

    ``loader`` turns a verified package directory into a runner (the node's execution
    providers and threads); the default is :func:`~lineguard.edge.update.client.default_loader`.
    """
    from lineguard.edge.update.client import default_loader
    from lineguard.edge.update.link import connect

    slot = ModelSlot()

    def hand_over(runner: ModelRunner, ref: ModelRef | None) -> None:
        if ref is None:
            return
        for user in users:
            user.use_model(runner, ref)
        log.info("now running %s v%d (sha256 %s…)", ref.model_id, ref.version, ref.sha256[:16])

    slot.subscribe(hand_over)
    load = loader or default_loader
    worker = UpdateWorker(
        stop, lambda: connect(data_dir, slot, server_url=server_url, loader=load), interval_s=interval_s
    )
    worker.start()
    return worker
