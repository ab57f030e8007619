"""The rollup increments of one batch: parts by verdict, frames as a diagnostic.

Aggregated in Python from the rows actually inserted and added to the stored counts in
the batch's transaction (``ON CONFLICT … DO UPDATE SET n = n + excluded.n``), so rollup
counts always equal the raw tables. A part counts in the hour it was first seen, once
in the all-parts row and once per defect class among its decisive frame's regions.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table

from lineguard.contracts.events import InspectionEvent, PartVerdict, Verdict
from lineguard.server.ingest.models import ALL_PARTS, RollupDaily, RollupHourly
from lineguard.server.storage import TableRows

__all__ = ["rollup_rows"]

_VERDICT_COLUMN = {"pass": "passed", "fail": "failed", "uncertain": "uncertain"}


def _hour(moment: datetime) -> datetime:
    if moment.tzinfo is not UTC:  # the contracts' validators already give UTC
        moment = moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def rollup_rows(events: list[InspectionEvent], parts: list[PartVerdict]) -> list[TableRows]:
    """The hourly and daily rollup increments: parts by verdict, frames as a diagnostic
    (added to stored counts on conflict)."""
    counts: Counter[tuple[str, str, str, str, datetime, str, int, str]] = Counter()
    for part in parts:
        model = (part.model.model_id, part.model.version)
        base = (part.site_id, part.line_id, part.camera_id)
        hour = _hour(part.first_seen_at)
        verdict = _VERDICT_COLUMN[part.verdict.value]
        counts[(*base, ALL_PARTS, hour, *model, verdict)] += 1
        for defect_class in {r.defect_class for r in part.regions}:
            counts[(*base, defect_class, hour, *model, verdict)] += 1
    for event in events:
        model = (event.model.model_id, event.model.version)
        base = (event.site_id, event.line_id, event.camera_id)
        hour = _hour(event.captured_at)
        columns = ["frames", "frames_failed"] if event.verdict is Verdict.FAIL else ["frames"]
        for column in columns:
            counts[(*base, ALL_PARTS, hour, *model, column)] += 1
            for defect_class in {r.defect_class for r in event.regions}:
                counts[(*base, defect_class, hour, *model, column)] += 1
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
