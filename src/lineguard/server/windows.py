"""Time windows of dashboard reads: ``[start, end)`` in UTC from a route's query parameters.

A time without an offset is read as UTC (the routes document it); a window that ends
before it starts, or spans more than the route allows, is an :class:`InputError` (400)
rather than an empty answer or a scan of the whole table.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lineguard.contracts.errors import InputError

__all__ = ["as_utc", "read_window"]


def as_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_window(
    start: datetime | None,
    end: datetime | None,
    *,
    default: timedelta,
    longest: timedelta,
    now: datetime | None = None,
) -> tuple[datetime, datetime]:
    """``[start, end)``: ``end`` defaults to now, ``start`` to ``default`` before it."""
    stop = as_utc(end) if end is not None else (now or datetime.now(UTC))
    begin = as_utc(start) if start is not None else stop - default
    if begin >= stop:
        msg = f"start {begin.isoformat()} is not before end {stop.isoformat()}"
        raise InputError(msg)
    if stop - begin > longest:
        msg = f"the window spans {stop - begin}; at most {longest}"
        raise InputError(msg)
    return begin, stop
