"""The rollups of a batch counted from its inserted event rows (``event_columns``, what
ingest does when every event was new) equal the rollups counted from the event models:
same hourly and daily rows, for verdicts, defect classes, cameras, models and times within
one hour or across hours and days."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lineguard.contracts.events import IngestBatch
from lineguard.server.ingest.rollups import rollup_rows
from lineguard.server.ingest.rows import event_columns
from tests.unit.server.ingest import factory
from tests.unit.server.ingest.strategies import T0, event_bodies


@settings(max_examples=80, deadline=None)
@given(event_bodies(max_size=15), st.booleans())
def test_rollups_from_the_rows_equal_rollups_from_the_models(
    bodies: list[dict[str, Any]], with_parts: bool
) -> None:
    batch = IngestBatch.model_validate(factory.batch("node-1", bodies, parts=None if with_parts else []))
    events, parts = list(batch.events), list(batch.parts)
    columns = event_columns(events, [None] * len(events), T0)
    assert rollup_rows(events, parts, event_columns=columns) == rollup_rows(events, parts)


def test_no_events_give_the_parts_rollups_alone() -> None:
    body = factory.batch("node-1", [factory.event("node-1", at=T0)])
    batch = IngestBatch.model_validate(body)
    parts = list(batch.parts)
    assert rollup_rows([], parts, event_columns={}) == rollup_rows([], parts)
