"""The compiled read filter agrees with the Cedar policy decided record by record.

For random people (roles granted site-wide or on random lines, some expired) and a plant
of records in every category on random scopes, three answers must be the same for
every record: the SQL filter (:func:`readable_condition`) run on the real database, the
Python rule (:func:`record_readable`), and the Cedar policy asked about each resource
the record stands for (:func:`cedar_targets`).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.crypto import Envelope
from lineguard.server.auth import Grant, PolicyEngine, Role, Subject, readable_scope
from lineguard.server.plantdata import (
    PLANT_CATEGORIES,
    CategoryScope,
    IndexKey,
    PlantRecordIn,
    PlantRecordRow,
    Scope,
    cedar_targets,
    read_action,
    readable_condition,
    record_readable,
    upsert_records,
)
from lineguard.server.protection import NoEncryption
from tests.unit.server.conftest import AuditTrail
from tests.unit.server.plantdata.conftest import SITE

NOW = datetime(2026, 12, 1, tzinfo=UTC)
LINES = ("line-1", "line-2", "line-3")


def _scope(rng: random.Random) -> tuple[str, ...] | None:
    if rng.random() < 0.25:
        return None
    return tuple(rng.sample(LINES, rng.randint(1, 2)))


def _subject(rng: random.Random, n: int) -> Subject:
    grants = []
    for role in rng.sample(list(Role), rng.randint(0, 2)):
        lines = None if rng.random() < 0.5 else frozenset(rng.sample(LINES, rng.randint(1, 2)))
        until = NOW - timedelta(days=1) if rng.random() < 0.1 else None
        grants.append(Grant(role=role, site=SITE, lines=lines, until=until))
    return Subject(user_id=f"u{n}", grants=tuple(grants), mfa=rng.random() < 0.8)


def test_sql_filter_python_rule_and_cedar_agree(
    sessions: sessionmaker[Session], envelope: Envelope, key: IndexKey
) -> None:
    rng = random.Random(16)
    records = [
        PlantRecordIn(
            category=rng.choice(sorted(PLANT_CATEGORIES)).value,
            source="t",
            source_key=f"r{i}",
            lines=_scope(rng),
            fields={"quantity": i},
        )
        for i in range(60)
    ]
    with sessions.begin() as session:
        upsert_records(
            session,
            site_id=SITE,
            records=records,
            sealer=NoEncryption(),
            key=key,
            actor="cli:t",
            audit=AuditTrail(),
        )
    engine = PolicyEngine.load()
    outcomes: list[bool] = []
    with sessions() as session:
        rows = {r.source_key: r for r in session.scalars(select(PlantRecordRow))}
        for n in range(40):
            subject = _subject(rng, n)
            scopes = []
            for category in PLANT_CATEGORIES:
                rs = readable_scope(engine, subject, read_action(category), site=SITE, now=NOW)
                scopes.append(CategoryScope(category, rs.all_lines, rs.lines))
            line_filter = None if n % 3 else frozenset(rng.sample(LINES, 1))
            in_sql = set(
                session.scalars(
                    select(PlantRecordRow.source_key).where(
                        readable_condition(scopes, line_filter=line_filter)
                    )
                )
            )
            for record in records:
                scope = Scope.of(record.lines)
                category = rows[record.source_key].category
                cedar = all(
                    engine.decide(
                        subject, read_action(PLANT_CATEGORIES_BY_NAME[category]), t, now=NOW
                    ).allowed
                    for t in cedar_targets(SITE, PLANT_CATEGORIES_BY_NAME[category], scope)
                )
                if line_filter is not None:
                    cedar = cedar and scope.lines is not None and bool(scope.lines & line_filter)
                python = record_readable(scopes, category, scope, line_filter=line_filter)
                assert (record.source_key in in_sql) == python == cedar, (subject, record, line_filter)
                outcomes.append(cedar)
    assert 50 < sum(outcomes) < len(outcomes) - 50  # both answers were exercised, many times


PLANT_CATEGORIES_BY_NAME = {c.value: c for c in PLANT_CATEGORIES}


def test_no_scope_or_an_empty_line_filter_reads_nothing(
    sessions: sessionmaker[Session], envelope: Envelope, key: IndexKey
) -> None:
    record = PlantRecordIn(category="production_data", source="t", source_key="x", lines=("line-1",))
    with sessions.begin() as session:
        upsert_records(
            session,
            site_id=SITE,
            records=[record],
            sealer=envelope,
            key=key,
            actor="cli:t",
            audit=AuditTrail(),
        )
    everything = [CategoryScope(c, True, frozenset()) for c in PLANT_CATEGORIES]
    with sessions() as session:
        count = lambda cond: len(session.scalars(select(PlantRecordRow.record_id).where(cond)).all())  # noqa: E731
        assert count(readable_condition(everything)) == 1
        assert count(readable_condition([])) == 0
        assert count(readable_condition(everything, line_filter=frozenset())) == 0
        assert count(readable_condition(everything, line_filter=frozenset({"line-2"}))) == 0


def test_a_grant_on_many_lines_takes_the_subquery_path_with_the_same_answers(
    sessions: sessionmaker[Session], envelope: Envelope, key: IndexKey
) -> None:
    many = [f"line-{n}" for n in range(12)]  # more than SUBSET_LINES: NOT EXISTS instead of lines_key IN
    records = [
        PlantRecordIn(category="quality_data", source="t", source_key=f"q{i}", lines=tuple(many[i : i + 2]))
        for i in range(11)
    ] + [PlantRecordIn(category="quality_data", source="t", source_key="site", lines=None)]
    with sessions.begin() as session:
        upsert_records(
            session,
            site_id=SITE,
            records=records,
            sealer=envelope,
            key=key,
            actor="cli:t",
            audit=AuditTrail(),
        )
    for granted in (frozenset(many[:10]), frozenset(many[:3])):  # 10 lines: subquery; 3: lines_key
        scopes = [
            CategoryScope(next(c for c in PLANT_CATEGORIES if c.value == "quality_data"), False, granted)
        ]
        for line_filter in (None, frozenset({"line-2"})):
            with sessions() as session:
                got = set(
                    session.scalars(
                        select(PlantRecordRow.source_key).where(
                            readable_condition(scopes, line_filter=line_filter)
                        )
                    )
                )
            want = {
                r.source_key
                for r in records
                if record_readable(scopes, r.category, Scope.of(r.lines), line_filter=line_filter)
            }
            assert got == want and want, (len(granted), line_filter)
