"""Daily rollups of plant records: what a total reads instead of every record.

A question like "total order value" sums a measure over every permitted record of a
type; at a million records that is hundreds of thousands of rows per question. The
rollups (``plant_rollups``) hold, per **cell**, the count of records and the count and
sum of their two clear measures (``quantity``, ``amount``). A cell is:

* one **label** — ``category``, ``site_wide``, ``lines_key`` — copied from its records,
  all of which carry exactly that label, so a cell is never less strict than any of its
  sources and the read filter (:func:`~lineguard.server.plantdata.access.labels_condition`)
  applies to it unchanged;
* one record type and one **day** of ``occurred_at`` (UTC), so any whole-day period
  (a month, a year, "last week") is a range of cells;
* one **dimension value** — ``dim`` ``""`` for the records themselves, or ``part``,
  ``party``, ``asset`` with the keyed hash ``dim_h`` of that value — so "top customers
  by order value" and "orders of Zephyr Motors" are sums over cells too.

A rollup reveals nothing the records table does not already hold in the clear
(category, lines, type, time, the two measures, keyed hashes); it is computed from
those columns alone, never from a sealed body. Cells are kept in step in the writer's
transaction: :func:`upsert_records` subtracts a changed record's old contributions and
adds its new ones, and the retention sweep subtracts what it deletes
(:func:`forget_records`, registered on the ``plant_data`` retention category). Emptied
cells are deleted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from lineguard.server.plantdata.models import PlantRecordRow, PlantRollupRow
from lineguard.server.retention import category as retention_category
from lineguard.server.retention import register as register_retention
from lineguard.server.storage import insert_rows

__all__ = ["ROLLUP_DIMENSIONS", "Deltas", "apply_deltas", "contribute", "day_of", "forget_records"]

#: Dimensions a rollup cell can be about (order and lot name one record or a few: no rollup).
ROLLUP_DIMENSIONS = ("part", "party", "asset")
_SUMS = ("records", "quantity_n", "quantity_sum", "amount_n", "amount_sum")
_CHUNK = 500

#: cell key (category, site_wide, lines_key, record_type, day, dim, dim_h) → the five sums.
Deltas = dict[tuple[Any, ...], list[float]]


def day_of(moment: datetime | None) -> str | None:
    """``YYYY-MM-DD`` of ``moment`` in UTC (the rollup day), ``None`` for undated records."""
    return None if moment is None else moment.astimezone(UTC).date().isoformat()


def contribute(deltas: Deltas, values: Mapping[str, Any], sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) one record's contributions to its cells.

    ``values``: the record's row values (``kind``, ``category``, ``site_wide``,
    ``lines_key``, ``record_type``, ``occurred_at``, ``quantity``, ``amount`` and the
    ``<dim>_h`` hashes). Documents contribute nothing (totals are over records).
    """
    if values["kind"] != "record":
        return
    quantity, amount = values["quantity"], values["amount"]
    sums = (
        sign,
        sign if quantity is not None else 0,
        sign * float(quantity or 0.0),
        sign if amount is not None else 0,
        sign * float(amount or 0.0),
    )
    label = (values["category"], bool(values["site_wide"]), values["lines_key"], values["record_type"])
    day = day_of(values["occurred_at"])
    cells = [(*label, day, "", "")]
    cells += [(*label, day, dim, h) for dim in ROLLUP_DIMENSIONS if (h := values.get(f"{dim}_h"))]
    for cell in cells:
        acc = deltas.setdefault(cell, [0, 0, 0.0, 0, 0.0])
        for i, v in enumerate(sums):
            acc[i] += v


def row_values(row: PlantRecordRow) -> dict[str, Any]:
    """The values :func:`contribute` reads, from a stored record."""
    names = ("kind", "category", "site_wide", "lines_key", "record_type", "occurred_at", "quantity", "amount")
    out = {name: getattr(row, name) for name in names}
    out.update({f"{dim}_h": getattr(row, f"{dim}_h") for dim in ROLLUP_DIMENSIONS})
    return out


def _cell_id(cell: tuple[Any, ...]) -> str:
    return hashlib.sha256(json.dumps(cell, separators=(",", ":")).encode()).hexdigest()


def apply_deltas(session: Session, deltas: Deltas) -> None:
    """Add ``deltas`` to their cells (created on first use) and delete cells left empty."""
    rows = []
    for cell, sums in sorted(deltas.items(), key=lambda kv: _cell_id(kv[0])):  # lock order: cell key
        if not any(sums):
            continue
        category, site_wide, lines_key, record_type, day, dim, dim_h = cell
        rows.append(
            {
                "cell": _cell_id(cell),
                "category": category,
                "site_wide": site_wide,
                "lines_key": lines_key,
                "record_type": record_type,
                "day": day,
                "dim": dim,
                "dim_h": dim_h,
                "records": int(sums[0]),
                "quantity_n": int(sums[1]),
                "quantity_sum": float(sums[2]),
                "amount_n": int(sums[3]),
                "amount_sum": float(sums[4]),
            }
        )
    table = cast(Table, PlantRollupRow.__table__)
    for start in range(0, len(rows), _CHUNK):
        insert_rows(session, table, rows[start : start + _CHUNK], on_conflict=["cell"], add_on_conflict=_SUMS)
    shrunk = [r["cell"] for r in rows if r["records"] < 0]
    for start in range(0, len(shrunk), _CHUNK):
        session.execute(
            delete(PlantRollupRow).where(
                PlantRollupRow.cell.in_(shrunk[start : start + _CHUNK]), PlantRollupRow.records <= 0
            )
        )


def forget_records(session: Session, record_ids: Sequence[Any]) -> None:
    """Take records about to be deleted out of their cells (same transaction as the delete)."""
    deltas: Deltas = {}
    ids = [str(r) for r in record_ids]
    for start in range(0, len(ids), _CHUNK):
        for row in session.scalars(
            select(PlantRecordRow).where(PlantRecordRow.record_id.in_(ids[start : start + _CHUNK]))
        ):
            contribute(deltas, row_values(row), -1)
    apply_deltas(session, deltas)


def _register() -> None:
    """The ``plant_data`` retention category subtracts what it expires from the rollups."""
    entry = retention_category("plant_data")
    if entry.before_delete is None:
        register_retention(replace(entry, before_delete=forget_records))


_register()


def contributions_of(rows: Iterable[Mapping[str, Any]]) -> Deltas:
    """Deltas adding every one of ``rows`` (a rebuild, a test's expectation)."""
    deltas: Deltas = {}
    for values in rows:
        contribute(deltas, values, 1)
    return deltas
