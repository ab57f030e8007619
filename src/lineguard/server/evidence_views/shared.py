"""Evidence views across server processes: state in PostgreSQL, the image in one process's memory.

With several server processes (``http.workers`` or ``http.replicas`` above 1) a person's
poll, a node's long poll and the node's upload may each land on a different process. The
view's state (never its image) is a row of ``evidence_views``, so any process answers::

    open() on A ─► queued ─► sent (B's long poll claimed it) ─► ready ─► taken
      owner = A      │        │  B checks the upload, hands the bytes   │
                     │        │  to A over the internal relay (.peers)  └─► expired
                     │        ├─► refused / rejected
                     └────────┴─► timeout          and from any state but taken: lost
                                                   (A stopped: its heartbeat went stale)

The process that opened the view owns the hand-off: only it ever holds the image, in
this object's memory, and only it hands it out (an ``access.evidence_view`` audit entry
written in the same transaction as the state change, so exactly once). Each transition
is a conditional ``UPDATE … WHERE state IN (…)``, so two processes racing for one view
cannot both win. Opening a view sends ``NOTIFY lineguard_evidence_views`` with the node
id as the only payload (:mod:`.listen` wakes the long polls of every process); a long
poll also looks again every :data:`RECHECK_S` in case a notification was missed.

Liveness is judged on the database's clock: a heartbeat writes PostgreSQL's ``now()``
and "alive" means ``heartbeat_at > now() - STALE_S`` evaluated there, so a replica whose
host clock runs ahead cannot stay alive after it stopped, and one whose clock runs behind
is not declared lost while it beats. Each heartbeat also measures this host's clock
against the database's (:attr:`SharedRelay.clock_skew_s`) and view times are written on
the host clock corrected by it (:meth:`SharedRelay.now`); the heartbeat loop warns past
:data:`SKEW_WARN_S`, as the rest of the server still runs on the host clock.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, and_, case, delete, exists, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.errors import NotFoundError, RateLimitedError
from lineguard.contracts.evidence_view import EvidenceViewGoneError, EvidenceViewUnavailableError
from lineguard.contracts.ids import new_id
from lineguard.server.evidence_views.bells import NodeBells
from lineguard.server.evidence_views.identity import replica_of
from lineguard.server.evidence_views.models import (
    EvidenceNodePollRow,
    EvidenceViewRow,
    RelayPeerRow,
    RelayRevocationRow,
)
from lineguard.server.evidence_views.relay import Delivered, RelaySettings, View
from lineguard.server.storage import transaction_lock

__all__ = ["CHANNEL", "HEARTBEAT_S", "RECHECK_S", "SKEW_WARN_S", "STALE_S", "Peer", "SharedRelay"]

#: The PostgreSQL notification channel; payloads are node ids, nothing else.
CHANNEL = "lineguard_evidence_views"
#: How often each process refreshes its row in ``evidence_relay_peers``.
HEARTBEAT_S = 3.0
#: A process whose heartbeat is older than this is gone; its views are ``lost``.
STALE_S = 12.0
#: A host clock this far from the database's is logged as a warning at each heartbeat.
SKEW_WARN_S = 2.0
#: A long poll looks at the table this often even without a notification (a safety net:
#: notifications are lost only while a LISTEN connection is being reopened).
RECHECK_S = 5.0
#: A node's poll is written to ``evidence_node_polls`` at most this often per process.
POLL_RECORD_S = 10.0

_ACTIVE = ("queued", "sent", "ready")
_WAITING = ("queued", "sent")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Peer:
    """Where another server process takes relay hand-offs."""

    replica_id: str
    host: str
    port: int


@dataclass
class _Held:
    image: bytes = field(repr=False)
    notes: tuple[tuple[int, int, int, int] | None, bool | None]


def _view(row: EvidenceViewRow) -> View:
    return View(
        view_id=row.view_id,
        request_id=row.request_id,
        node_id=row.node_id,
        event_id=row.event_id,
        evidence_ref=row.evidence_ref,
        camera_id=row.camera_id,
        user_id=row.user_id,
        session_id=row.session_id,
        opened_at=row.opened_at.timestamp(),
        expires_at=row.expires_at,
        state=row.state,  # type: ignore[arg-type]  # written only from ViewState values
        reason=row.reason,
        reported=row.reported,
        owner_id=row.owner_id,
    )


class SharedRelay:
    """This process's side of the shared relay: its views' images, its nodes' long polls."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        replica_id: str | None = None,
        settings: RelaySettings | None = None,
        now: Callable[[], datetime] = _utcnow,
        recheck_s: float = RECHECK_S,
        stale_s: float = STALE_S,
    ) -> None:
        self.sessions = sessions
        self.recheck_s = recheck_s
        self.stale_s = stale_s
        #: This host's clock minus the database's, in seconds, as of the last heartbeat.
        self.clock_skew_s = 0.0
        self.replica_id = replica_id or new_id("rep")
        self.settings = settings or RelaySettings()
        #: This host's clock (UTC); only heartbeats compare it with the database's.
        self.host_clock = now
        #: An operator revoked this replica's relay identity (:mod:`.revocation`), as of the last heartbeat.
        self.revoked = False
        self._lock = threading.Lock()
        self._images: dict[str, _Held] = {}
        self._bells = NodeBells()
        self._poll_written: dict[str, float] = {}

    def now(self) -> datetime:
        """This host's clock brought onto the database's by the skew the last heartbeat measured.

        Every view time (opened, deadlines, ready, finished) is written and compared with
        it, so views opened on a host whose clock is off are not timed out early or late
        by the others; a step of the host clock is corrected at the next heartbeat.
        """
        return self.host_clock() - timedelta(seconds=self.clock_skew_s)

    # -- the person's side ----------------------------------------------------------------

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
        """Record a view owned by this process and wake the node's long poll, wherever it waits."""
        now = self.now()
        limits = self.settings
        with self.sessions() as session:
            transaction_lock(session.connection(), "evidence_views.open")  # counts then insert, one at a time
            if session.get(RelayRevocationRow, replica_of(self.replica_id)) is not None:
                msg = (
                    f"this server replica ({self.replica_id}) was revoked for evidence views: "
                    "open the evidence through another replica"
                )
                raise EvidenceViewUnavailableError(msg)
            self._advance_waiting(session, now)
            counts = dict(
                session.execute(
                    select(EvidenceViewRow.node_id, func.count())
                    .where(EvidenceViewRow.state.in_(_ACTIVE))
                    .group_by(EvidenceViewRow.node_id)
                ).all()
            )
            in_progress, for_node = sum(counts.values()), counts.get(node_id, 0)
            limits.check_room(in_progress=in_progress, for_node=for_node, node_id=node_id)
            row = EvidenceViewRow(
                view_id=new_id("evv"),
                request_id=new_id("evq"),
                node_id=node_id,
                event_id=event_id,
                evidence_ref=evidence_ref,
                camera_id=camera_id,
                user_id=user_id,
                session_id=session_id,
                owner_id=self.replica_id,
                state="queued",
                reason="",
                opened_at=now,
                expires_at=now + timedelta(seconds=limits.node_timeout_s),
                reported=False,
            )
            session.add(row)
            session.flush()
            view = _view(row)
            # Delivered at commit to every LISTENing process; the payload is the node id only.
            session.execute(text("SELECT pg_notify(:channel, :node)"), {"channel": CHANNEL, "node": node_id})
            session.commit()
        self.wake(node_id)
        return view

    def get(self, view_id: str) -> View | None:
        """The view with its state brought up to date (timeouts, expiry, a stopped owner), or None."""
        with self.sessions() as session:
            row = session.get(EvidenceViewRow, view_id)
            if row is None:
                return None
            self._advance(session, row)
            session.commit()
            return _view(row)

    def last_polled(self, node_id: str) -> datetime | None:
        with self.sessions() as session:
            return session.scalar(
                select(EvidenceNodePollRow.polled_at).where(EvidenceNodePollRow.node_id == node_id)
            )

    def report_once(self, session: Session, view_id: str) -> bool:
        """Mark the outcome told, in the caller's transaction; True only for the first caller."""
        marked = session.execute(
            update(EvidenceViewRow)
            .where(EvidenceViewRow.view_id == view_id, EvidenceViewRow.reported.is_(False))
            .values(reported=True)
        )
        return bool(marked.rowcount)  # type: ignore[attr-defined]

    # -- the owner's side: hold the image, hand it out once ----------------------------------

    def hold(
        self,
        view_id: str,
        image: bytes,
        *,
        request_id: str,
        node_id: str,
        notes: tuple[tuple[int, int, int, int] | None, bool | None] = (None, None),
    ) -> None:
        """Keep a checked image for a view this process owns (``ready``); a typed error if not wanted."""
        now = self.now()
        with self._lock:
            others = [h for v, h in self._images.items() if v != view_id]
            if len(others) >= self.settings.max_open:
                held, limit = len(others), self.settings.max_open
                msg = f"this server holds {held} evidence images (the limit is {limit})"
                raise RateLimitedError(msg)
            held_bytes = sum(len(h.image) for h in others)
            if held_bytes + len(image) > self.settings.max_held_bytes:
                limit = self.settings.max_held_bytes
                msg = (
                    f"this server holds {held_bytes} bytes of evidence images and this one has "
                    f"{len(image)} (the limit is {limit}): fetch or let expire the ones waiting"
                )
                raise RateLimitedError(msg)
            self._images[view_id] = _Held(image, notes)
        try:
            self._mark_ready(view_id, request_id=request_id, node_id=node_id, now=now)
        except BaseException:
            with self._lock:
                self._images.pop(view_id, None)
            raise

    def _mark_ready(self, view_id: str, *, request_id: str, node_id: str, now: datetime) -> None:
        with self.sessions() as session:
            done = session.execute(
                update(EvidenceViewRow)
                .where(
                    EvidenceViewRow.view_id == view_id,
                    EvidenceViewRow.owner_id == self.replica_id,
                    EvidenceViewRow.request_id == request_id,
                    EvidenceViewRow.node_id == node_id,
                    EvidenceViewRow.state.in_(_WAITING),
                    EvidenceViewRow.expires_at > now,
                )
                .values(state="ready", ready_at=now)
            )
            if done.rowcount:  # type: ignore[attr-defined]
                session.commit()
                return
            row = session.get(EvidenceViewRow, view_id)
            found = None if row is None else (row.owner_id, row.request_id, row.state)
            session.rollback()
        if found is None or found[:2] != (self.replica_id, request_id):
            msg = f"this server holds no evidence view {view_id[:80]!r} for request {request_id[:80]!r}"
            raise NotFoundError(msg)
        state = "timed out" if found[2] in _WAITING else found[2]  # waiting, but past the node's deadline
        msg = f"evidence view {view_id} is {state}: the image is no longer wanted"
        raise EvidenceViewGoneError(msg)

    def take(
        self,
        view_id: str,
        *,
        user_id: str,
        session_id: str | None,
        audit: Callable[[Session, View], None],
    ) -> Delivered | None:
        """Hand the image out once: ``taken``, audited by ``audit`` in the same transaction.

        None when this process holds no image for the view (taken a moment ago, expired,
        or owned elsewhere): the caller then reports the view's state.
        """
        now = self.now()
        with self.sessions() as session:
            taken = session.execute(
                update(EvidenceViewRow)
                .where(
                    EvidenceViewRow.view_id == view_id,
                    EvidenceViewRow.owner_id == self.replica_id,
                    EvidenceViewRow.user_id == user_id,
                    EvidenceViewRow.session_id.is_(None)
                    if session_id is None
                    else EvidenceViewRow.session_id == session_id,
                    EvidenceViewRow.state == "ready",
                    EvidenceViewRow.ready_at > now - timedelta(seconds=self.settings.pickup_s),
                )
                .values(state="taken", finished_at=now, reported=True)
                .returning(EvidenceViewRow)
            ).scalar_one_or_none()
            with self._lock:
                held = self._images.pop(view_id, None) if taken is not None else None
            if taken is None or held is None:
                session.rollback()
                return None
            audit(session, _view(taken))
            session.commit()
        return Delivered(held.image, *held.notes)

    # -- the node's side --------------------------------------------------------------------

    async def wait_for_requests(self, node_id: str, wait_s: float) -> list[View]:
        """Requests queued for ``node_id`` by any process, waiting up to ``wait_s`` for one."""

        async def look() -> list[View]:
            return await asyncio.to_thread(self.requests_now, node_id)

        wait_s = min(wait_s, self.settings.max_wait_s)
        return await self._bells.wait(node_id, wait_s, look, recheck_s=self.recheck_s)

    def requests_now(self, node_id: str) -> list[View]:
        """Claim the node's queued views (``sent``) whose owners are alive; never one twice.

        A revoked replica claims none: the others would refuse the upload it would hand on.
        """
        if self.revoked:
            return []
        now = self.now()
        with self.sessions() as session:  # one UPDATE on (node_id, state): cheap every few seconds
            alive = select(RelayPeerRow.replica_id).where(self._alive())
            claimed = session.scalars(
                update(EvidenceViewRow)
                .where(
                    EvidenceViewRow.node_id == node_id,
                    EvidenceViewRow.state == "queued",
                    EvidenceViewRow.expires_at > now,
                    EvidenceViewRow.owner_id.in_(alive),
                )
                .values(state="sent")
                .returning(EvidenceViewRow)
            ).all()
            views = [_view(row) for row in sorted(claimed, key=lambda r: r.opened_at)]
            self._record_poll(session, node_id, now)
            session.commit()
        return views

    def for_reply(self, request_id: str) -> View | None:
        with self.sessions() as session:
            row = session.scalar(select(EvidenceViewRow).where(EvidenceViewRow.request_id == request_id))
            if row is None:
                return None
            self._advance(session, row)
            session.commit()
            return _view(row)

    def fail(self, view: View, state: Literal["refused", "rejected", "lost"], reason: str) -> bool:
        """End a view that was still waiting (or, for ``lost``, ready); True when this call did."""
        allowed = (*_WAITING, "ready") if state == "lost" else _WAITING
        with self.sessions() as session:
            done = session.execute(
                update(EvidenceViewRow)
                .where(EvidenceViewRow.view_id == view.view_id, EvidenceViewRow.state.in_(allowed))
                .values(state=state, reason=reason[:500], finished_at=self.now())
            )
            session.commit()
        with self._lock:
            self._images.pop(view.view_id, None)
        return bool(done.rowcount)  # type: ignore[attr-defined]

    def wake(self, node_id: str) -> None:
        """Ring the long polls of ``node_id`` in this process (from any thread)."""
        self._bells.ring(node_id)

    # -- this process among its peers ------------------------------------------------------------

    def heartbeat(self, host: str, port: int, *, refused: int = 0, ca_role: str = "issuer") -> float:
        """Register or refresh this process at ``host:port``, stamped with the database's ``now()``.

        Returns (and keeps in :attr:`clock_skew_s`) this host's clock minus the
        database's, measured in the same round trip. Also learns whether this replica
        was revoked (:attr:`revoked`); a revoked one drops every image it held. The row
        carries the skew measured last time and ``refused`` (connections this process's
        relay refused since it started) for ``lineguard doctor``, and ``ca_role`` (this
        process's plant CA role: ``leader``, ``issuer`` or ``none``), which tells a
        non-issuer where to forward what must be signed.
        """
        before = self.host_clock()
        with self.sessions() as session:
            self.revoked = bool(
                session.scalar(
                    select(exists().where(RelayRevocationRow.replica_id == replica_of(self.replica_id)))
                )
            )
            stamped = session.scalar(
                insert(RelayPeerRow)
                .values(
                    replica_id=self.replica_id,
                    host=host,
                    port=port,
                    started_at=func.now(),
                    heartbeat_at=func.now(),
                    clock_skew_s=self.clock_skew_s,
                    refused_connections=refused,
                    ca_role=ca_role,
                )
                .on_conflict_do_update(
                    index_elements=["replica_id"],
                    set_={
                        # a process that crashed and came back under the same id (a restarted
                        # host) listens on a new port when internal_port is 0: dial that one
                        "host": host,
                        "port": port,
                        "heartbeat_at": func.now(),
                        "clock_skew_s": self.clock_skew_s,
                        "refused_connections": refused,
                        "ca_role": ca_role,
                    },
                )
                .returning(RelayPeerRow.heartbeat_at)
            )
            session.commit()
        after = self.host_clock()
        if self.revoked:
            with self._lock:
                self._images.clear()
        if stamped is not None:
            self.clock_skew_s = ((before + (after - before) / 2) - stamped).total_seconds()
        return self.clock_skew_s

    def _alive(self) -> ColumnElement[bool]:
        """Heartbeat recent enough, on the database's clock (never this host's), and not revoked.

        Revocation names the replica, so every worker of it (``<replica>.w<k>``) is out.
        """
        return and_(
            RelayPeerRow.heartbeat_at > func.now() - timedelta(seconds=self.stale_s),
            func.split_part(RelayPeerRow.replica_id, ".", 1).not_in(select(RelayRevocationRow.replica_id)),
        )

    def peer(self, replica_id: str) -> Peer | None:
        """The live process ``replica_id`` (its heartbeat recent enough), or None."""
        with self.sessions() as session:
            return self._peer_in(session, replica_id)

    def _peer_in(self, session: Session, replica_id: str) -> Peer | None:
        row = session.scalar(select(RelayPeerRow).where(RelayPeerRow.replica_id == replica_id, self._alive()))
        return None if row is None else Peer(row.replica_id, row.host, row.port)

    def issuers(self) -> list[Peer]:
        """The live processes that can sign with the plant CA: the leader first, then the
        standby issuers (each oldest first); this process never among them."""
        order = case((RelayPeerRow.ca_role == "leader", 0), else_=1)
        with self.sessions() as session:
            rows = session.scalars(
                select(RelayPeerRow)
                .where(
                    RelayPeerRow.ca_role.in_(("leader", "issuer")),
                    RelayPeerRow.replica_id != self.replica_id,
                    self._alive(),
                )
                .order_by(order, RelayPeerRow.started_at, RelayPeerRow.replica_id)
            ).all()
        return [Peer(r.replica_id, r.host, r.port) for r in rows]

    def leave(self) -> int:
        """On a clean stop: drop every image, end this process's open views as ``lost``."""
        with self._lock:
            self._images.clear()
        with self.sessions() as session:
            ended = session.execute(
                update(EvidenceViewRow)
                .where(EvidenceViewRow.owner_id == self.replica_id, EvidenceViewRow.state.in_(_ACTIVE))
                .values(state="lost", reason=self.lost_reason(self.replica_id), finished_at=self.now())
            )
            session.execute(delete(RelayPeerRow).where(RelayPeerRow.replica_id == self.replica_id))
            session.commit()
        return int(ended.rowcount)  # type: ignore[attr-defined]

    # -- housekeeping ------------------------------------------------------------------------------

    def purge(self) -> int:
        """Drop images not fetched in time (``expired``), forget views finished ``keep_s`` ago."""
        now = self.now()
        pickup = timedelta(seconds=self.settings.pickup_s)
        with self.sessions() as session:
            expired = session.scalars(
                update(EvidenceViewRow)
                .where(
                    EvidenceViewRow.owner_id == self.replica_id,
                    EvidenceViewRow.state == "ready",
                    EvidenceViewRow.ready_at <= now - pickup,
                )
                .values(state="expired", reason=self._expired_reason(), finished_at=now)
                .returning(EvidenceViewRow.view_id)
            ).all()
            forgotten = session.execute(
                delete(EvidenceViewRow).where(
                    EvidenceViewRow.finished_at <= now - timedelta(seconds=self.settings.keep_s)
                )
            )
            session.execute(
                delete(RelayPeerRow).where(
                    RelayPeerRow.heartbeat_at <= func.now() - timedelta(seconds=10 * self.stale_s)
                )
            )
            session.commit()
        with self._lock:
            for view_id in expired:
                self._images.pop(view_id, None)
        return len(expired) + int(forgotten.rowcount)  # type: ignore[attr-defined]

    def held_bytes(self) -> int:
        with self._lock:
            return sum(len(h.image) for h in self._images.values())

    # -- state transitions that time decides ----------------------------------------------------------

    def _advance_waiting(self, session: Session, now: datetime) -> None:
        session.execute(
            update(EvidenceViewRow)
            .where(EvidenceViewRow.state.in_(_WAITING), EvidenceViewRow.expires_at <= now)
            .values(
                state="timeout",
                reason=func.concat("node ", EvidenceViewRow.node_id, self._timeout_tail()),
                finished_at=now,
            )
        )

    def _advance(self, session: Session, row: EvidenceViewRow) -> None:
        now = self.now()
        if row.state not in _ACTIVE:
            return
        state, reason = row.state, ""
        if row.state in _WAITING and row.expires_at <= now:
            state, reason = "timeout", f"node {row.node_id}{self._timeout_tail()}"
        elif row.owner_id != self.replica_id and self._peer_in(session, row.owner_id) is None:
            state, reason = "lost", self.lost_reason(row.owner_id)
        elif (
            row.state == "ready"
            and row.ready_at is not None
            and now - row.ready_at >= timedelta(seconds=self.settings.pickup_s)
        ):
            state, reason = "expired", self._expired_reason()
        if state == row.state:
            return
        done = session.execute(
            update(EvidenceViewRow)
            .where(EvidenceViewRow.view_id == row.view_id, EvidenceViewRow.state == row.state)
            .values(state=state, reason=reason, finished_at=now)
        )
        if done.rowcount:  # type: ignore[attr-defined]
            row.state, row.reason, row.finished_at = state, reason, now
        else:  # another process moved it first: read what it wrote
            session.refresh(row)

    def _record_poll(self, session: Session, node_id: str, now: datetime) -> None:
        mono = time.monotonic()
        with self._lock:
            if mono - self._poll_written.get(node_id, -POLL_RECORD_S) < POLL_RECORD_S:
                return
            self._poll_written[node_id] = mono
        session.execute(
            insert(EvidenceNodePollRow)
            .values(node_id=node_id, polled_at=now)
            .on_conflict_do_update(index_elements=["node_id"], set_={"polled_at": now})
        )

    def _timeout_tail(self) -> str:
        return f" did not answer within {self.settings.node_timeout_s:g} s"

    def _expired_reason(self) -> str:
        return f"the image was not fetched within {self.settings.pickup_s:g} s"

    @staticmethod
    def lost_reason(replica_id: str) -> str:
        return (
            f"the server replica that opened this view ({replica_id}) stopped before the image was "
            "handed out; nothing was kept: open the evidence again"
        )
