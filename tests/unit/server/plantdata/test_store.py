"""The plant-data store on SQLite and PostgreSQL: sealed, indexed, idempotent, never widened,
swept by retention with its data keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import RetentionConfig
from lineguard.contracts.errors import ConflictError, CryptoError, InputError
from lineguard.crypto import Envelope
from lineguard.server.keystore.models import DataKeyRow
from lineguard.server.plantdata import (
    SEALED_CATEGORY,
    IndexKey,
    PlantRecordIn,
    PlantRecordLineRow,
    PlantRecordRow,
    PlantTermRow,
    index_key,
    open_records,
    upsert_records,
)
from lineguard.server.retention import run_sweep
from tests.unit.server.conftest import AuditTrail
from tests.unit.server.plantdata.conftest import SITE

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def order(
    key: str, *, lines: tuple[str, ...] | None = ("line-1",), price: float = 12.5, **extra: object
) -> PlantRecordIn:
    return PlantRecordIn(
        category=str(extra.pop("category", "customer_orders")),
        source="erp",
        source_key=key,
        record_type="sales_order",
        lines=lines,
        occurred_at=NOW,
        fields={
            "order": key,
            "customer": "Zephyr Motors",
            "part": "P-100",
            "quantity": 40,
            "unit_price": price,
        },
    )


def upsert(
    sessions: sessionmaker[Session],
    envelope: Envelope,
    key: IndexKey,
    records: list[PlantRecordIn],
    audit: AuditTrail | None = None,
    now: datetime = NOW,
) -> object:
    with sessions.begin() as session:
        return upsert_records(
            session,
            site_id=SITE,
            records=records,
            sealer=envelope,
            key=key,
            actor="cli:data.test",
            audit=audit or AuditTrail(),
            now=now,
        )


def test_records_are_sealed_indexed_by_keyed_hashes_and_open_for_a_reader(
    sessions: sessionmaker[Session], envelope: Envelope, key: IndexKey
) -> None:
    audit = AuditTrail()
    result = upsert(sessions, envelope, key, [order("SO-1001"), order("SO-1002", price=9.0)], audit)
    assert len(result.inserted) == 2  # type: ignore[attr-defined]
    with sessions() as session:
        rows = session.scalars(select(PlantRecordRow).order_by(PlantRecordRow.source_key)).all()
        assert [r.amount for r in rows] == [500.0, 360.0]  # unit_price × quantity
        for row in rows:
            blob = bytes(row.body_sealed)
            assert blob.startswith(b"LGSEAL") and b"Zephyr" not in blob and b"SO-100" not in blob
        assert rows[0].party_h == key.dimension("party", "zephyr motors")
        terms = set(
            session.scalars(select(PlantTermRow.term_h).where(PlantTermRow.record_id == rows[0].record_id))
        )
        assert key.term("zephyr") in terms and key.term("so-1001") in terms
        assert all(len(t) == 16 for t in terms)
        bodies = open_records(session, rows, sealer=envelope)
    assert bodies[0].fields["customer"] == "Zephyr Motors" and bodies[0].lines == ("line-1",)
    name, fields = audit.events[-1]
    assert name == "plant_data.imported"
    assert (fields["source"], list(fields["categories"]), fields["inserted"], fields["updated"]) == (
        "erp",
        ["customer_orders"],
        2,
        0,
    )
    assert "Zephyr" not in repr(audit.events)


def test_reimport_is_idempotent_and_an_update_replaces_body_keys_and_terms(
    sessions: sessionmaker[Session], envelope: Envelope, key: IndexKey
) -> None:
    first = upsert(sessions, envelope, key, [order("SO-1")])
    again = upsert(sessions, envelope, key, [order("SO-1")])
    assert again.unchanged == first.inserted and not again.updated  # type: ignore[attr-defined]
    changed = upsert(sessions, envelope, key, [order("SO-1", price=20.0)])
    assert changed.updated == first.inserted  # type: ignore[attr-defined]
    with sessions() as session:
        row = session.scalars(select(PlantRecordRow)).one()
        assert row.amount == 800.0
        keys = session.scalar(
            select(func.count()).select_from(DataKeyRow).where(DataKeyRow.category == SEALED_CATEGORY)
        )
        assert keys == 1  # the old body's data key went with it
        assert open_records(session, [row], sealer=envelope)[0].fields["unit_price"] == 20.0


def test_a_reimport_never_widens_scope(
    sessions: sessionmaker[Session], envelope: Envelope, key: IndexKey
) -> None:
    line_doc = PlantRecordIn(
        category="quality_data",
        kind="document",
        source="file",
        source_key="sop.md",
        lines=("line-1",),
        text="Torque the M8 bolts to 25 Nm.",
    )
    site_doc = line_doc.model_copy(update={"source_key": "site.md", "lines": None})
    inserted = upsert(sessions, envelope, key, [line_doc, site_doc]).inserted  # type: ignore[attr-defined]
    wider = upsert(
        sessions,
        envelope,
        key,
        [line_doc.model_copy(update={"lines": None}), site_doc.model_copy(update={"lines": ("line-1",)})],
    )
    # line-1 → site narrows (only site-wide readers); site → line-1 would widen: kept at site
    assert wider.kept_narrower == [inserted[1]]  # type: ignore[attr-defined]
    upsert(
        sessions, envelope, key, [line_doc.model_copy(update={"source_key": "sop.md", "lines": ("line-2",)})]
    )
    with sessions() as session:
        by_key = {r.source_key: r for r in session.scalars(select(PlantRecordRow))}
        assert by_key["site.md"].site_wide and by_key["sop.md"].site_wide
        assert session.scalar(select(func.count()).select_from(PlantRecordLineRow)) == 0


def test_lines_accumulate_on_reimport_so_the_audience_only_shrinks(
    sessions: sessionmaker[Session], envelope: Envelope, key: IndexKey
) -> None:
    rid = upsert(sessions, envelope, key, [order("SO-7", lines=("line-1",))]).inserted[0]  # type: ignore[attr-defined]
    upsert(sessions, envelope, key, [order("SO-7", lines=("line-2",))])
    with sessions() as session:
        lines = set(
            session.scalars(select(PlantRecordLineRow.line_id).where(PlantRecordLineRow.record_id == rid))
        )
    assert lines == {"line-1", "line-2"}


def test_a_category_change_is_refused_and_nothing_of_the_batch_is_written(
    sessions: sessionmaker[Session], envelope: Envelope, key: IndexKey
) -> None:
    upsert(sessions, envelope, key, [order("SO-1")])
    with pytest.raises(ConflictError, match="would change category") as caught:
        upsert(sessions, envelope, key, [order("SO-2"), order("SO-1", category="production_data")])
    assert caught.value.details == ["erp/SO-1: stored as customer_orders, offered as production_data"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(PlantRecordRow)) == 1


def test_bad_batches_are_refused_whole(
    sessions: sessionmaker[Session], envelope: Envelope, key: IndexKey
) -> None:
    with pytest.raises(InputError, match="2 problem") as caught:
        upsert(sessions, envelope, key, [order("A"), order("A"), order("B", category="payroll")])
    assert any("repeats record 0" in d for d in caught.value.details)
    assert any("unknown plant-data category 'payroll'" in d for d in caught.value.details)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(PlantRecordRow)) == 0


def test_the_index_key_is_made_once_sealed_and_reopened(
    sessions: sessionmaker[Session], envelope: Envelope, key: IndexKey
) -> None:
    again = index_key(sessions, site_id=SITE, sealer=envelope)
    assert again.term("bolt") == key.term("bolt")
    assert index_key(sessions, site_id="other", sealer=envelope).term("bolt") != key.term("bolt")
    assert "secret" in repr(key)


def test_retention_sweeps_records_with_lines_terms_and_data_keys(
    sessions: sessionmaker[Session], envelope: Envelope, key: IndexKey
) -> None:
    old = upsert(sessions, envelope, key, [order("OLD")], now=NOW - timedelta(days=800)).inserted  # type: ignore[attr-defined]
    upsert(sessions, envelope, key, [order("NEW")], now=NOW)
    with sessions() as session:
        old_row = session.get(PlantRecordRow, old[0])
        assert old_row is not None
        blob = bytes(old_row.body_sealed)
    result = run_sweep(sessions, RetentionConfig(plant_data_days=730), now=NOW)
    assert result.deleted["plant_data"] == 1
    with sessions() as session:
        assert [r.source_key for r in session.scalars(select(PlantRecordRow))] == ["NEW"]
        for table in (PlantRecordLineRow, PlantTermRow):
            left = session.scalar(select(func.count()).select_from(table).where(table.record_id == old[0]))
            assert left == 0
    with pytest.raises(CryptoError, match="crypto-shredded"):
        envelope.open(blob, object_id=old[0], category=SEALED_CATEGORY)
