"""Hypothesis over the PPE counts contract: whatever a node (or an attacker holding a node's
certificate) sends, a message the contract accepts never carries a count from 1 to min_count - 1,
never more lacking than seen, and never an item count beside a suppressed hour; and the server's
stored row keeps that true for its own, larger minimum."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from lineguard.contracts.ppe import PPE_ITEMS, PpeCounts
from lineguard.server.ppe import ppe_row

counts = st.one_of(st.none(), st.integers(min_value=-2, max_value=60))
hours = st.datetimes(
    min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 1, 1), timezones=st.just(dt.UTC)
)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    # Mostly well-formed (so the invariants are checked on many accepted messages), sometimes not.
    if draw(st.integers(0, 9)) == 0:
        items = draw(st.lists(st.sampled_from([*PPE_ITEMS, "gloves"]), min_size=0, max_size=3))
    else:
        items = draw(st.lists(st.sampled_from(PPE_ITEMS), min_size=1, max_size=2, unique=True))
    hour = draw(hours)
    if draw(st.integers(0, 9)) > 0:
        hour = hour.replace(minute=0, second=0, microsecond=0)
    return {
        "counts_id": "ppe-1",
        "idempotency_key": "n1:ppe-1",
        "node_id": "n1",
        "site_id": "plant-a",
        "line_id": "line-1",
        "station_id": "walkway",
        "camera_id": "cam-walk",
        "zone": "aisle",
        "hour_start": hour.isoformat(),
        "sampled_frames": draw(st.integers(min_value=0, max_value=1000)),
        "min_count": draw(st.integers(min_value=1, max_value=12)),
        "people_seen": draw(counts),
        "items": [{"item": i, "lacking": draw(counts)} for i in items],
        "classifier": "ppe-logreg-v1:abc",
    }


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages(), st.integers(min_value=3, max_value=20))
def test_an_accepted_message_can_single_nobody_out(doc: dict[str, Any], server_min: int) -> None:
    try:
        message = PpeCounts.model_validate(doc)
    except ValidationError:
        return
    k = message.min_count
    values = [message.people_seen, *(i.lacking for i in message.items)]
    assert all(v is None or v == 0 or v >= k for v in values)
    assert message.hour_start.minute == 0 and message.hour_start.second == 0
    if message.people_seen is None:
        assert all(i.lacking is None for i in message.items)
    else:
        assert all(i.lacking is None or i.lacking <= message.people_seen for i in message.items)
    row = ppe_row(message, None, dt.datetime.now(dt.UTC), min_count=server_min)
    stored = [row["people_seen"], *row["lacking"].values()]
    assert row["min_count"] == max(k, server_min)
    assert all(v is None or v == 0 or v >= row["min_count"] for v in stored)
