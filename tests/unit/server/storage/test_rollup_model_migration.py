"""Revision ingest_0002 puts the model into the hourly rollup's key without changing a
figure: rows counted before it keep their counts under the unknown model, and the
downgrade sums the models of each old key back together (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Engine, text

from lineguard.server.storage import alembic_config

HOUR = datetime(2026, 3, 2, 6, tzinfo=UTC)
KEY = {"site_id": "plant-a", "defect_class": "", "hour": HOUR, "line_id": "line-1", "camera_id": "cam-1"}


def _rows(engine: Engine, columns: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT {columns} FROM rollup_hourly ORDER BY 1, 2"))]


def test_existing_counts_move_to_the_unknown_model_and_back(empty_engine: Engine) -> None:
    cfg = alembic_config(empty_engine)
    command.upgrade(cfg, "protect_0002")
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO rollup_hourly (site_id, defect_class, hour, line_id, camera_id,"
                " inspected, passed, failed, uncertain)"
                " VALUES (:site_id, :defect_class, :hour, :line_id, :camera_id, 10, 7, 2, 1)"
            ),
            KEY,
        )
    command.upgrade(cfg, "ingest_0002")
    assert _rows(empty_engine, "model_id, model_version, inspected, passed, failed, uncertain") == [
        ("", 0, 10, 7, 2, 1)
    ]
    with empty_engine.begin() as conn:  # a second model under the same old key
        conn.execute(
            text(
                "INSERT INTO rollup_hourly (site_id, defect_class, hour, line_id, camera_id,"
                " model_id, model_version, inspected, passed, failed, uncertain)"
                " VALUES (:site_id, :defect_class, :hour, :line_id, :camera_id, 'mdl_tile', 3, 5, 5, 0, 0)"
            ),
            KEY,
        )
    command.downgrade(cfg, "protect_0002")
    assert _rows(empty_engine, "line_id, camera_id, inspected, passed, failed, uncertain") == [
        ("line-1", "cam-1", 15, 12, 2, 1)
    ]
    command.upgrade(cfg, "ingest_0002")  # and up again, from the merged rows
    assert _rows(empty_engine, "model_id, model_version, inspected") == [("", 0, 15)]
    command.upgrade(cfg, "ingest_0004")  # the daily rollup starts as the sum of the hours
    with empty_engine.connect() as conn:
        daily = conn.execute(
            text("SELECT model_id, model_version, inspected, passed FROM rollup_daily")
        ).all()
    assert [tuple(r) for r in daily] == [("", 0, 15, 12)]
