from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest
from pydantic import ValidationError

from lineguard.contracts.errors import ContractError, PayloadTooLargeError
from lineguard.contracts.events import IngestBatch, InspectionEvent, Verdict
from lineguard.contracts.ids import new_id, new_ids, uuid7
from lineguard.contracts.validation import parse_message


def make_event(**overrides: object) -> dict[str, object]:
    event: dict[str, object] = {
        "event_id": new_id("evt"),
        "idempotency_key": new_id("idem"),
        "node_id": "node-1",
        "site_id": "plant-a",
        "line_id": "line-1",
        "station_id": "st-10",
        "camera_id": "cam-1",
        "part_id": "P-000123",
        "frame_id": 42,
        "captured_at": datetime(2026, 11, 22, 8, 0, tzinfo=UTC).isoformat(),
        "model": {"model_id": "tile-v1", "version": 3, "sha256": "ab" * 32},
        "verdict": "fail",
        "anomaly_score": 0.91,
        "threshold": 0.5,
        "regions": [
            {"defect_class": "anomaly", "score": 0.91, "bbox": {"x": 1, "y": 2, "width": 30, "height": 40}}
        ],
        "evidence_ref": new_id("ev"),
        "latency_ms": 12.5,
    }
    event.update(overrides)
    return event


def test_valid_event_round_trips_through_json() -> None:
    raw = json.dumps(make_event()).encode()
    event = parse_message(InspectionEvent, raw)
    assert event.verdict is Verdict.FAIL
    assert event.regions[0].bbox.width == 30
    assert parse_message(InspectionEvent, event.model_dump_json().encode()) == event


def test_captured_at_is_normalised_to_utc() -> None:
    local = datetime(2026, 11, 22, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    event = InspectionEvent.model_validate(make_event(captured_at=local.isoformat()))
    assert event.captured_at == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert event.captured_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"captured_at": "2026-11-22T08:00:00"}, "captured_at: must be timezone-aware (UTC)"),
        ({"verdict": "maybe"}, "verdict:"),
        ({"anomaly_score": float("nan")}, "anomaly_score: must be a finite number"),
        ({"frame_id": -1}, "frame_id: must be >= 0"),
        ({"evidence_ref": "data:image/png;base64,iVBORw0KGgo="}, "evidence_ref: must match"),
        ({"model": {"model_id": "m", "version": 1, "sha256": "xyz"}}, "model.sha256: must match"),
        ({"image": "aGVsbG8="}, "image: is not a known setting"),
        (
            {
                "regions": [
                    {"defect_class": "anomaly", "score": 1, "bbox": {"x": 0, "y": 0, "width": 0, "height": 1}}
                ]
            },
            "regions[0].bbox.width: must be > 0",
        ),
    ],
)
def test_invalid_event_names_the_field(overrides: dict[str, object], expected: str) -> None:
    raw = json.dumps(make_event(**overrides), allow_nan=True).encode()
    with pytest.raises(ContractError) as info:
        parse_message(InspectionEvent, raw)
    assert any(line.startswith(expected) for line in info.value.details), info.value.details


@pytest.mark.parametrize("offset", ["Z", "+00:00", "-00:00", "+01:00", "-05:30", "+14:00"])
def test_captured_at_from_the_wire_is_the_same_instant_in_utc(offset: str) -> None:
    text = f"2026-11-22T09:00:00.123456{offset}"
    raw = json.dumps(make_event(captured_at=text)).encode()
    event = parse_message(InspectionEvent, raw)
    assert event.captured_at == datetime.fromisoformat(text)
    assert event.captured_at.tzinfo is UTC


class _NoOffset(tzinfo):
    """A tzinfo that does not know its offset: the time is not timezone-aware."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


def test_a_tzinfo_without_an_offset_is_refused() -> None:
    naive_in_disguise = datetime(2026, 11, 22, 9, 0, tzinfo=_NoOffset())
    with pytest.raises(ValidationError, match="must be timezone-aware"):
        InspectionEvent.model_validate(make_event(captured_at=naive_in_disguise))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", '"nan"', '"inf"'])
@pytest.mark.parametrize("field", ["anomaly_score", "threshold", "latency_ms"])
def test_non_finite_numbers_are_refused_from_the_wire(literal: str, field: str) -> None:
    # latency_ms has a bound (ge=0): a NaN there is named as not finite, not as "< 0".
    raw = json.dumps(make_event(**{field: 1.0})).replace(f'"{field}": 1.0', f'"{field}": {literal}')
    with pytest.raises(ContractError) as info:
        parse_message(InspectionEvent, raw.encode())
    assert info.value.details == [f"{field}: must be a finite number"]


def test_oversized_payload_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadTooLargeError, match="limit is 1024"):
        parse_message(InspectionEvent, b"{" + b" " * 2000 + b"}", max_bytes=1024)


def test_malformed_json_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match="invalid InspectionEvent"):
        parse_message(InspectionEvent, b"{not json")


def test_batch_rejects_items_of_another_node() -> None:
    batch = {
        "node_id": "node-1",
        "sent_at": datetime.now(UTC).isoformat(),
        "events": [make_event(node_id="node-2")],
    }
    with pytest.raises(ContractError, match="differs from batch node_id"):
        parse_message(IngestBatch, json.dumps(batch).encode())


def test_batch_size_is_bounded() -> None:
    batch = {"node_id": "node-1", "sent_at": datetime.now(UTC).isoformat(), "events": [make_event()] * 501}
    with pytest.raises(ContractError, match="events: must have at most 500 items"):
        parse_message(IngestBatch, json.dumps(batch).encode(), max_bytes=10_000_000)


def test_uuid7_is_time_ordered_and_versioned() -> None:
    a, b = uuid7(now_ms=1_000), uuid7(now_ms=2_000)
    assert a.version == 7 and b.version == 7
    assert a.int < b.int
    assert new_id("evt").startswith("evt_")


def test_new_ids_are_what_new_id_makes_and_all_different() -> None:
    ids = new_ids("dek", 200)
    assert len(set(ids)) == 200
    for text in ids:
        prefix, hex_digits = text.split("_")
        value = uuid.UUID(hex_digits)
        assert (prefix, value.version, value.variant) == ("dek", 7, uuid.RFC_4122)
    assert new_ids("dek", 0) == []
    assert len(new_id("dek")) == len(ids[0])


def test_new_ids_carry_the_clock_and_74_random_bits() -> None:
    before = time.time_ns() // 1_000_000
    values = [uuid.UUID(text.split("_")[1]).int for text in new_ids("evt", 4000)]
    after = time.time_ns() // 1_000_000
    assert all(before <= value >> 80 <= after for value in values)
    # rand_a (12 bits) and rand_b (62 bits): every bit is 0 in some id and 1 in another.
    random_bits = [*range(64, 76), *range(62)]
    for bit in random_bits:
        ones = sum(value >> bit & 1 for value in values)
        assert 1500 < ones < 2500, f"bit {bit} is 1 in {ones} of 4000 ids"
    assert {value >> 62 & 0b11 for value in values} == {0b10}
