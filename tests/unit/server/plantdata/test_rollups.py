"""The daily rollups on SQLite and PostgreSQL: always what the records add up to, and read
through the same filter as the records.

* after inserts, changed re-imports (new measures, a new day, a narrowed scope, a
  document), and a retention sweep, the stored cells equal the cells rebuilt from the
  records left — and emptied cells are gone;
* the migration that introduces them builds the same cells from records already stored;
* for random scopes (any category, site-wide or on lines, with or without a line
  filter, a line name with ``_``), the records counted and summed through the
  cells under :func:`labels_condition` are exactly those :func:`readable_condition`
  lets through — a rollup never counts a record its reader may not read.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import RetentionConfig
from lineguard.crypto import Envelope
from lineguard.server.plantdata import (
    PLANT_CATEGORIES,
    CategoryScope,
    IndexKey,
    PlantRecordIn,
    PlantRecordRow,
    PlantRollupRow,
    labels_condition,
    readable_condition,
    upsert_records,
)
from lineguard.server.plantdata.rollups import contributions_of, row_values
from lineguard.server.retention import run_sweep
from lineguard.server.storage import upgrade_to_head
from lineguard.server.storage._migrate import alembic_config
from tests.unit.server.conftest import AuditTrail
from tests.unit.server.plantdata.conftest import SITE

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LINES = ("line-1", "line-2", "line_3")  # "_" is a LIKE wildcard: matched literally


def _store(
    sessions: sessionmaker[Session],
    envelope: Envelope,
    key: IndexKey,
    records: list[PlantRecordIn],
    now: datetime,
) -> None:
    with sessions.begin() as session:
        upsert_records(
            session,
            site_id=SITE,
            records=records,
            sealer=envelope,
            key=key,
            actor="cli:t",
            audit=AuditTrail(),
            now=now,
        )


def _cells(session: Session) -> dict[tuple[Any, ...], tuple[int, int, float, int, float]]:
    out = {}
    for r in session.scalars(select(PlantRollupRow)):
        cell = (r.category, r.site_wide, r.lines_key, r.record_type, r.day, r.dim, r.dim_h)
        out[cell] = (r.records, r.quantity_n, round(r.quantity_sum, 6), r.amount_n, round(r.amount_sum, 6))
    return out


def _rebuilt(session: Session) -> dict[tuple[Any, ...], tuple[int, int, float, int, float]]:
    deltas = contributions_of(row_values(r) for r in session.scalars(select(PlantRecordRow)))
    return {c: (int(s[0]), int(s[1]), round(s[2], 6), int(s[3]), round(s[4], 6)) for c, s in deltas.items()}


def _record(i: int, rng: random.Random, **overrides: Any) -> PlantRecordIn:
    values: dict[str, Any] = {
        "category": rng.choice(sorted(c.value for c in PLANT_CATEGORIES)),
        "source": "t",
        "source_key": f"r{i}",
        "record_type": rng.choice(("sales_order", "production_order")),
        "lines": None if rng.random() < 0.25 else tuple(rng.sample(LINES, rng.randint(1, 2))),
        "occurred_at": None if rng.random() < 0.1 else NOW - timedelta(days=rng.randint(0, 60), hours=3),
        "fields": {
            "quantity": rng.choice((None, rng.randint(1, 50))),
            "amount": rng.choice((None, round(rng.uniform(1, 900), 2))),
            "part": rng.choice(("P-100", "P-200", None)),
            "customer": rng.choice(("Zephyr Motors", "Acme Tractors", None)),
            "machine": rng.choice(("Press 4", None)),
            "order": f"SO-{i}",
        },
    }
    values.update(overrides)
    return PlantRecordIn(**values)


def test_cells_follow_inserts_changes_narrowing_documents_and_retention(
    sessions: sessionmaker[Session], envelope: Envelope, key: IndexKey
) -> None:
    rng = random.Random(4)
    first = [_record(i, rng) for i in range(80)]
    _store(sessions, envelope, key, first, NOW - timedelta(days=400))
    changed = [
        _record(i, rng, category=first[i].category, lines=("line-1", "line-2")) for i in range(0, 80, 3)
    ]  # new measures and days; lines widened on offer, so the stored scope narrows instead
    document = PlantRecordIn(
        category="production_data", kind="document", source="t", source_key="doc", title="SOP", text="Torque"
    )
    _store(sessions, envelope, key, [*changed, document], NOW)
    with sessions() as session:
        assert _cells(session) == _rebuilt(session)
        before = session.scalar(select(func.sum(PlantRollupRow.records)).where(PlantRollupRow.dim == ""))
    assert before == 80  # every record once in its plain cell; the document in none

    result = run_sweep(sessions, RetentionConfig(plant_data_days=30), now=NOW)  # the unchanged ones expire
    assert result.deleted["plant_data"] == 80 - len(changed)
    with sessions() as session:
        assert _cells(session) == _rebuilt(session)
        left = session.scalar(select(func.sum(PlantRollupRow.records)).where(PlantRollupRow.dim == ""))
        assert left == len(changed)
        assert session.scalar(select(func.min(PlantRollupRow.records))) > 0  # emptied cells deleted


def test_the_migration_builds_the_same_cells_from_stored_records(
    engine: Engine, sessions: sessionmaker[Session], envelope: Envelope, key: IndexKey
) -> None:
    rng = random.Random(7)
    _store(sessions, envelope, key, [_record(i, rng) for i in range(60)], NOW)
    with sessions() as session:
        kept = _cells(session)
    assert kept
    command.downgrade(alembic_config(engine), "plantdata_0003")  # the rollups table goes
    upgrade_to_head(engine)  # and comes back, built from the records
    with sessions() as session:
        assert _cells(session) == kept


@pytest.mark.parametrize("seed", [1, 2])
def test_cells_count_exactly_the_records_the_read_filter_lets_through(
    sessions: sessionmaker[Session], envelope: Envelope, key: IndexKey, seed: int
) -> None:
    rng = random.Random(seed)
    records = [_record(i, rng) for i in range(120)]
    _store(sessions, envelope, key, records, NOW)
    checked = 0
    with sessions() as session:
        for _ in range(30):
            scopes = [
                CategoryScope(c, rng.random() < 0.3, frozenset(rng.sample(LINES, rng.randint(0, 3))))
                for c in rng.sample(sorted(PLANT_CATEGORIES, key=str), rng.randint(1, 4))
            ]
            line_filter = rng.choice((None, frozenset(rng.sample(LINES, rng.randint(1, 2)))))
            cells = labels_condition(PlantRollupRow, scopes, line_filter=line_filter)
            assert cells is not None  # at most 3 lines: the lines_key forms
            via_records = session.execute(
                select(func.count(), func.coalesce(func.sum(PlantRecordRow.amount), 0.0)).where(
                    readable_condition(scopes, line_filter=line_filter), PlantRecordRow.kind == "record"
                )
            ).one()
            via_cells = session.execute(
                select(
                    func.coalesce(func.sum(PlantRollupRow.records), 0),
                    func.coalesce(func.sum(PlantRollupRow.amount_sum), 0.0),
                ).where(cells, PlantRollupRow.dim == "")
            ).one()
            assert via_cells[0] == via_records[0]
            assert via_cells[1] == pytest.approx(via_records[1], abs=1e-6)
            checked += via_records[0] > 0
    assert checked > 10  # most scopes read something


def test_a_grant_on_many_lines_is_left_to_the_records() -> None:
    """Over eight granted lines the filter needs each record's own lines: no cell condition
    (the records answer, with the subquery form tested in test_access.py)."""
    category = next(iter(PLANT_CATEGORIES))
    many = CategoryScope(category, False, frozenset(f"line-{n}" for n in range(12)))
    assert labels_condition(PlantRollupRow, [many]) is None
    assert (
        labels_condition(PlantRollupRow, [CategoryScope(category, False, frozenset({"line-1"}))]) is not None
    )
