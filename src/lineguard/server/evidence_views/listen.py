"""Wake this process's node long polls when any process opens a view: PostgreSQL LISTEN.

One thread per process keeps one connection (outside the pool) that ``LISTEN``\\ s on
:data:`~.shared.CHANNEL`; each notification's payload is a node id, and only that (the
notification queue is written to disk under load, so nothing about the evidence goes
there). A dropped connection is opened again after :data:`RECONNECT_S`; long polls look
at the table every few seconds anyway (:data:`~.shared.RECHECK_S`), so a notification
lost meanwhile delays a request, never loses it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from lineguard.server.evidence_views.shared import CHANNEL

__all__ = ["RECONNECT_S", "NotificationListener"]

log = logging.getLogger(__name__)

RECONNECT_S = 1.0
#: How often the thread looks at its stop event while no notification comes.
_TICK_S = 0.5


class NotificationListener:
    """``start()`` a daemon thread calling ``on_node(node_id)`` per notification; ``stop()`` ends it."""

    def __init__(self, engine: Engine, on_node: Callable[[str], None]) -> None:
        self._engine = create_engine(engine.url, poolclass=NullPool)
        self._on_node = on_node
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="evidence-views-listen", daemon=True)
        #: Set once LISTEN is in place (after each reconnection too).
        self.listening = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._engine.dispose()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except (DBAPIError, psycopg.Error) as exc:
                log.warning("evidence-view notifications lost their connection (%s); reconnecting", exc)
                self._stop.wait(RECONNECT_S)

    def _listen(self) -> None:
        raw = self._engine.raw_connection()
        try:
            connection = raw.driver_connection
            if not isinstance(connection, psycopg.Connection):
                msg = f"LISTEN needs psycopg 3, got {type(connection).__name__}"
                raise TypeError(msg)
            connection.autocommit = True
            connection.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            while not self._stop.is_set():
                for notification in connection.notifies(timeout=_TICK_S):
                    self._on_node(notification.payload)
        finally:
            raw.close()
