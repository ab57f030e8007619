"""The thermal routes through the real app (SQLite and PostgreSQL): readings, alarms and a
maintenance recommendation stored by the real ingest service; each asset's latest temperature
against its band, a series thinned without hiding its peak, the alarm list, line scoping, and
who may read equipment temperatures (maintenance data)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from lineguard.server.auth import Role
from lineguard.server.nodes import NodeIdentity
from tests.support.stage_results import ingest, thermal_alarm, thermal_reading, thermal_recommendation
from tests.unit.server.auth.harness import AuthHarness, running_harness

ASSETS = "/api/v1/thermal/assets"
SERIES = "/api/v1/thermal/series"
ALARMS = "/api/v1/thermal/alarms"
READINGS = 36  # one every 10 minutes for 6 hours
PEAK_AT = 20  # the motor's one hot reading, mid-series


def _motor(i: int) -> float:
    heating = max(0, i - 24) * 0.5  # the last two hours heat 3 °C/h
    return 99.0 if i == PEAK_AT else 45.0 + heating


@pytest.fixture
def h(db_url: str, tmp_path: Path) -> Iterator[AuthHarness]:
    with running_harness(db_url, tmp_path / "server") as harness:
        site, now = harness.runtime.site, harness.clock.now
        start = now - timedelta(hours=6)
        for line in ("line-1", "line-2"):
            node = NodeIdentity(f"n-{line}", site, line, frozenset({"cam-th"}), "s1")
            where = {"camera_id": "cam-th", "station_id": "st-motor"}
            results = [
                thermal_reading(
                    node,
                    at=start + timedelta(minutes=10 * i),
                    assets={
                        "motor": (_motor(i), 41.0, 49.0, max(0, i - 24) * 0.45),
                        "wall": (22.0, 20.0, 24.0, 0.0),
                    },
                    **where,
                )
                for i in range(READINGS)
            ]
            at = start + timedelta(minutes=10 * (READINGS - 2))
            results += [
                thermal_alarm(node, at=at, asset="motor", value=50.5, limit=49.0, **where),
                thermal_recommendation(
                    node, at=at + timedelta(minutes=5), asset="motor", trend=4.6, limit=4.0, **where
                ),
            ]
            ingest(harness.context, node, stage_results=results, audit=harness.trail)
        yield harness


def _window(h: AuthHarness) -> dict[str, str]:
    return {"start": (h.clock.now - timedelta(hours=7)).isoformat(), "end": h.clock.now.isoformat()}


def _get(h: AuthHarness, path: str, **params: Any) -> Any:
    r = h.client.get(path, params=_window(h) | params)
    assert r.status_code == 200, r.text
    return r.json()


def test_each_asset_shows_its_latest_temperature_against_its_band_and_its_alarms(h: AuthHarness) -> None:
    h.sign_in(h.add_person("tom", [Role.MAINTENANCE_TECHNICIAN], mfa=False))
    before = len(h.trail.of("access.plant_data_read"))
    assets = {(a["line_id"], a["asset"]): a for a in _get(h, ASSETS)}
    assert set(assets) == {(line, a) for line in ("line-1", "line-2") for a in ("motor", "wall")}
    motor = assets[("line-1", "motor")]
    assert (motor["max_c"], motor["band_low_c"], motor["band_centre_c"], motor["band_high_c"]) == (
        50.5,
        41.0,
        45.0,
        49.0,
    )
    assert (
        motor["in_band"] is False
        and motor["trend_c"] == pytest.approx(4.95)
        and motor["trend_limit_c"] == 4.0
    )
    assert (motor["alarms"], motor["last_alarm_kind"], motor["recommendations"]) == (1, "hot_spot", 1)
    wall = assets[("line-1", "wall")]
    assert (wall["in_band"], wall["alarms"], wall["recommendations"]) == (True, 0, 0)
    assert len(h.trail.of("access.plant_data_read")) == before + 1
    # The recommendation is also a review item a technician decides on (ingest opened it).
    items = h.client.get("/api/v1/reviews/thermal_maintenance", params={"line_id": "line-1"})
    assert items.status_code == 200, items.text
    assert [(i["ai_proposal"]["asset"], i["state"]) for i in items.json()] == [("motor", "new")]


def test_a_series_is_thinned_to_the_points_asked_for_without_hiding_its_peak(h: AuthHarness) -> None:
    h.sign_in(h.add_person("tom", [Role.MAINTENANCE_TECHNICIAN], mfa=False))
    where = {"line_id": "line-1", "camera_id": "cam-th", "asset": "motor"}
    full = _get(h, SERIES, **where)
    assert (full["readings"], len(full["points"]), full["trend_limit_c"]) == (READINGS, READINGS, 4.0)
    assert [p["max_c"] for p in full["points"]] == [_motor(i) for i in range(READINGS)]
    assert [a["kind"] for a in full["alarms"]] == ["maintenance_recommended", "hot_spot"]
    thin = _get(h, SERIES, **where, max_points=10)
    assert thin["readings"] == READINGS and len(thin["points"]) <= 10
    assert max(p["max_c"] for p in thin["points"]) == 99.0
    times = [p["at"] for p in thin["points"]]
    assert times == sorted(times)
    missing = h.client.get(SERIES, params=_window(h) | where | {"asset": "gearbox"})
    assert missing.status_code == 404 and "gearbox" in missing.json()["message"]


def test_the_alarm_list_is_newest_first_and_scoped_to_the_callers_lines(h: AuthHarness) -> None:
    h.sign_in(h.add_person("max", [Role.MAINTENANCE_TECHNICIAN], mfa=False, lines=["line-2"]))
    alarms = _get(h, ALARMS)
    assert [(a["line_id"], a["kind"], a["asset"]) for a in alarms] == [
        ("line-2", "maintenance_recommended", "motor"),
        ("line-2", "hot_spot", "motor"),
    ]
    assert (alarms[1]["value"], alarms[1]["limit"]) == (50.5, 49.0)
    assert {a["line_id"] for a in _get(h, ASSETS)} == {"line-2"}
    assert h.client.get(ALARMS, params=_window(h) | {"line_id": "line-1"}).status_code == 403
    series = h.client.get(
        SERIES, params=_window(h) | {"line_id": "line-1", "camera_id": "cam-th", "asset": "motor"}
    )
    assert series.status_code == 403


def test_equipment_temperatures_are_maintenance_data_and_bad_windows_are_refused(h: AuthHarness) -> None:
    h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    assert h.client.get(ASSETS).status_code == 403
    h.client.cookies.clear()
    h.sign_in(h.add_person("sam", [Role.PRODUCTION_SUPERVISOR]))
    assert h.client.get(ASSETS, params=_window(h)).status_code == 200
    now = h.clock.now
    r = h.client.get(ALARMS, params={"start": now.isoformat(), "end": now.isoformat()})
    assert r.status_code == 400 and "is not before end" in r.json()["message"]
    bad = h.client.get(SERIES, params={"line_id": "line 1", "camera_id": "cam-th", "asset": "motor"})
    assert bad.status_code == 422
