"""The rollups of a batch counted from its inserted event rows (``event_columns``, what
ingest does when every event was new) equal the rollups counted from the event models:
same hourly and daily rows, for verdicts, defect classes, cameras, models and times within
one hour or across hours and days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from lineguard.contracts.events import IngestBatch
from lineguard.server.ingest.rollups import rollup_rows
from lineguard.server.ingest.rows import event_columns
from tests.unit.server.ingest import factory

T0 = datetime(2026, 3, 2, 23, 59, 59, 500_000, tzinfo=UTC)
OTHER_MODEL = {"model_id": "mdl_other", "version": 11, "sha256": "cd" * 32}

#: One event's variations: verdict, defect classes, camera, line, model, time offset (ms).
EVENT = st.tuples(
    st.sampled_from(["pass", "fail", "uncertain"]),
    st.lists(st.sampled_from(["scratch", "dent", "crack"]), max_size=3),
    st.sampled_from(["cam-1", "cam-2"]),
    st.sampled_from(["line-1", "line-2"]),
    st.booleans(),
    st.one_of(
        st.integers(min_value=0, max_value=400), st.integers(min_value=-7_200_000, max_value=7_200_000)
    ),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(EVENT, min_size=1, max_size=15), st.booleans())
def test_rollups_from_the_rows_equal_rollups_from_the_models(
    variations: list[tuple[str, list[str], str, str, bool, int]], with_parts: bool
) -> None:
    bodies = [
        factory.event(
            "node-1",
            camera_id=camera,
            line_id=line,
            verdict=verdict,
            defects=tuple(defects),
            at=T0 + timedelta(milliseconds=offset_ms),
            key=f"idk-{i:03d}",
            model=OTHER_MODEL if other_model else None,
        )
        for i, (verdict, defects, camera, line, other_model, offset_ms) in enumerate(variations)
    ]
    batch = IngestBatch.model_validate(factory.batch("node-1", bodies, parts=None if with_parts else []))
    events, parts = list(batch.events), list(batch.parts)
    columns = event_columns(events, [None] * len(events), T0)
    assert rollup_rows(events, parts, event_columns=columns) == rollup_rows(events, parts)


def test_no_events_give_the_parts_rollups_alone() -> None:
    body = factory.batch("node-1", [factory.event("node-1", at=T0)])
    batch = IngestBatch.model_validate(body)
    parts = list(batch.parts)
    assert rollup_rows([], parts, event_columns={}) == rollup_rows([], parts)
