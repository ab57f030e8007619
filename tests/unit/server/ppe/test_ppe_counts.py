"""PPE counts on the server (SQLite and PostgreSQL): ingest stores them suppressed with the server's
own minimum, the route adds split hours up and suppresses again, only production supervisors of the
line read them (each read audited), and retention deletes old hours."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lineguard.config.server import RetentionConfig, SafetyConfig
from lineguard.contracts.errors import PermissionDeniedError
from lineguard.contracts.events import IngestBatch
from lineguard.server.auth import Role
from lineguard.server.ingest import service as ingest
from lineguard.server.nodes import NodeIdentity
from lineguard.server.ppe import PpeCountRow
from tests.unit.server.auth.harness import AuthHarness, running_harness

COUNTS = "/api/v1/ppe/counts"


def _counts(
    h: AuthHarness, key: str, hour: datetime, seen: int | None, helmet: int | None, **over: Any
) -> dict[str, Any]:
    return {
        "counts_id": key,
        "idempotency_key": f"n1:{key}",
        "node_id": "n1",
        "site_id": h.runtime.site,
        "line_id": "line-1",
        "station_id": "walkway",
        "camera_id": "cam-walk",
        "zone": "aisle",
        "hour_start": hour.isoformat(),
        "sampled_frames": 100,
        "min_count": 3,
        "people_seen": seen,
        "items": [
            {"item": "helmet", "lacking": helmet},
            {"item": "hi_vis_vest", "lacking": 0 if seen else None},
        ],
        "classifier": "ppe-logreg-v1:abc",
    } | over


def _ingest(h: AuthHarness, *rows: dict[str, Any], camera: str = "cam-walk") -> None:
    node = NodeIdentity("n1", h.runtime.site, "line-1", frozenset({camera}), "serial-1")
    batch = IngestBatch.model_validate(
        {"node_id": "n1", "sent_at": datetime.now(UTC).isoformat(), "ppe_counts": list(rows)}
    )
    with h.context.sessions() as session:
        ingest.ingest_batch(
            session, node=node, batch=batch, sealer=h.context.sealer, audit=h.context.audit, ppe_min_count=5
        )


@pytest.fixture
def h(db_url: str, tmp_path: Path) -> Iterator[AuthHarness]:
    with running_harness(
        db_url, tmp_path / "server", sections={"safety": SafetyConfig(ppe_min_count=5)}
    ) as harness:
        yield harness


def _hour(h: AuthHarness, back: int) -> datetime:
    return (datetime.now(UTC) - timedelta(hours=back)).replace(minute=0, second=0, microsecond=0)


def test_counts_are_stored_suppressed_with_the_servers_minimum(h: AuthHarness) -> None:
    _ingest(
        h,
        _counts(h, "a", _hour(h, 2), 40, 4),
        _counts(h, "b", _hour(h, 3), 4, None, items=[{"item": "helmet", "lacking": None}]),
    )
    _ingest(h, _counts(h, "a", _hour(h, 2), 40, 4))  # the same message again: stored once
    with h.context.sessions() as s:
        rows = {r.counts_id: r for r in s.scalars(select(PpeCountRow))}
    assert set(rows) == {"a", "b"}
    # The node's minimum was 3; the server's is 5: a lacking count of 4 is not kept, 0 is.
    assert (rows["a"].people_seen, rows["a"].lacking, rows["a"].min_count) == (
        40,
        {"helmet": None, "hi_vis_vest": 0},
        5,
    )
    assert (rows["b"].people_seen, rows["b"].lacking) == (None, {"helmet": None})


def test_the_route_adds_split_hours_up_and_suppresses_the_sums(h: AuthHarness) -> None:
    hour = _hour(h, 1)
    # A node restart split the hour: 3 + 3 sightings, each row suppressed alone; 6 together is shown.
    _ingest(
        h,
        _counts(h, "p1", hour, 30, 6),
        _counts(h, "p2", hour, 12, 0),
        _counts(h, "q1", _hour(h, 2), 20, 5),
        _counts(h, "q2", _hour(h, 2), None, None, items=[{"item": "helmet", "lacking": None}]),
    )
    h.sign_in(h.add_person("sam", [Role.PRODUCTION_SUPERVISOR]))
    r = h.client.get(COUNTS, params={"hours": 6})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["min_count"] == 5 and "sightings" in body["note"]
    first, second = body["hours"]
    assert first["hour_start"].startswith(hour.isoformat()[:13]) and first["people_seen"] == 42
    assert first["lacking"] == {"helmet": 6, "hi_vis_vest": 0} and not first["suppressed"]
    # Part of the earlier hour was suppressed at the node: the whole hour shows as suppressed.
    assert (
        second["people_seen"] is None and second["suppressed"] and set(second["lacking"].values()) == {None}
    )
    assert h.trail.names()[-1] == "access.inspection_read"


def test_only_production_supervisors_of_the_line_read_ppe_counts(h: AuthHarness) -> None:
    _ingest(h, _counts(h, "a", _hour(h, 1), 40, 10))
    for role in (
        Role.QUALITY_ENGINEER,
        Role.MAINTENANCE_TECHNICIAN,
        Role.EXTERNAL_PARTNER,
        Role.IT_ADMINISTRATOR,
    ):
        lines = ["line-1"] if role is Role.EXTERNAL_PARTNER else None
        h.sign_in(h.add_person(f"p-{role.value}".replace("_", "-")[:30], [role], lines=lines))
        assert h.client.get(COUNTS).status_code == 403, role
    h.sign_in(h.add_person("other-line", [Role.PRODUCTION_SUPERVISOR], lines=["line-2"]))
    assert h.client.get(COUNTS).json()["hours"] == []


def test_a_node_cannot_send_counts_for_a_camera_it_does_not_own(h: AuthHarness) -> None:
    with pytest.raises(PermissionDeniedError, match="not node n1's to write") as refused:
        _ingest(h, _counts(h, "a", _hour(h, 1), 40, 10), camera="cam-other")
    assert refused.value.details == ["ppe_counts[0].camera_id: 'cam-walk' is not enrolled for node 'n1'"]
    with h.context.sessions() as s:
        assert s.scalars(select(PpeCountRow)).all() == []


def test_retention_deletes_old_hours(h: AuthHarness) -> None:
    from lineguard.server.retention import run_sweep

    _ingest(h, _counts(h, "old", _hour(h, 24 * 100), 40, 10), _counts(h, "new", _hour(h, 1), 40, 10))
    result = run_sweep(h.context.sessions, RetentionConfig(ppe_counts_days=90), now=datetime.now(UTC))
    assert result.deleted["ppe_counts"] == 1
    with h.context.sessions() as s:
        assert [r.counts_id for r in s.scalars(select(PpeCountRow))] == ["new"]


def test_two_reports_of_one_hour_never_differ_by_a_count_below_the_minimum(h: AuthHarness) -> None:
    """Differencing: a reader who saw an hour before and after its second part arrived (an older node
    that splits hours at a restart, or zones changed) learns the second part only when it is 0 or at
    least the minimum; a small one turns the whole hour into "suppressed". The node suppressed with 3,
    the server stores with 5: parts of 3 and 4 are hidden too."""
    h.sign_in(h.add_person("sam", [Role.PRODUCTION_SUPERVISOR]))
    k = 5

    def seen(hour: datetime) -> int | None:
        body = h.client.get(COUNTS, params={"hours": 24}).json()
        (row,) = [r for r in body["hours"] if r["hour_start"].startswith(hour.isoformat()[:13])]
        return row["people_seen"]  # type: ignore[no-any-return]

    for back, second_part in enumerate([0, 1, 2, 3, 4, 5, 9], start=1):
        hour = _hour(h, back)
        _ingest(h, _counts(h, f"d{back}a", hour, 30, 6))
        before = seen(hour)
        node_side = None if 0 < second_part < 3 else second_part
        _ingest(h, _counts(h, f"d{back}b", hour, node_side, 0 if node_side is not None else None))
        after = seen(hour)
        assert before == 30
        if 0 < second_part < k:
            assert after is None  # nothing to subtract
        else:
            assert after is not None and after - before == second_part
