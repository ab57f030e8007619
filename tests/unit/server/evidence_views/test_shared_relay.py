"""The shared relay's state machine on real PostgreSQL: two ``SharedRelay`` objects are two processes.

Each has its own replica id and its own images; they share only the database. Time is a
settable clock (``now``) so a timeout needs no sleeping: it moves after the fixture's heartbeats,
which measure each host clock against the database's, so it reads as time passing. Liveness
is judged on the database's clock, so a silent owner is one whose heartbeat row is old there.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from lineguard.config.server import HttpConfig
from lineguard.contracts.errors import NotFoundError, RateLimitedError
from lineguard.contracts.evidence_view import EvidenceViewGoneError
from lineguard.server.evidence_views.listen import NotificationListener
from lineguard.server.evidence_views.models import EvidenceViewRow, RelayPeerRow
from lineguard.server.evidence_views.relay import RelaySettings, View
from lineguard.server.evidence_views.shared import STALE_S, Peer, SharedRelay
from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head

#: Several processes share views only on PostgreSQL (SQLite keeps one process's relay).
on_postgresql = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

JPEG = b"\xff\xd8 pretend image bytes \xff\xd9"


@dataclass
class Clock:
    at: datetime

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class Pair:
    a: SharedRelay
    b: SharedRelay
    clock: Clock
    engine: Engine


@pytest.fixture
def pair(db_url: str) -> Iterator[Pair]:
    engine = create_engine_for(db_url)
    sessions = session_factory(engine)
    clock = Clock(datetime.now(UTC))
    settings = RelaySettings(node_timeout_s=30, pickup_s=60, max_open_per_node=2, max_open=3)
    a = SharedRelay(sessions, replica_id="rep_a", settings=settings, now=clock)
    b = SharedRelay(sessions, replica_id="rep_b", settings=settings, now=clock)
    a.heartbeat("127.0.0.1", 1001)
    b.heartbeat("127.0.0.1", 1002)
    try:
        yield Pair(a, b, clock, engine)
    finally:
        engine.dispose()


def _open(relay: SharedRelay, node_id: str = "edge-1", session_id: str | None = "s-1") -> View:
    return relay.open(
        node_id=node_id,
        event_id="evt_1",
        evidence_ref="evd_1",
        camera_id="cam-1",
        user_id="u-1",
        session_id=session_id,
    )


def _audits() -> tuple[list[str], object]:
    written: list[str] = []

    def audit(_session: Session, view: View) -> None:
        written.append(view.view_id)

    return written, audit


@on_postgresql
def test_a_request_is_claimed_once_and_its_image_handed_out_once_by_the_owner(pair: Pair) -> None:
    view = _open(pair.a)
    [claimed] = pair.b.requests_now("edge-1")  # the node polls the other process
    assert claimed.view_id == view.view_id and claimed.owner_id == "rep_a"
    assert pair.a.requests_now("edge-1") == [] and pair.b.requests_now("edge-1") == []
    pair.a.hold(view.view_id, JPEG, request_id=view.request_id, node_id="edge-1", notes=((1, 2, 3, 4), True))
    assert pair.b.get(view.view_id).state == "ready"  # type: ignore[union-attr]

    written, audit = _audits()
    assert pair.b.take(view.view_id, user_id="u-1", session_id="s-1", audit=audit) is None  # not its image
    assert (
        pair.a.take(view.view_id, user_id="u-1", session_id="other", audit=audit) is None
    )  # not the session
    delivered = pair.a.take(view.view_id, user_id="u-1", session_id="s-1", audit=audit)
    assert delivered is not None and delivered.image == JPEG
    assert (delivered.stored_region, delivered.defect_hidden) == ((1, 2, 3, 4), True)
    assert pair.a.take(view.view_id, user_id="u-1", session_id="s-1", audit=audit) is None
    assert written == [view.view_id]
    assert pair.a.held_bytes() == 0
    row = pair.b.get(view.view_id)
    assert row is not None and row.state == "taken" and row.reported


@on_postgresql
def test_the_owner_refuses_an_image_for_a_view_it_does_not_hold_or_no_longer_wants(pair: Pair) -> None:
    view = _open(pair.a)
    with pytest.raises(NotFoundError, match="holds no evidence view"):
        pair.b.hold(view.view_id, JPEG, request_id=view.request_id, node_id="edge-1")
    with pytest.raises(NotFoundError, match="holds no evidence view"):
        pair.a.hold(view.view_id, JPEG, request_id="evq_other", node_id="edge-1")
    pair.clock.advance(31)
    with pytest.raises(EvidenceViewGoneError, match="no longer wanted"):
        pair.a.hold(view.view_id, JPEG, request_id=view.request_id, node_id="edge-1")
    assert pair.a.held_bytes() == 0 and pair.b.held_bytes() == 0
    timed_out = pair.b.get(view.view_id)
    assert timed_out is not None and timed_out.state == "timeout"
    assert "did not answer within 30 s" in timed_out.reason


@on_postgresql
def test_a_view_whose_owner_stopped_beating_is_lost_and_never_handed_to_the_node(pair: Pair) -> None:
    view = _open(pair.a)
    _silent_for(pair.engine, "rep_a", STALE_S + 1)
    pair.b.heartbeat("127.0.0.1", 1002)  # b lives on, a went silent
    assert pair.b.requests_now("edge-1") == []
    lost = pair.b.get(view.view_id)
    assert lost is not None and lost.state == "lost"
    assert "(rep_a) stopped before the image was handed out" in lost.reason
    with pair.b.sessions() as session:
        assert pair.b.report_once(session, view.view_id)
        assert not pair.b.report_once(session, view.view_id)
        session.commit()


def _silent_for(engine: Engine, replica_id: str, seconds: float) -> None:
    """``replica_id``'s last heartbeat ``seconds`` ago on the database's clock (the clock liveness uses)."""
    with engine.begin() as conn:
        conn.execute(
            update(RelayPeerRow)
            .where(RelayPeerRow.replica_id == replica_id)
            .values(heartbeat_at=func.now() - timedelta(seconds=seconds))
        )


@dataclass
class Skewed:
    """A host clock ``offset_s`` away from the real one (the database's)."""

    offset_s: float

    def __call__(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset_s)


@on_postgresql
def test_liveness_is_judged_on_the_databases_clock_whatever_the_hosts_clocks_say(pair: Pair) -> None:
    """A replica whose clock runs 90 s ahead is not kept alive after it stops beating; one
    whose clock runs 90 s behind is not declared lost while it beats. Judged by processes
    with the right clock and with skewed ones. Host-clock heartbeats fail both halves."""
    sessions, settings = pair.a.sessions, pair.a.settings
    ahead = SharedRelay(sessions, replica_id="rep_ahead", settings=settings, now=Skewed(90), stale_s=2)
    behind = SharedRelay(sessions, replica_id="rep_behind", settings=settings, now=Skewed(-90), stale_s=2)
    judge = SharedRelay(sessions, replica_id="rep_judge", settings=settings, now=Skewed(0), stale_s=2)
    assert 85 < ahead.heartbeat("127.0.0.1", 1003) < 95  # the skew is measured, and kept
    assert -95 < behind.heartbeat("127.0.0.1", 1004) < -85 and -95 < behind.clock_skew_s < -85
    assert abs(judge.heartbeat("127.0.0.1", 1005)) < 5
    for observer in (judge, ahead, behind):  # every one of them sees both alive
        assert observer.peer("rep_ahead") == Peer("rep_ahead", "127.0.0.1", 1003)
        assert observer.peer("rep_behind") == Peer("rep_behind", "127.0.0.1", 1004)

    # A view owned by the process whose clock is behind is handed to a node polling elsewhere.
    view = behind.open(
        node_id="edge-9",
        event_id="evt_9",
        evidence_ref="evd_9",
        camera_id="cam-1",
        user_id="u-1",
        session_id=None,
    )
    assert [v.view_id for v in judge.requests_now("edge-9")] == [view.view_id]

    # The one ahead stops; the others keep beating. Past the stale time (database clock) it is gone.
    deadline = time.monotonic() + 60  # a wait (ends once it is gone), generous for a loaded machine
    while time.monotonic() < deadline and judge.peer("rep_ahead") is not None:
        behind.heartbeat("127.0.0.1", 1004)
        judge.heartbeat("127.0.0.1", 1005)
        time.sleep(0.25)
    for observer in (judge, behind):
        assert observer.peer("rep_ahead") is None
        assert observer.peer("rep_behind") is not None


@on_postgresql
def test_views_in_progress_are_bounded_for_all_processes_together(pair: Pair) -> None:
    _open(pair.a, "edge-1")
    _open(pair.b, "edge-1")
    with pytest.raises(RateLimitedError, match="2 evidence views wait for node edge-1"):
        _open(pair.a, "edge-1")
    _open(pair.b, "edge-2")
    with pytest.raises(RateLimitedError, match="3 evidence views are in progress"):
        _open(pair.a, "edge-3")


@on_postgresql
def test_a_clean_stop_ends_the_processes_own_views_and_leaves(pair: Pair) -> None:
    mine, theirs = _open(pair.a), _open(pair.b)
    pair.a.requests_now("edge-1")
    pair.a.hold(mine.view_id, JPEG, request_id=mine.request_id, node_id="edge-1")
    assert pair.a.leave() == 1
    assert pair.a.held_bytes() == 0
    assert pair.b.get(mine.view_id).state == "lost"  # type: ignore[union-attr]
    assert pair.b.get(theirs.view_id).state == "sent"  # type: ignore[union-attr]
    with pair.b.sessions() as session:
        assert session.scalars(select(RelayPeerRow.replica_id)).all() == ["rep_b"]


@on_postgresql
def test_purge_expires_unfetched_images_and_forgets_old_views(pair: Pair) -> None:
    view = _open(pair.a)
    pair.a.requests_now("edge-1")
    pair.a.hold(view.view_id, JPEG, request_id=view.request_id, node_id="edge-1")
    pair.clock.advance(61)
    assert pair.a.purge() == 1 and pair.a.held_bytes() == 0
    assert pair.b.get(view.view_id).state == "expired"  # type: ignore[union-attr]
    pair.clock.advance(pair.a.settings.keep_s)
    pair.a.purge()
    with pair.a.sessions() as session:
        assert session.scalars(select(EvidenceViewRow)).all() == []


@on_postgresql
def test_a_view_opened_in_one_process_wakes_a_long_poll_waiting_in_another(pair: Pair) -> None:
    """The waiting process re-checks only every 120 s and the poll waits 30 s, so an answer
    within the 20 s allowed can only come from the notification."""
    c = SharedRelay(
        pair.a.sessions, replica_id="rep_c", settings=pair.a.settings, now=pair.clock, recheck_s=120
    )
    listener = NotificationListener(pair.engine, c.wake)
    listener.start()

    async def scenario() -> list[View]:
        poll = asyncio.create_task(c.wait_for_requests("edge-9", 30))
        await asyncio.sleep(1.0)  # let the poll take its first look and wait
        await asyncio.to_thread(_open, pair.a, "edge-9")
        return await asyncio.wait_for(poll, 20)

    try:
        assert listener.listening.wait(30)
        views = asyncio.run(scenario())
    finally:
        listener.stop()
    assert [(v.node_id, v.owner_id, v.state) for v in views] == [("edge-9", "rep_a", "sent")]


@on_postgresql
def test_opening_a_view_notifies_every_listener_with_the_node_id_only(pair: Pair) -> None:
    heard: list[str] = []
    got = threading.Event()

    def on_node(node_id: str) -> None:
        heard.append(node_id)
        got.set()

    listener = NotificationListener(pair.engine, on_node)
    listener.start()
    try:
        assert listener.listening.wait(30)
        _open(pair.a, "edge-7")
        assert got.wait(30)
    finally:
        listener.stop()
    assert heard == ["edge-7"]


def test_a_fixed_internal_port_is_refused_with_several_workers() -> None:
    with pytest.raises(ValidationError, match="each of the 2 workers listens on its own internal relay port"):
        HttpConfig(workers=2, internal_port=9443)
    assert HttpConfig(workers=2).internal_port == 0
    assert HttpConfig(replicas=2, internal_port=9443).internal_port == 9443


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"replicas": 2, "internal_host": "0.0.0.0"}, "a wildcard the other replicas cannot dial"),
        ({"workers": 2, "internal_host": "::"}, "a wildcard the other replicas cannot dial"),
        ({"replicas": 2, "internal_advertised_host": "0.0.0.0"}, "a wildcard"),
        (
            {"replicas": 2, "internal_advertised_host": "relay host.plant"},
            "expected an IP address or a DNS name",
        ),
        ({"replicas": 2, "internal_advertised_host": "-bad.plant"}, "expected an IP address or a DNS name"),
        ({"replicas": 2, "internal_advertised_port": 9444}, "http.internal_port is 0"),
    ],
)
def test_an_advertised_relay_address_the_others_cannot_dial_is_refused(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        HttpConfig.model_validate(fields)


def test_the_advertised_relay_address_defaults_to_the_bound_one_and_may_differ() -> None:
    default = HttpConfig(replicas=2)
    assert (default.internal_advertised_host, default.internal_advertised_port) == (None, 0)
    natted = HttpConfig(
        replicas=2,
        internal_host="0.0.0.0",
        internal_port=9443,
        internal_advertised_host="relay-b.plant.example",
        internal_advertised_port=19443,
    )
    assert (natted.internal_advertised_host, natted.internal_advertised_port) == (
        "relay-b.plant.example",
        19443,
    )
    assert HttpConfig(internal_host="0.0.0.0").internal_host == "0.0.0.0"


@on_postgresql
def test_an_owner_holds_at_most_max_held_bytes_of_images(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        settings = RelaySettings(max_held_bytes=3 * len(JPEG) // 2)  # room for one image, not two
        owner = SharedRelay(session_factory(engine), replica_id="rep_small", settings=settings)
        owner.heartbeat("127.0.0.1", 1009)
        first, second = _open(owner, "edge-1"), _open(owner, "edge-2")
        owner.requests_now("edge-1")
        owner.requests_now("edge-2")
        owner.hold(first.view_id, JPEG, request_id=first.request_id, node_id="edge-1")
        with pytest.raises(RateLimitedError, match=rf"holds {len(JPEG)} bytes of evidence images"):
            owner.hold(second.view_id, JPEG, request_id=second.request_id, node_id="edge-2")
        assert owner.held_bytes() == len(JPEG)
        assert owner.get(second.view_id).state == "sent"  # type: ignore[union-attr]  # still waiting, nothing kept
        written, audit = _audits()
        assert owner.take(first.view_id, user_id="u-1", session_id="s-1", audit=audit) is not None
        assert written == [first.view_id]
        owner.hold(second.view_id, JPEG, request_id=second.request_id, node_id="edge-2")  # room again
        assert owner.get(second.view_id).state == "ready"  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_a_process_back_under_the_same_id_is_dialled_at_its_new_address(postgres_url: str) -> None:
    """A replica killed (its row left behind) and started again listens on a new free port:
    the others must dial that one, not the dead one (a restarted issuer was unreachable).
    PostgreSQL only: liveness is judged there (several processes never share SQLite)."""
    engine = create_engine_for(postgres_url)
    try:
        upgrade_to_head(engine)
        sessions = session_factory(engine)
        other = SharedRelay(sessions, replica_id="rep_b")
        SharedRelay(sessions, replica_id="rep_a").heartbeat("127.0.0.1", 1001)
        assert other.peer("rep_a") == Peer("rep_a", "127.0.0.1", 1001)
        SharedRelay(sessions, replica_id="rep_a").heartbeat("127.0.0.2", 2001, ca_role="leader")
        assert other.peer("rep_a") == Peer("rep_a", "127.0.0.2", 2001)
        assert other.issuers() == [Peer("rep_a", "127.0.0.2", 2001)]
    finally:
        engine.dispose()
