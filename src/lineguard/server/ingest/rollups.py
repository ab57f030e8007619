"""The rollup increments of one batch: parts by verdict, frames as a diagnostic.

Aggregated in Python from the rows actually inserted and added to the stored counts in
the batch's transaction (``ON CONFLICT … DO UPDATE SET n = n + excluded.n``), so rollup
counts always equal the raw tables. A part counts in the hour it was first seen, once
in the all-parts row and once per defect class among its decisive frame's regions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import compress, repeat
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
#: A failed verdict as the event rows hold it.
_FAIL_TEXT = Verdict.FAIL._value_


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


def _count_event_columns(
    columns: Mapping[str, Sequence[Any]],
    hours: _Hours,
    counts: dict[tuple[str, str, str, str, datetime, str, int, str], int],
) -> None:
    """Add the frames of the events whose rows are ``columns`` (``ingest.rows.event_columns``)
    to ``counts``, as the per-event loop of :func:`rollup_rows` does.

    The columns the insert was given already hold every field a frame is counted by, so
    nothing is read from the models again: the keys are zipped from them and counted by
    ``Counter`` (in C: one tuple, one hash, one lookup per event), and a batch within one
    hour (most) finds its hour once, from its earliest and latest time. The per-event loop
    costs ~7k instructions an event under callgrind (``rollup_rows`` of a batch)."""
    times = columns["captured_at"]
    first = hours.of(min(times))
    hour: Iterable[datetime] = (
        repeat(first, len(times)) if hours.of(max(times)) is first else [hours.of(at) for at in times]
    )
    frames = Counter(
        zip(
            columns["site_id"],
            columns["line_id"],
            columns["camera_id"],
            columns["model_id"],
            columns["model_version"],
            columns["verdict"],
            hour,
            strict=True,
        )
    )
    count = counts.get
    for (site, line, camera, model_id, version, verdict, at), n in frames.items():
        for column in _FAILED_FRAME if verdict == _FAIL_TEXT else _FRAME:
            counted = (site, line, camera, ALL_PARTS, at, model_id, version, column)
            counts[counted] = count(counted, 0) + n
    regions = columns["regions"]
    for i in compress(range(len(times)), regions):  # the few events with regions: per class too
        at = hours.of(times[i])
        for defect_class in {r["defect_class"] for r in regions[i]}:
            for column in _FAILED_FRAME if columns["verdict"][i] == _FAIL_TEXT else _FRAME:
                counted = (
                    columns["site_id"][i],
                    columns["line_id"][i],
                    columns["camera_id"][i],
                    defect_class,
                    at,
                    columns["model_id"][i],
                    columns["model_version"][i],
                    column,
                )
                counts[counted] = count(counted, 0) + 1


def rollup_rows(
    events: list[InspectionEvent],
    parts: list[PartVerdict],
    *,
    event_columns: Mapping[str, Sequence[Any]] | None = None,
) -> list[TableRows]:
    """The hourly and daily rollup increments: parts by verdict, frames as a diagnostic
    (added to stored counts on conflict). ``event_columns``: the rows of ``events`` as
    inserted (``ingest.rows.event_columns``), to count them from (the same counts)."""
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
    if event_columns is not None and events:
        _count_event_columns(event_columns, hours, counts)
        events = []  # counted
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
