"""The PPE counts contract refuses every message that could single someone out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from lineguard.contracts.events import IngestBatch
from lineguard.contracts.ppe import PpeCounts, suppress

HOUR = dt.datetime(2026, 12, 6, 7, tzinfo=dt.UTC)


def _counts(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "counts_id": "ppe-1",
        "idempotency_key": "node-1:ppe-1",
        "node_id": "node-1",
        "site_id": "plant-a",
        "line_id": "line-1",
        "station_id": "walkway",
        "camera_id": "cam-walk",
        "zone": "aisle",
        "hour_start": HOUR.isoformat(),
        "sampled_frames": 700,
        "min_count": 5,
        "people_seen": 40,
        "items": [{"item": "helmet", "lacking": 6}, {"item": "hi_vis_vest", "lacking": 0}],
        "classifier": "ppe-logreg-v1:abc",
    }
    return doc | over


def test_a_valid_row_round_trips() -> None:
    counts = PpeCounts.model_validate(_counts())
    assert PpeCounts.model_validate_json(counts.model_dump_json()) == counts
    assert not counts.suppressed


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_a_small_lacking_count_must_be_suppressed(count: int) -> None:
    doc = _counts(items=[{"item": "helmet", "lacking": count}])
    with pytest.raises(ValidationError, match=f"lacking helmet={count}"):
        PpeCounts.model_validate(doc)


def test_a_small_hour_suppresses_everything() -> None:
    with pytest.raises(ValidationError, match="people_seen=4"):
        PpeCounts.model_validate(_counts(people_seen=4, items=[{"item": "helmet", "lacking": None}]))
    with pytest.raises(ValidationError, match="every item count must be too"):
        PpeCounts.model_validate(_counts(people_seen=None, items=[{"item": "helmet", "lacking": 0}]))
    row = PpeCounts.model_validate(_counts(people_seen=None, items=[{"item": "helmet", "lacking": None}]))
    assert row.suppressed


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"hour_start": HOUR.replace(minute=7).isoformat()}, "not on the hour"),
        ({"items": [{"item": "gloves", "lacking": 0}]}, "unknown PPE item"),
        ({"items": [{"item": "helmet", "lacking": 0}, {"item": "helmet", "lacking": 0}]}, "repeat"),
        ({"items": [{"item": "helmet", "lacking": 41}]}, "more sightings lacked"),
        ({"min_count": 2}, "greater than or equal to 3"),
        ({"items": []}, "at least 1 item"),
    ],
)
def test_malformed_rows_are_refused(over: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PpeCounts.model_validate(_counts(**over))


def test_no_field_can_carry_a_box_a_frame_or_a_person() -> None:
    """The wire shape is the privacy guarantee: extra fields are refused, and none of these exist."""
    fields = set(PpeCounts.model_fields)
    assert not fields & {
        "box",
        "boxes",
        "frame",
        "frame_id",
        "image",
        "crop",
        "track_id",
        "person_id",
        "captured_at",
    }
    with pytest.raises(ValidationError, match="Extra inputs"):
        PpeCounts.model_validate(_counts(frame_id=3))


def test_suppress() -> None:
    assert [suppress(n, 5) for n in (None, 0, 1, 4, 5, 9)] == [None, 0, None, None, 5, 9]


def test_a_batch_carries_ppe_counts_of_its_own_node_only() -> None:
    row = _counts()
    batch = IngestBatch.model_validate(
        {"node_id": "node-1", "sent_at": HOUR.isoformat(), "ppe_counts": [row]}
    )
    assert batch.ppe_counts[0].zone == "aisle"
    with pytest.raises(ValidationError, match="differs from batch node_id"):
        IngestBatch.model_validate({"node_id": "node-2", "sent_at": HOUR.isoformat(), "ppe_counts": [row]})
