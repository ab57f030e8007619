"""Query scoping: aggregates never include lines the caller may not read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, func, insert, select

from lineguard.contracts.errors import PermissionDeniedError
from lineguard.server.auth.catalog import Action, Role
from lineguard.server.auth.engine import Grant, PolicyEngine, Subject
from lineguard.server.auth.scoping import readable_scope

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.load()


def partner(*lines: str, until: datetime = NOW + timedelta(days=30)) -> Subject:
    return Subject("u-p", (Grant(Role.EXTERNAL_PARTNER, "plant", frozenset(lines), until),), mfa=True)


def test_site_wide_role_reads_all_lines(engine: PolicyEngine) -> None:
    qe = Subject("u-qe", (Grant(Role.QUALITY_ENGINEER, "plant"),), mfa=True)
    scope = readable_scope(engine, qe, Action.INSPECTION_RESULTS_READ, site="plant", now=NOW)
    assert scope.all_lines
    assert scope.allows("any-line")


def test_partner_reads_only_named_lines(engine: PolicyEngine) -> None:
    scope = readable_scope(engine, partner("l1", "l2"), Action.INSPECTION_RESULTS_READ, site="plant", now=NOW)
    assert not scope.all_lines
    assert scope.lines == {"l1", "l2"}
    assert not scope.allows("l3")
    assert not scope.allows(None)  # site-level records


def test_no_scope_for_a_category_outside_the_role(engine: PolicyEngine) -> None:
    scope = readable_scope(engine, partner("l1"), Action.EVIDENCE_IMAGES_READ, site="plant", now=NOW)
    assert scope.empty
    with pytest.raises(PermissionDeniedError, match=r"evidence_images\.read on no line of site plant"):
        scope.require_any()


def test_expired_partner_has_empty_scope(engine: PolicyEngine) -> None:
    expired = partner("l1", until=NOW - timedelta(minutes=1))
    assert readable_scope(engine, expired, Action.INSPECTION_RESULTS_READ, site="plant", now=NOW).empty


def test_site_level_category_is_all_or_nothing(engine: PolicyEngine) -> None:
    fin = Subject("u-f", (Grant(Role.FINANCE_CONTROLLER, "plant"),), mfa=True)
    assert readable_scope(engine, fin, Action.FINANCE_PRICING_READ, site="plant", now=NOW).all_lines
    assert readable_scope(engine, partner("l1"), Action.FINANCE_PRICING_READ, site="plant", now=NOW).empty


def test_plant_wide_aggregate_through_the_filter_counts_only_readable_lines(engine: PolicyEngine) -> None:
    """The partner asks for plant-wide totals and gets the totals of their lines."""
    meta = MetaData()
    events = Table("events", meta, Column("id", Integer, primary_key=True), Column("line", String))
    db = create_engine("sqlite://")
    meta.create_all(db)
    with db.begin() as conn:
        conn.execute(insert(events), [{"line": line} for line in ["l1"] * 3 + ["l2"] * 5 + ["l3"] * 7])
        for subject, expected in [
            (partner("l1"), 3),
            (partner("l1", "l3"), 10),
            (Subject("u-qe", (Grant(Role.QUALITY_ENGINEER, "plant"),), mfa=True), 15),
            (Subject("u-a", (Grant(Role.AUDITOR, "plant"),), mfa=True), 0),
        ]:
            scope = readable_scope(engine, subject, Action.INSPECTION_RESULTS_READ, site="plant", now=NOW)
            total = conn.execute(select(func.count()).select_from(events).where(scope.filter(events.c.line)))
            assert total.scalar_one() == expected
    db.dispose()
