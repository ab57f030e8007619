"""A batch that is partly new (some items stored before): only its new items are rolled up,
proposed for review and given data keys, on SQLite and PostgreSQL.

Ingest takes every item as new when as many keys come back from the insert as rows were
sent, and otherwise picks the new ones by key; data-key rows are kept for the records
stored (``service._Written``). Both paths are walked here, with real per-record keys
(part verdicts) and bucket keys (inspection events)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from lineguard.contracts.events import IngestBatch
from lineguard.crypto import Envelope, KdfParams, Keyring
from lineguard.server.ingest import service as ingest
from lineguard.server.ingest.models import ALL_PARTS, PartVerdictRow, RollupHourly
from lineguard.server.keystore import BUCKETED_CATEGORIES, SqlDataKeyStore
from lineguard.server.keystore.models import DataKeyRow
from lineguard.server.nodes.models import Node
from lineguard.server.nodes.service import NodeIdentity
from lineguard.server.review.models import ReviewItemRow
from lineguard.server.storage import session_factory, upgrade_to_head
from tests.unit.server.conftest import AuditTrail
from tests.unit.server.ingest import factory

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
NODE = NodeIdentity("node-1", "plant-a", "line-1", frozenset({"cam-1"}), "s1")


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    upgrade_to_head(engine)
    with session_factory(engine)() as s:
        s.add(Node(node_id="node-1", site_id="plant-a", line_id="line-1", camera_ids=["cam-1"]))
        s.commit()
        yield s


def _events(n: int, start: int = 0) -> list[dict[str, Any]]:
    """Uncertain events (each part goes to review), a part id each, one minute apart."""
    return [
        factory.event(
            "node-1", verdict="uncertain", part_id=f"P-{i}", key=f"idk-e{i}", at=T0 + timedelta(minutes=i)
        )
        for i in range(start, start + n)
    ]


def _send(session: Session, envelope: Envelope, events: list[dict[str, Any]]) -> Any:
    parts = [factory.part_of([e], key=f"idk-p{e['part_id']}") for e in events]
    batch = IngestBatch.model_validate(factory.batch("node-1", events, parts=parts))
    return ingest.ingest_batch(session, node=NODE, batch=batch, sealer=envelope, audit=AuditTrail())


def test_only_the_new_items_of_a_partly_resent_batch_are_stored_counted_and_keyed(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    keyring = Keyring.create(tmp_path / "k.json", SecretStr("partly new"), kdf=KdfParams.insecure_for_tests())
    envelope = Envelope(keyring, SqlDataKeyStore(session_factory(engine)), bucketed=BUCKETED_CATEGORIES)

    first = _send(session, envelope, _events(3))  # all new: P-0, P-1, P-2
    again = _send(session, envelope, _events(4, start=1))  # P-1, P-2 again; P-3, P-4 new
    resent = _send(session, envelope, _events(2, start=3))  # nothing new

    assert (first.stored, first.duplicates) == (6, 0)
    assert (again.stored, again.duplicates) == (4, 4)
    assert (resent.stored, resent.duplicates) == (0, 4)
    part_keys = session.scalars(
        select(DataKeyRow.object_id).where(DataKeyRow.category == "part_verdicts")
    ).all()
    # One per-record key per stored part, none for a resent one (its fresh key is dropped).
    assert sorted(part_keys) == [f"node-1:idk-pP-{i}" for i in range(5)]
    event_keys = session.scalars(
        select(DataKeyRow.object_id).where(DataKeyRow.category == "inspection_events")
    ).all()
    assert event_keys == ["#h/2026030206/plant-a/line-1"]  # the line-hour's one key
    assert session.scalar(select(func.count()).select_from(PartVerdictRow)) == 5
    rollup = session.scalars(select(RollupHourly).where(RollupHourly.defect_class == ALL_PARTS)).all()
    assert [(r.inspected, r.uncertain, r.frames) for r in rollup] == [(5, 5, 5)]
    proposals = session.scalars(select(ReviewItemRow.subject_id)).all()
    assert sorted(proposals) == sorted(
        session.scalars(select(PartVerdictRow.part_verdict_id)).all()
    )  # each stored part proposed once, a resent one not again
