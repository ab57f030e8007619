"""Hypothesis over a PPE camera's saved open hour (``edge/ppe/open_hour.py``, built on
``crypto.read_digested``): whatever bytes are on disk (damaged, truncated, edited, or a valid digest
over hostile content), loading either returns an hour the tally can take up safely (counts never
negative, no item lacking more often than seen, no unknown item, on the hour, this camera's) or raises
IntegrityError / InputError; never anything else."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lineguard.contracts.errors import InputError, IntegrityError
from lineguard.contracts.ppe import PPE_ITEMS
from lineguard.edge.ppe.open_hour import OpenHourFile

ints = st.one_of(st.integers(-3, 50), st.just(10**9), st.text(max_size=3), st.none())


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    hour = draw(st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 1, 1)))
    if draw(st.booleans()):
        hour = hour.replace(minute=0, second=0, microsecond=0)
    zones = draw(
        st.dictionaries(
            st.sampled_from(["aisle", "dock", "Bad Name!", ""]),
            st.fixed_dictionaries(
                {
                    "counts_id": st.sampled_from(["ppe-1", "", "x" * 200]),
                    "frames": ints,
                    "seen": ints,
                    "lacking": st.dictionaries(st.sampled_from([*PPE_ITEMS, "gloves"]), ints, max_size=3),
                }
            ),
            max_size=2,
        )
    )
    body: dict[str, Any] = {
        "schema_version": draw(st.sampled_from([1, 1, 1, 2, "1"])),
        "camera_id": draw(st.sampled_from(["cam-walk", "cam-walk", "cam-other"])),
        "hour_start": hour.isoformat() + draw(st.sampled_from(["Z", "+00:00", "", "+02:00"])),
        "zones": zones,
    }
    if draw(st.integers(0, 9)) == 0:
        body["extra"] = "x"
    return body


def _write(path: Path, body: dict[str, Any], damage: bytes | None) -> None:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    raw = json.dumps(body | {"sha256": hashlib.sha256(canonical).hexdigest()}).encode()
    path.write_bytes(raw if damage is None else raw[: len(raw) // 2] + damage)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies(), damage=st.one_of(st.none(), st.none(), st.binary(max_size=8)))
def test_a_saved_open_hour_is_taken_up_only_when_it_is_safe_to(
    body: dict[str, Any], damage: bytes | None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cam-walk.open-hour.json"
        _write(path, body, damage)
        try:
            hour = OpenHourFile(path).load("cam-walk")
        except (IntegrityError, InputError):
            return
    assert hour is not None and hour.camera_id == "cam-walk"
    assert (hour.hour_start.minute, hour.hour_start.second, hour.hour_start.microsecond) == (0, 0, 0)
    for zone in hour.zones.values():
        assert zone.frames >= 0 and zone.seen >= 0 and zone.lacking
        assert set(zone.lacking) <= set(PPE_ITEMS)
        assert all(0 <= n <= zone.seen for n in zone.lacking.values())
