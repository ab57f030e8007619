"""Tables of plant data: records, the lines they sit on, the keyed term index, the index key.

``plant_records`` holds one row per record or document, unique per
``(site_id, source, source_key)`` so an import or a sync upserts. Its body (every field,
the document text) is sealed; what stays in the clear is what the read filter and the
structured queries need: category, kind, record type, date, the two measures
(``quantity``, ``amount``) and keyed hashes of the lookup dimensions (see
:mod:`.index`). ``plant_record_lines`` lists a record's lines (none: the whole site);
``plant_terms`` is the posting list of the search index. Both go with their record
(``ON DELETE CASCADE``), so the retention sweep deletes one row per record.
``plant_rollups`` holds daily counts and sums of the records' clear measures per label,
record type and lookup dimension (:mod:`.rollups`), kept in step with every write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime, utcnow

__all__ = [
    "DIMENSIONS",
    "PlantIndexKeyRow",
    "PlantRecordLineRow",
    "PlantRecordRow",
    "PlantRollupRow",
    "PlantTermRow",
]

#: Lookup dimensions of a structured record, each a keyed-hash column ``<name>_h``.
DIMENSIONS = ("part", "order", "party", "asset", "lot")


class PlantRecordRow(Base):
    __tablename__ = "plant_records"
    __table_args__ = (
        UniqueConstraint("site_id", "source", "source_key"),
        Index(None, "category", "record_type", "occurred_at"),
        # Citations list a figure's records by source key: walked in order, stopped at the first few.
        Index(None, "record_type", "source_key"),
        Index(None, "category", "lines_key", "record_type"),
        Index(None, "imported_at"),
        Index(None, "part_h"),
        Index(None, "order_h"),
        Index(None, "party_h"),
        Index(None, "asset_h"),
        Index(None, "lot_h"),
    )

    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # record | document
    site_wide: Mapped[bool] = mapped_column(Boolean)
    #: The record's lines, sorted and joined with ``|`` (None: the whole site): the read
    #: filter tests "every line granted" as ``lines_key IN (subsets of the granted lines)``.
    lines_key: Mapped[str | None] = mapped_column(String(400))
    source: Mapped[str] = mapped_column(String(64))
    source_key: Mapped[str] = mapped_column(String(200))
    record_type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    quantity: Mapped[float | None] = mapped_column(Float)
    amount: Mapped[float | None] = mapped_column(Float)
    part_h: Mapped[str | None] = mapped_column(String(16))
    order_h: Mapped[str | None] = mapped_column(String(16))
    party_h: Mapped[str | None] = mapped_column(String(16))
    asset_h: Mapped[str | None] = mapped_column(String(16))
    lot_h: Mapped[str | None] = mapped_column(String(16))
    body_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    content_h: Mapped[str] = mapped_column(String(64))
    #: Record ids a derived record was computed from (its label is the strictest of theirs).
    derived_from: Mapped[list[Any]] = mapped_column(JSON, default=list)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(160))


class PlantRecordLineRow(Base):
    __tablename__ = "plant_record_lines"
    __table_args__ = (Index(None, "line_id", "record_id"),)

    record_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("plant_records.record_id", ondelete="CASCADE"), primary_key=True
    )
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class PlantTermRow(Base):
    __tablename__ = "plant_terms"
    __table_args__ = (Index(None, "record_id"),)

    term_h: Mapped[str] = mapped_column(String(16), primary_key=True)
    record_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("plant_records.record_id", ondelete="CASCADE"), primary_key=True
    )


class PlantIndexKeyRow(Base):
    """The index key of a site, sealed under the keyring (one row per site)."""

    __tablename__ = "plant_index_keys"

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PlantRollupRow(Base):
    """Counts and sums of the clear measures of the records in one cell.

    A cell is one label (``category``, ``site_wide``, ``lines_key`` — exactly the label
    of every record in it, so the read filter applies to it unchanged), one record type,
    one day (``YYYY-MM-DD`` of ``occurred_at``, ``None``: undated) and one dimension
    value (``dim`` ``""``: the records themselves; ``part``/``party``/``asset``: those
    whose keyed hash of that dimension is ``dim_h``). ``cell`` is its key as one string.
    """

    __tablename__ = "plant_rollups"
    __table_args__ = (
        Index(None, "record_type", "dim", "category", "lines_key", "day"),
        # Named things are matched by hash across types (queries.match_entities).
        Index(None, "dim_h"),
    )

    cell: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    site_wide: Mapped[bool] = mapped_column(Boolean)
    lines_key: Mapped[str | None] = mapped_column(String(400))
    record_type: Mapped[str] = mapped_column(String(64))
    day: Mapped[str | None] = mapped_column(String(10))
    dim: Mapped[str] = mapped_column(String(8))
    dim_h: Mapped[str] = mapped_column(String(16))
    records: Mapped[int] = mapped_column(Integer)
    quantity_n: Mapped[int] = mapped_column(Integer)
    quantity_sum: Mapped[float] = mapped_column(Float)
    amount_n: Mapped[int] = mapped_column(Integer)
    amount_sum: Mapped[float] = mapped_column(Float)
