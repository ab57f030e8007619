"""One row per PPE counts message: a zone's hour at one camera, small counts already suppressed.

Written by ingest (through this domain's front module) in the batch's transaction, once per
``(node_id, idempotency_key)``. A node restart splits an hour into two rows; the read side
adds them up and suppresses again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime

__all__ = ["PpeCountRow"]

RowId = BigInteger().with_variant(Integer(), "sqlite")


class PpeCountRow(Base):
    __tablename__ = "ppe_counts"
    __table_args__ = (
        UniqueConstraint("node_id", "idempotency_key"),
        Index("ix_ppe_counts_site_line_hour", "site_id", "line_id", "hour_start"),
    )

    row_id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    counts_id: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    node_id: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(64))
    hour_start: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sampled_frames: Mapped[int] = mapped_column(Integer)
    min_count: Mapped[int] = mapped_column(Integer)
    #: None: suppressed (fewer than min_count people in the hour).
    people_seen: Mapped[int | None] = mapped_column(Integer)
    #: Item → sightings lacking it; None values are suppressed counts.
    lacking: Mapped[dict[str, Any]] = mapped_column(JSON)
    classifier: Mapped[str] = mapped_column(String(128))
