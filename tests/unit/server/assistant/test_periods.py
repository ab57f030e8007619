"""Relative dates against a fixed clock: whole UTC days, weeks from Monday, calendar months."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lineguard.server.assistant import parse
from lineguard.server.assistant.periods import describe_period, relative_period

#: Wednesday 9 December 2026, 14:30 UTC.
NOW = datetime(2026, 12, 9, 14, 30, tzinfo=UTC)


def day(month: int, d: int, year: int = 2026) -> datetime:
    return datetime(year, month, d, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("today", day(12, 9), day(12, 10)),
        ("yesterday", day(12, 8), day(12, 9)),
        ("this week", day(12, 7), day(12, 14)),
        ("last week", day(11, 30), day(12, 7)),
        ("this month", day(12, 1), day(1, 1, 2027)),
        ("current month", day(12, 1), day(1, 1, 2027)),
        ("last month", day(11, 1), day(12, 1)),
        ("previous month", day(11, 1), day(12, 1)),
        ("this year", day(1, 1), day(1, 1, 2027)),
        ("last year", day(1, 1, 2025), day(1, 1)),
        ("last 7 days", day(12, 3), day(12, 10)),
        ("past 2 weeks", day(11, 30), day(12, 14)),
        ("last 3 months", day(10, 1), day(1, 1, 2027)),
        ("last 12 months", day(1, 1), day(1, 1, 2027)),
    ],
)
def test_relative_periods(text: str, start: datetime, end: datetime) -> None:
    assert relative_period(f"units produced {text}", NOW) == (start, end)


def test_january_looks_back_into_last_year_and_the_clock_is_read_in_utc() -> None:
    assert relative_period("last month", day(1, 15, 2027)) == (day(12, 1), day(1, 1, 2027))
    # 00:30 on 1 December in UTC+2 is still 30 November in UTC
    east = datetime(2026, 12, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert relative_period("today", east) == (day(11, 30), day(12, 1))


def test_no_relative_date_or_no_clock_leaves_the_period_to_the_named_forms() -> None:
    assert relative_period("units produced in november 2026", NOW) is None
    assert relative_period("last 0 days", NOW) is None
    assert parse("What was the scrap cost last month?").period is None  # no clock: no filter
    plan = parse("What was the scrap cost last month?", now=NOW)
    assert plan.period == (day(11, 1), day(12, 1))
    assert plan.topic is not None and plan.topic.record_type == "scrap_cost"
    assert plan.operation == "sum"
    assert parse("How many orders in November 2026?", now=NOW).period == (day(11, 1), day(12, 1))


def test_periods_are_worded_for_answers() -> None:
    assert describe_period((day(11, 1), day(12, 1))) == " in November 2026"
    assert describe_period((day(1, 1), day(1, 1, 2027))) == " in 2026"
    assert describe_period((day(12, 8), day(12, 9))) == " on 2026-12-08"
    assert describe_period((day(11, 30), day(12, 7))) == " from 2026-11-30 to 2026-12-06"
    assert describe_period((day(10, 1), day(1, 1, 2027))) == " from 2026-10-01 to 2026-12-31"
    assert describe_period(None) == ""
