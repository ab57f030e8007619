"""Hour buckets: one data key per (category, site and line, hour of capture) for inspection events.

An inspection event's sealed part id is not personal data and is never erased one
record at a time; it ages out with its hour. So ingest seals every part id of one line
and one hour of ``captured_at`` under that bucket's one data key
(:meth:`lineguard.crypto.envelope.Envelope.seal_in_buckets`): one wrap and one key row
per line-hour instead of per event. Categories that may hold personal data (assistant
questions, plant data, TOTP secrets) and evidence images keep one key per object: they
are not in :data:`BUCKETED_CATEGORIES`.

Naming rule (no schema change: a bucket key is an ordinary ``data_keys`` row)::

    object_id = "#h/" + YYYYMMDDHH (UTC hour of captured_at) + "/" + site_id + "/" + line_id

The hour comes first and has a fixed width, so the buckets of a time range are a range
of ``object_id`` on the existing ``(category, object_id)`` index. Retention shreds a
bucket's key only when its whole hour has passed the cutoff and no record of it is
under legal hold (:func:`shred_expired_buckets`); with buckets of one hour, a bucket
never spans two month partitions.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lineguard.crypto.buckets import BUCKET_MARK
from lineguard.server.keystore.models import DataKeyRow

__all__ = ["BUCKETED_CATEGORIES", "bucket_hour", "hour_bucket", "shred_expired_buckets"]

#: Envelope categories whose fields share one data key per hour bucket.
BUCKETED_CATEGORIES = frozenset({"inspection_events"})
_HOUR = BUCKET_MARK + "h/"
_HOUR_FORMAT = "%Y%m%d%H"
_HOUR_DIGITS = 10


def _hour_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime(_HOUR_FORMAT)


def hour_bucket(site_id: str, line_id: str, captured_at: datetime) -> str:
    """The bucket of a record captured at ``captured_at`` (timezone-aware) on one line."""
    return f"{_HOUR}{_hour_text(captured_at)}/{site_id}/{line_id}"


def bucket_hour(bucket: str) -> datetime | None:
    """The hour a bucket name starts at, or None when ``bucket`` is not an hour bucket."""
    digits = bucket[len(_HOUR) : len(_HOUR) + _HOUR_DIGITS]
    if (
        not bucket.startswith(_HOUR)
        or bucket[len(_HOUR) + _HOUR_DIGITS : len(_HOUR) + _HOUR_DIGITS + 1] != "/"
    ):
        return None
    if not digits.isascii() or not digits.isdigit():
        return None
    try:
        return datetime.strptime(digits, _HOUR_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def shred_expired_buckets(
    session: Session,
    category: str,
    *,
    cutoff: datetime,
    since: datetime | None = None,
    keep: Collection[str] = (),
) -> int:
    """Delete the keys of ``category``'s hour buckets that ended at or before ``cutoff``
    (and started at or after ``since``), except the buckets named in ``keep`` (a record
    of them is under legal hold). Returns how many keys went. In the caller's transaction.

    The range on ``object_id`` finds the candidates through the ``(category, object_id)``
    index; each is then parsed here, so a collation that orders punctuation differently
    can only widen the candidates, never shred a bucket whose hour has not ended.
    """
    end = cutoff.astimezone(UTC).replace(minute=0, second=0, microsecond=0)  # buckets before this hour
    low = _HOUR + (_hour_text(since) if since is not None else "")
    k = DataKeyRow
    rows = session.execute(
        select(k.key_id, k.object_id).where(
            k.category == category, k.object_id >= low, k.object_id < _HOUR + _hour_text(end)
        )
    ).all()
    kept = set(keep)
    doomed = []
    for key_id, bucket in rows:
        hour = bucket_hour(bucket)
        if hour is None or bucket in kept or hour + timedelta(hours=1) > end:
            continue
        if since is not None and hour < since:
            continue
        doomed.append(key_id)
    shredded = 0
    for start in range(0, len(doomed), 500):
        result = session.execute(delete(k).where(k.key_id.in_(doomed[start : start + 500])))
        shredded += int(getattr(result, "rowcount", 0) or 0)
    return shredded
