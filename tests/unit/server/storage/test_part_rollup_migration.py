"""Revision ingest_0006: rollup rows counted before it counted frames, so their counts move
to the frame columns and their part counts become 0 (parts cannot be recovered: part ids
are sealed per record); the downgrade puts the frame counts back (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Engine, text

from lineguard.server.storage import alembic_config

HOUR = datetime(2026, 3, 2, 6, tzinfo=UTC)
KEY = {"site_id": "plant-a", "defect_class": "", "line_id": "line-1", "camera_id": "cam-1", "at": HOUR}
COUNTS = "inspected, passed, failed, uncertain, frames, frames_failed"


def _counts(engine: Engine, table: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT {COUNTS} FROM {table}"))]


def test_frame_counts_move_to_the_frame_columns_and_back(empty_engine: Engine) -> None:
    cfg = alembic_config(empty_engine)
    command.upgrade(cfg, "ingest_0005")
    with empty_engine.begin() as conn:
        for table, time_column in (("rollup_hourly", "hour"), ("rollup_daily", "day")):
            conn.execute(
                text(
                    f"INSERT INTO {table} (site_id, defect_class, {time_column}, line_id, camera_id,"
                    " model_id, model_version, inspected, passed, failed, uncertain)"
                    " VALUES (:site_id, :defect_class, :at, :line_id, :camera_id, 'mdl', 1, 60, 48, 9, 3)"
                ),
                KEY,
            )
    command.upgrade(cfg, "ingest_0006")
    hourly, daily = _counts(empty_engine, "rollup_hourly"), _counts(empty_engine, "rollup_daily")
    assert hourly == daily == [(0, 0, 0, 0, 60, 9)]
    command.downgrade(cfg, "ingest_0005")
    with empty_engine.connect() as conn:
        rows = conn.execute(text("SELECT inspected, passed, failed, uncertain FROM rollup_hourly")).all()
    assert [tuple(r) for r in rows] == [(60, 51, 9, 0)]  # frames back; pass/uncertain split is not kept
