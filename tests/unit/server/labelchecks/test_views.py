"""The label-check routes through the real app (SQLite and PostgreSQL): label results stored by
the real ingest service, counted per station by outcome with the fields that differed, the
latest checks linked to their part's record, line scoping and bad windows refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from lineguard.server.auth import Role
from lineguard.server.labelchecks import Outcome, outcome_of
from lineguard.server.nodes import NodeIdentity
from tests.support.stage_results import ingest, label_part
from tests.unit.server.auth.harness import AuthHarness, running_harness

STATIONS = "/api/v1/label-checks/stations"
RECENT = "/api/v1/label-checks/recent"
#: Line 1's label station: what each part's check found ((code, field) reasons; None: passed).
LINE_1: list[list[tuple[str, str]] | str | None] = [
    None,
    [("mismatch", "lot")],
    None,
    [("mismatch", "lot"), ("mismatch", "date")],
    [("unreadable", "code")],
    [("upside_down", "label")],
    "no_expected_label",
    None,
]


@pytest.fixture
def h(db_url: str, tmp_path: Path) -> Iterator[AuthHarness]:
    with running_harness(db_url, tmp_path / "server") as harness:
        site = harness.runtime.site
        start = harness.clock.now - timedelta(hours=2)
        for line, station, checks in (("line-1", "st-label", LINE_1), ("line-2", "st-label-2", [None, None])):
            node = NodeIdentity(f"n-{line}", site, line, frozenset({"cam-lbl"}), "s1")
            events, parts, results = [], [], []
            for i, check in enumerate(checks):
                reasons = [("no_expected_label", "label")] if check == "no_expected_label" else check or []
                verdict = "uncertain" if check == "no_expected_label" else None
                event, part, result = label_part(
                    node,
                    camera_id="cam-lbl",
                    station_id=station,
                    at=start + timedelta(minutes=i),
                    reasons=reasons,  # type: ignore[arg-type]
                    verdict=verdict,
                    frame_id=i + 1,
                )
                events.append(event)
                parts.append(part)
                results.append(result)
            ingest(
                harness.context, node, events=events, parts=parts, stage_results=results, audit=harness.trail
            )
        yield harness


def _window(h: AuthHarness) -> dict[str, str]:
    return {"start": (h.clock.now - timedelta(hours=3)).isoformat(), "end": h.clock.now.isoformat()}


def _get(h: AuthHarness, path: str, **params: Any) -> Any:
    r = h.client.get(path, params=_window(h) | params)
    assert r.status_code == 200, r.text
    return r.json()


def test_each_station_counts_its_checks_by_outcome_and_names_the_fields_that_differed(h: AuthHarness) -> None:
    h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    before = len(h.trail.of("access.inspection_read"))
    stations = {s["station_id"]: s for s in _get(h, STATIONS)}
    assert set(stations) == {"st-label", "st-label-2"}
    one = stations["st-label"]
    assert {k: one[k] for k in ("checks", "read", "mismatch", "unreadable", "upside_down", "not_judged")} == {
        "checks": 8,
        "read": 3,
        "mismatch": 2,
        "unreadable": 1,
        "upside_down": 1,
        "not_judged": 1,
    }
    assert one["fields"] == {"lot": 2, "date": 1}
    assert list(one["fields"]) == ["lot", "date"]  # most frequent first
    assert (stations["st-label-2"]["checks"], stations["st-label-2"]["read"]) == (2, 2)
    assert len(h.trail.of("access.inspection_read")) == before + 1


def test_the_latest_checks_link_each_part_to_its_record_newest_first(h: AuthHarness) -> None:
    h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    failed = _get(h, RECENT, line_id="line-1", station_id="st-label", failed_only="true")
    assert [c["outcome"] for c in failed] == [
        "not_judged",
        "upside_down",
        "unreadable",
        "mismatch",
        "mismatch",
    ]
    both = failed[3]
    assert [(r["code"], r["subject"]) for r in both["reasons"]] == [("mismatch", "lot"), ("mismatch", "date")]
    assert all(c["record_event_id"] and c["record_event_id"].startswith("evt") for c in failed)
    record = h.client.get(f"/api/v1/dashboard/records/{both['record_event_id']}")
    assert record.status_code == 200, record.text
    assert record.json()["station_id"] == "st-label"
    assert len(_get(h, RECENT, limit=3)) == 3
    assert len(_get(h, RECENT)) == 10


def test_a_person_granted_one_line_sees_only_its_label_station(h: AuthHarness) -> None:
    h.sign_in(h.add_person("lena", [Role.QUALITY_ENGINEER], lines=["line-2"]))
    assert [s["station_id"] for s in _get(h, STATIONS)] == ["st-label-2"]
    assert {c["line_id"] for c in _get(h, RECENT)} == {"line-2"}
    refused = h.client.get(RECENT, params=_window(h) | {"line_id": "line-1"})
    assert refused.status_code == 403


def test_bad_windows_and_people_without_the_permission_are_refused(h: AuthHarness) -> None:
    h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    now = h.clock.now
    reversed_window = {"start": now.isoformat(), "end": (now - timedelta(hours=1)).isoformat()}
    r = h.client.get(STATIONS, params=reversed_window)
    assert r.status_code == 400 and "is not before end" in r.json()["message"]
    too_long = {"start": (now - timedelta(days=40)).isoformat(), "end": now.isoformat()}
    r = h.client.get(RECENT, params=too_long)
    assert r.status_code == 400 and "at most 31 days" in r.json()["message"]
    assert h.client.get(RECENT, params={"limit": 0}).status_code == 422
    h.client.cookies.clear()
    h.sign_in(h.add_person("ada", [Role.AUDITOR]))
    assert h.client.get(STATIONS).status_code == 403


@pytest.mark.parametrize(
    ("verdict", "codes", "outcome"),
    [
        ("pass", [], Outcome.READ),
        ("fail", ["mismatch"], Outcome.MISMATCH),
        ("fail", ["upside_down", "mismatch"], Outcome.MISMATCH),
        ("fail", ["upside_down"], Outcome.UPSIDE_DOWN),
        ("fail", ["upside_down", "unreadable"], Outcome.UNREADABLE),
        ("fail", ["missing"], Outcome.UNREADABLE),
        ("fail", ["bad_checksum"], Outcome.UNREADABLE),
        ("fail", ["ambiguous"], Outcome.UNREADABLE),
        ("uncertain", ["region_outside_frame"], Outcome.NOT_JUDGED),
    ],
)
def test_outcomes_follow_the_reason_codes(verdict: str, codes: list[str], outcome: Outcome) -> None:
    assert outcome_of(verdict, codes) is outcome
