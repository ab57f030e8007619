"""Relative dates in questions: "last month", "this week", "yesterday", "last 7 days".

Resolved against the moment the question is asked (``ask(now=…)``; tests fix it), in
UTC, always to whole days — so a relative period is a range of rollup days like a
named month is. Weeks start on Monday (ISO). The ranges are half-open ``[start, end)``:

* ``today`` / ``yesterday`` — that day;
* ``this week`` / ``last week`` — Monday to Monday;
* ``this month`` / ``last month`` (``previous month``) — the calendar month;
* ``this year`` / ``last year`` — the calendar year;
* ``last N days`` / ``past N weeks`` / ``last N months`` — the N days (weeks, months)
  up to and including today (this week, this month).

:func:`describe_period` words a period for an answer ("in November 2026", "from
2026-11-23 to 2026-11-29").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["describe_period", "relative_period"]

Period = tuple[datetime, datetime]

_LAST_N = re.compile(r"\b(?:last|past|previous)\s+(\d{1,3})\s+(day|week|month)s?\b")
_NAMED = re.compile(r"\b(today|yesterday|(?:this|last|previous|current)\s+(?:week|month|year))\b")


def _month_start(year: int, month: int) -> datetime:
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def relative_period(text: str, now: datetime) -> Period | None:
    """The period a relative date in ``text`` (normalised, lower case) names, or ``None``."""
    moment = now.astimezone(UTC)
    today = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    week = today - timedelta(days=today.weekday())
    last_n = _LAST_N.search(text)
    if last_n:
        n, unit = int(last_n.group(1)), last_n.group(2)
        if n < 1:
            return None
        if unit == "day":
            return today - timedelta(days=n - 1), today + timedelta(days=1)
        if unit == "week":
            return week - timedelta(weeks=n - 1), week + timedelta(weeks=1)
        return _month_start(today.year, today.month - (n - 1)), _month_start(today.year, today.month + 1)
    named = _NAMED.search(text)
    if named is None:
        return None
    words = named.group(1).split()
    if words == ["today"]:
        return today, today + timedelta(days=1)
    if words == ["yesterday"]:
        return today - timedelta(days=1), today
    back = 1 if words[0] in ("last", "previous") else 0
    if words[1] == "week":
        return week - timedelta(weeks=back), week - timedelta(weeks=back - 1)
    if words[1] == "month":
        return _month_start(today.year, today.month - back), _month_start(today.year, today.month - back + 1)
    return datetime(today.year - back, 1, 1, tzinfo=UTC), datetime(today.year - back + 1, 1, 1, tzinfo=UTC)


def describe_period(period: Period | None) -> str:
    """`` in November 2026``, `` in 2026``, `` on 2026-11-30`` or `` from 2026-11-23 to 2026-11-29``."""
    if period is None:
        return ""
    start, end = period
    if start.day == 1 and end.day == 1 and start.time() == end.time() == datetime.min.time():
        months = (end.year - start.year) * 12 + end.month - start.month
        if months == 1:
            return f" in {start.strftime('%B %Y')}"
        if months == 12 and start.month == 1:
            return f" in {start.year}"
    last = end - timedelta(days=1)
    if last.date() == start.date():
        return f" on {start.date().isoformat()}"
    return f" from {start.date().isoformat()} to {last.date().isoformat()}"
