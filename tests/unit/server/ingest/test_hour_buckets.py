"""Ingest names each event's line-hour bucket once per run of events in one hour and line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lineguard.contracts.events import IngestBatch
from lineguard.server.ingest.rows import _hour_buckets
from lineguard.server.keystore import bucket_hour, hour_bucket
from tests.unit.server.ingest import factory


def test_each_event_gets_the_bucket_of_its_own_line_and_utc_hour() -> None:
    t = datetime(2026, 12, 7, 0, 59, 59, 900_000, tzinfo=UTC)
    events = [factory.event("node-1", at=t + timedelta(milliseconds=50 * i)) for i in range(4)]
    events.append(factory.event("node-1", at=t - timedelta(hours=30)))  # a node catching up
    events.append(factory.event("node-1", at=t + timedelta(milliseconds=100), line_id="line-2"))
    events.append(factory.event("node-1", at=t))
    parsed = IngestBatch.model_validate(factory.batch("node-1", events)).events
    names = _hour_buckets([e.__dict__ for e in parsed])  # it reads the fields ingest already holds
    assert names == [hour_bucket(e.site_id, e.line_id, e.captured_at) for e in parsed]
    assert names[:2] == ["#h/2026120700/plant-a/line-1"] * 2
    assert names[2:4] == ["#h/2026120701/plant-a/line-1"] * 2
    assert names[4:] == [
        "#h/2026120518/plant-a/line-1",
        "#h/2026120701/plant-a/line-2",
        "#h/2026120700/plant-a/line-1",
    ]
    assert bucket_hour(names[4]) == datetime(2026, 12, 5, 18, tzinfo=UTC)
    assert _hour_buckets([]) == []


def test_bucket_hour_refuses_what_is_not_an_hour_bucket() -> None:
    for name in ("node-1:k1", "#h/20261207/a/b", "#h/2026120799/a/b", "#h/2026120700", "#x/2026120700/a/b"):
        assert bucket_hour(name) is None
