"""The rollup increments of one batch: parts by verdict, frames as a diagnostic.

Aggregated in Python from the rows actually inserted and added to the stored counts in
the batch's transaction (``ON CONFLICT … DO UPDATE SET n = n + excluded.n``), so rollup
counts always equal the raw tables. A part counts in the hour it was first seen, once
in the all-parts row and once per defect class among its decisive frame's regions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table

from lineguard.contracts.events import InspectionEvent, PartVerdict, Verdict
from lineguard.server.ingest.models import ALL_PARTS, RollupDaily, RollupHourly
from lineguard.server.storage import TableRows

__all__ = ["rollup_rows"]

_VERDICT_COLUMN = {"pass": "passed", "fail": "failed", "uncertain": "uncertain"}
#: The frame counters an event adds to: every frame, and a failed one to both.
_FRAME, _FAILED_FRAME = ("frames",), ("frames", "frames_failed")
#: The classes an item without regions counts under; a failed verdict, read once.
_ALL_ONLY, _FAIL = (ALL_PARTS,), Verdict.FAIL


_ONE_HOUR = timedelta(hours=1)


class _Hours:
    """The UTC hour of each moment, the last hour found reused while moments fall in it.

    A batch's events span an hour or two: a comparison (plain fields, the same tzinfo)
    costs ~1k instructions where ``replace`` costs ~10k, and one hour object per batch is
    hashed once as a rollup key instead of once per event."""

    def __init__(self) -> None:
        self.start = self.end = datetime.min.replace(tzinfo=UTC)

    def of(self, moment: datetime) -> datetime:
        if moment.tzinfo is not UTC:  # the contracts' validators already give UTC
            moment = moment.astimezone(UTC)
        if not self.start <= moment < self.end:
            self.start = moment.replace(minute=0, second=0, microsecond=0)
            self.end = self.start + _ONE_HOUR
        return self.start


def rollup_rows(events: list[InspectionEvent], parts: list[PartVerdict]) -> list[TableRows]:
    """The hourly and daily rollup increments: parts by verdict, frames as a diagnostic
    (added to stored counts on conflict)."""
    # A plain dict, not a Counter: ``counter[key] += 1`` on a dict subclass goes through
    # its Python-level item slots (~2k instructions an increment, callgrind).
    counts: dict[tuple[str, str, str, str, datetime, str, int, str], int] = {}
    count = counts.get
    hours = _Hours()
    # Fields read from the models' __dict__ (see ingest.rows.event_row: a pydantic
    # attribute costs ~400 instructions, a dict lookup ~50); the key tuple built once per
    # counted row, the defect classes' set only for items that have regions.
    for part in parts:
        f = part.__dict__
        model = f["model"].__dict__
        site, line, camera = f["site_id"], f["line_id"], f["camera_id"]
        model_id, version = model["model_id"], model["version"]
        hour = hours.of(f["first_seen_at"])
        verdict = _VERDICT_COLUMN[f["verdict"]._value_]  # not .value: enum's descriptor (see rows.event_row)
        classes = (ALL_PARTS, *{r.defect_class for r in f["regions"]}) if f["regions"] else _ALL_ONLY
        for defect_class in classes:
            counted = (site, line, camera, defect_class, hour, model_id, version, verdict)
            counts[counted] = count(counted, 0) + 1
    for event in events:
        f = event.__dict__
        model = f["model"].__dict__
        site, line, camera = f["site_id"], f["line_id"], f["camera_id"]
        model_id, version = model["model_id"], model["version"]
        hour = hours.of(f["captured_at"])
        classes = (ALL_PARTS, *{r.defect_class for r in f["regions"]}) if f["regions"] else _ALL_ONLY
        for column in _FAILED_FRAME if f["verdict"] is _FAIL else _FRAME:
            for defect_class in classes:
                counted = (site, line, camera, defect_class, hour, model_id, version, column)
                counts[counted] = count(counted, 0) + 1
    grouped: dict[tuple[Any, ...], dict[str, int]] = {}
    for (*key, column), n in counts.items():
        row = grouped.setdefault(tuple(key), dict.fromkeys(_COUNT_COLUMNS, 0))
        if column in _VERDICT_COLUMN.values():
            row["inspected"] += n
        row[column] += n
    if not grouped:
        return []
    names = ("site_id", "line_id", "camera_id", "defect_class", "hour", "model_id", "model_version")
    daily: dict[tuple[Any, ...], dict[str, int]] = {}
    for (site, line, camera, defect_class, hour, *release), counts_of in grouped.items():
        day = daily.setdefault(
            (site, line, camera, defect_class, hour.replace(hour=0), *release), dict.fromkeys(counts_of, 0)
        )
        for column, n in counts_of.items():
            day[column] += n
    rollups: list[tuple[Any, dict[tuple[Any, ...], dict[str, int]], str]] = [
        (RollupHourly, grouped, "hour"),
        (RollupDaily, daily, "day"),
    ]
    writes = []
    for rollup, by_key, time_column in rollups:
        table = cast(Table, rollup.__table__)
        columns = [time_column if n == "hour" else n for n in names]
        # Sorted so concurrent batches lock rollup rows in the same order (no deadlocks).
        values = [dict(zip(columns, k, strict=True)) | v for k, v in sorted(by_key.items())]
        writes.append(
            TableRows(
                table, values, on_conflict=[c.name for c in table.primary_key], add_on_conflict=_COUNT_COLUMNS
            )
        )
    return writes


_COUNT_COLUMNS = ("inspected", "passed", "failed", "uncertain", "frames", "frames_failed")
