"""Part verdicts scored against a ground-truth file (a validation run, the demo's synthetic
line) through the real app (SQLite and PostgreSQL): recall, false-reject and review rate
per part, parts of unknown truth left out, the reader's line scope, and bad files or
windows as clear errors."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lineguard.config.server import DashboardConfig
from lineguard.contracts.errors import InputError
from lineguard.server.auth import Role
from lineguard.server.dashboard import load_ground_truth
from tests.unit.server.auth.harness import AuthHarness, running_harness
from tests.unit.server.dashboard.test_alert_page import T0, _event, ingest

URL = "/api/v1/dashboard/truth"
WINDOW = {"start": (T0 - timedelta(hours=1)).isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}
#: part id → (true defect class or None, the AI's verdict, line)
PARTS: dict[str, tuple[str | None, str, str]] = {
    "part-000001": ("scratch", "fail", "line-1"),  # caught
    "part-000002": ("dent", "uncertain", "line-1"),  # sent to review
    "part-000003": ("dent", "pass", "line-1"),  # missed
    "part-000004": (None, "pass", "line-1"),
    "part-000005": (None, "pass", "line-1"),
    "part-000006": (None, "uncertain", "line-1"),  # good, to review
    "part-000007": (None, "fail", "line-2"),  # false reject, on line 2
    "part-000008": (None, "pass", "line-2"),
}


def write_truth(path: Path, parts: dict[str, str | None], **extra: Any) -> Path:
    body = {"schema_version": 1, "source": "a golden set of 8 parts", "parts": parts} | extra
    path.write_text(json.dumps(body))
    return path


@pytest.fixture
def h(db_url: str, tmp_path: Path) -> Iterator[AuthHarness]:
    truth = {pid: cls for pid, (cls, _, _) in PARTS.items()}
    path = write_truth(tmp_path / "truth.json", truth)
    sections = {"dashboard": DashboardConfig(ground_truth_file=path)}
    with running_harness(db_url, tmp_path / "server", sections=sections) as harness:
        for i, (part, (_, verdict, line)) in enumerate(PARTS.items()):
            ingest(
                harness, line, [_event(line, T0 + timedelta(minutes=i), i, verdict=verdict, part=part)], []
            )
        # A part the file does not know: counted apart, never scored.
        ingest(harness, "line-1", [_event("line-1", T0, 50, verdict="fail", part="P-OTHER")], [])
        yield harness


def test_scores_part_verdicts_against_the_truth(h: AuthHarness) -> None:
    h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    r = h.client.get(URL, params=WINDOW)
    assert r.status_code == 200, r.text
    s = r.json()
    assert (s["defective_parts"], s["defective_failed"], s["defective_flagged"]) == (3, 1, 2)
    assert (s["good_parts"], s["good_failed"], s["good_uncertain"], s["unknown_parts"]) == (5, 1, 1, 1)
    assert (s["recall"], s["recall_flagged"]) == (round(1 / 3, 4), round(2 / 3, 4))
    assert (s["false_reject_rate"], s["review_rate"]) == (0.2, 0.2)
    assert s["source"] == "a golden set of 8 parts"
    assert h.trail.names()[-1] == "access.inspection_read"
    # A window without parts scores nothing (rates None, not 0).
    empty = h.client.get(URL, params={"start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"}).json()
    assert (empty["recall"], empty["false_reject_rate"], empty["good_parts"]) == (None, None, 0)


def test_a_line_scoped_reader_is_scored_on_their_lines_only(h: AuthHarness) -> None:
    h.sign_in(h.add_person("lena", [Role.QUALITY_ENGINEER], lines=["line-2"]))
    s = h.client.get(URL, params=WINDOW).json()
    assert (s["defective_parts"], s["good_parts"], s["good_failed"]) == (0, 2, 1)
    h.sign_in(h.add_person("anna", [Role.AUDITOR]))
    assert h.client.get(URL, params=WINDOW).status_code == 403


def test_bad_windows_are_clear_errors(h: AuthHarness) -> None:
    h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    backwards = h.client.get(URL, params={"start": WINDOW["end"], "end": WINDOW["start"]})
    assert backwards.status_code == 400 and "must be before" in backwards.json()["message"]
    assert h.client.get(URL, params={"start": WINDOW["start"]}).status_code == 422


def test_without_a_ground_truth_file_the_answer_is_null(db_url: str, tmp_path: Path) -> None:
    with running_harness(db_url, tmp_path / "server") as h:
        h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
        r = h.client.get(URL, params=WINDOW)
        assert r.status_code == 200 and r.json() is None


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("not json at all", "not valid"),
        (json.dumps({"schema_version": 2, "source": "x", "parts": {}}), "schema_version"),
        (json.dumps({"schema_version": 1, "source": "x", "parts": {"p": 3}}), "parts.p"),
        (json.dumps({"schema_version": 1, "source": "x", "parts": {}, "extra": 1}), "extra"),
        (None, "cannot be read"),
    ],
)
def test_bad_ground_truth_files_are_refused_saying_what(
    tmp_path: Path, content: str | None, says: str
) -> None:
    path = tmp_path / "truth.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=says):
        load_ground_truth(path)


def test_the_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = write_truth(tmp_path / "truth.json", {"part-1": None})
    assert load_ground_truth(path).parts == {"part-1": None}
    write_truth(path, {"part-1": None, "part-2": "dent"})
    stamp = datetime.now(UTC).timestamp() + 5
    os.utime(path, (stamp, stamp))
    assert load_ground_truth(path).parts == {"part-1": None, "part-2": "dent"}
