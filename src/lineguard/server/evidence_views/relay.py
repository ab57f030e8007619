"""The in-memory relay between a person asking for an evidence image and the node holding it.

A view lives only in this process's memory, never in the database or on disk::

    open()  ─► queued ─► sent (the node's poll took it) ─► ready (image held) ─► taken
                 │          │                                 └─► expired (not fetched in time)
                 │          ├─► refused   (the node said no)
                 │          └─► rejected  (the upload failed a check; nothing is kept)
                 └──────────┴─► timeout   (no answer within ``node_timeout_s``)

The image is handed out once, to the person and browser session that opened the view,
then dropped. Terminal views keep only their state (no image) for ``keep_s`` so a late
poll learns what happened, then they are forgotten. This is the relay of a server that
runs one process; with several (``http.workers`` or ``http.replicas`` above 1) the state
is shared in PostgreSQL and the image is handed between processes by :mod:`.shared`.

Nodes wait for requests in :meth:`EvidenceRelay.wait_for_requests` (an async long
poll); :meth:`open` wakes them from any thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from lineguard.contracts.errors import RateLimitedError
from lineguard.contracts.ids import new_id
from lineguard.server.evidence_views.bells import NodeBells

__all__ = ["Delivered", "EvidenceRelay", "RelaySettings", "View", "ViewState"]

ViewState = Literal["queued", "sent", "ready", "taken", "refused", "rejected", "timeout", "expired", "lost"]
#: ``lost`` happens only with several server processes (:mod:`.shared`): the one that
#: opened the view, and alone could hand the image out, stopped.
TERMINAL: frozenset[ViewState] = frozenset({"taken", "refused", "rejected", "timeout", "expired", "lost"})


@dataclass(frozen=True)
class RelaySettings:
    """How long each step may take, and how much the relay holds at once."""

    #: From opening a view to the node's answer.
    node_timeout_s: float = 30.0
    #: From the node's upload to the browser fetching the image.
    pickup_s: float = 60.0
    #: How long a finished view's state (never its image) is remembered.
    keep_s: float = 600.0
    #: Views waiting for one node at once.
    max_open_per_node: int = 8
    #: Views waiting or holding an image, all nodes together (bounds the memory used).
    max_open: int = 32
    #: Longest long poll a node may ask for.
    max_wait_s: float = 30.0
    #: Image bytes one process holds for its views at once (several processes: each owner).
    max_held_bytes: int = 128 * 2**20

    def check_room(self, *, in_progress: int, for_node: int, node_id: str) -> None:
        """Refuse a new view (RateLimitedError) when either bound on open views is reached."""
        if in_progress >= self.max_open:
            msg = f"{in_progress} evidence views are in progress (the limit is {self.max_open})"
            raise RateLimitedError(msg)
        if for_node >= self.max_open_per_node:
            limit = self.max_open_per_node
            msg = f"{for_node} evidence views wait for node {node_id} (the limit is {limit})"
            raise RateLimitedError(msg)


@dataclass(frozen=True)
class Delivered:
    """An image handed out, with what the node signed about it (v2 statements; else None)."""

    image: bytes = field(repr=False)
    #: Where the image sits in the camera frame: ``(x, y, width, height)`` in frame pixels.
    stored_region: tuple[int, int, int, int] | None = None
    #: Privacy redaction hid part of a defect region in the image.
    defect_hidden: bool | None = None


@dataclass
class View:
    view_id: str
    request_id: str
    node_id: str
    event_id: str
    evidence_ref: str
    camera_id: str
    user_id: str
    session_id: str | None
    opened_at: float
    expires_at: datetime
    state: ViewState = "queued"
    reason: str = ""
    image: bytes | None = field(default=None, repr=False)
    #: What the node signed about the image besides its hash (kept only while the image is).
    image_notes: tuple[tuple[int, int, int, int] | None, bool | None] = (None, None)
    ready_at: float | None = None
    finished_at: float | None = None
    #: Whether the person who opened it has been told (and the outcome audited).
    reported: bool = False
    #: The server process that holds the hand-off (several processes only, :mod:`.shared`).
    owner_id: str = ""


class EvidenceRelay:
    """Views by id, with per-node queues; safe to use from threads and from the event loop."""

    def __init__(self, settings: RelaySettings | None = None, *, clock: Callable[[], float] = time.monotonic):
        self.settings = settings or RelaySettings()
        self.clock = clock
        self._lock = threading.Lock()
        self._views: dict[str, View] = {}
        self._by_request: dict[str, str] = {}
        self._bells = NodeBells()
        #: When each node last polled (monotonic), for the dashboard's hint.
        self.last_poll: dict[str, float] = {}

    # -- the person's side ----------------------------------------------------------

    def open(
        self,
        *,
        node_id: str,
        event_id: str,
        evidence_ref: str,
        camera_id: str,
        user_id: str,
        session_id: str | None,
    ) -> View:
        """Queue a request for ``node_id`` and wake its poll."""
        now = self.clock()
        with self._lock:
            self._advance_all(now)
            waiting = [v for v in self._views.values() if v.state in ("queued", "sent", "ready")]
            for_node = sum(1 for v in waiting if v.node_id == node_id)
            self.settings.check_room(in_progress=len(waiting), for_node=for_node, node_id=node_id)
            view = View(
                view_id=new_id("evv"),
                request_id=new_id("evq"),
                node_id=node_id,
                event_id=event_id,
                evidence_ref=evidence_ref,
                camera_id=camera_id,
                user_id=user_id,
                session_id=session_id,
                opened_at=now,
                expires_at=datetime.now(UTC) + timedelta(seconds=self.settings.node_timeout_s),
            )
            self._views[view.view_id] = view
            self._by_request[view.request_id] = view.view_id
        self._bells.ring(node_id)
        return view

    def get(self, view_id: str) -> View | None:
        """The view with its state brought up to date (timeouts, expiry), or None."""
        with self._lock:
            view = self._views.get(view_id)
            if view is not None:
                self._advance(view, self.clock())
            return view

    def take_image(self, view: View) -> Delivered | None:
        """Hand the image out (once): the view becomes ``taken`` and the bytes are dropped.

        None when there is none to hand out (another request took it a moment ago, or it
        expired): the caller then reports the view's state instead.
        """
        with self._lock:
            self._advance(view, self.clock())
            if view.state != "ready" or view.image is None:
                return None
            image, view.image = view.image, None
            self._finish(view, "taken", "")
            return Delivered(image, *view.image_notes)

    def mark_reported(self, view: View) -> bool:
        """Set ``reported``; True only the first time (so each outcome is audited once)."""
        with self._lock:
            first = not view.reported
            view.reported = True
            return first

    # -- the node's side -------------------------------------------------------------

    async def wait_for_requests(self, node_id: str, wait_s: float) -> list[View]:
        """Requests queued for ``node_id``, waiting up to ``wait_s`` for one to arrive."""

        async def look() -> list[View]:
            return self.requests_now(node_id)

        return await self._bells.wait(node_id, min(wait_s, self.settings.max_wait_s), look)

    def requests_now(self, node_id: str) -> list[View]:
        """What :meth:`wait_for_requests` returns without waiting (tests, synchronous callers)."""
        with self._lock:
            self.last_poll[node_id] = self.clock()
            return self._hand_to_node(node_id)

    def for_reply(self, request_id: str) -> View | None:
        with self._lock:
            view_id = self._by_request.get(request_id)
            view = None if view_id is None else self._views.get(view_id)
            if view is not None:
                self._advance(view, self.clock())
            return view

    def deliver(
        self,
        view: View,
        image: bytes,
        *,
        stored_region: tuple[int, int, int, int] | None = None,
        defect_hidden: bool | None = None,
    ) -> None:
        with self._lock:
            self._advance(view, self.clock())
            if view.state not in ("queued", "sent"):
                return
            view.image = image
            view.image_notes = (stored_region, defect_hidden)
            view.state = "ready"
            view.ready_at = self.clock()

    def fail(self, view: View, state: Literal["refused", "rejected"], reason: str) -> None:
        with self._lock:
            if view.state in ("queued", "sent"):
                self._finish(view, state, reason)

    # -- housekeeping -------------------------------------------------------------------

    def purge(self) -> int:
        """Expire what is due and forget finished views older than ``keep_s``; returns how many."""
        now = self.clock()
        with self._lock:
            self._advance_all(now)
            old = [
                v.view_id
                for v in self._views.values()
                if v.finished_at is not None and now - v.finished_at >= self.settings.keep_s
            ]
            for view_id in old:
                view = self._views.pop(view_id)
                self._by_request.pop(view.request_id, None)
            return len(old)

    def held_bytes(self) -> int:
        with self._lock:
            return sum(len(v.image) for v in self._views.values() if v.image is not None)

    # -- under the lock ------------------------------------------------------------------

    def _hand_to_node(self, node_id: str) -> list[View]:
        now = self.clock()
        found = []
        for view in self._views.values():
            if view.node_id == node_id:
                self._advance(view, now)
                if view.state == "queued":
                    view.state = "sent"
                    found.append(view)
        return found

    def _advance_all(self, now: float) -> None:
        for view in self._views.values():
            self._advance(view, now)

    def _advance(self, view: View, now: float) -> None:
        if view.state in ("queued", "sent") and now - view.opened_at >= self.settings.node_timeout_s:
            self._finish(
                view,
                "timeout",
                f"node {view.node_id} did not answer within {self.settings.node_timeout_s:g} s",
            )
        elif (
            view.state == "ready"
            and view.ready_at is not None
            and now - view.ready_at >= self.settings.pickup_s
        ):
            view.image = None
            self._finish(view, "expired", f"the image was not fetched within {self.settings.pickup_s:g} s")

    def _finish(self, view: View, state: ViewState, reason: str) -> None:
        view.state = state
        view.reason = reason
        view.image = None
        view.finished_at = self.clock()
