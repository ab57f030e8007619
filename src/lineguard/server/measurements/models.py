"""One row per measured value: what SPC charts and Cp/Cpk are computed from.

Written by ingest (through this domain's front module) in the batch's transaction, from
the measurements of each newly stored stage result; never written twice for one result
(the result's own idempotency decides, in ingest).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime

__all__ = ["MeasurementRow", "SpcSettingsRow"]

RowId = BigInteger().with_variant(Integer(), "sqlite")


class MeasurementRow(Base):
    __tablename__ = "measurements"
    __table_args__ = (
        # Named: the generated name would pass PostgreSQL's 63-character limit.
        Index("ix_measurements_series", "site_id", "line_id", "station_id", "characteristic", "captured_at"),
        Index(None, "result_id"),
    )

    row_id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    result_id: Mapped[str] = mapped_column(String(128))
    part_verdict_id: Mapped[str | None] = mapped_column(String(128))
    node_id: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    characteristic: Mapped[str] = mapped_column(String(64))
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime)
    value: Mapped[float] = mapped_column(Float)
    uncertainty: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    nominal: Mapped[float | None] = mapped_column(Float)
    lower_limit: Mapped[float | None] = mapped_column(Float)
    upper_limit: Mapped[float | None] = mapped_column(Float)
    in_tolerance: Mapped[bool] = mapped_column(Boolean)


class SpcSettingsRow(Base):
    """How one characteristic is charted, when someone changed it: which Western Electric
    rules are tested (default :data:`~.spc.DEFAULT_RULES` without a row) and where its
    baseline starts (None: at its first value). Changed only through the audited route."""

    __tablename__ = "spc_settings"

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    characteristic: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Rule numbers, comma-separated ("1,2").
    rules: Mapped[str] = mapped_column(String(16))
    #: Values captured at or after this instant form the chart; None: all of them.
    baseline_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    changed_by: Mapped[str] = mapped_column(String(160))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(500))
