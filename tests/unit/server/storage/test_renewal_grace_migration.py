"""``nodes_0003``: certificates issued before it count as in use (``first_seen_at`` = ``issued_at``),
so the first request after an upgrade takes the cheap admission path instead of writing a
first use per node; up and down on both engines."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from lineguard.server.storage import alembic_config, create_engine_for, upgrade_to_head

BEFORE, AFTER = "evidence_0005", "nodes_0003"
ISSUED = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)


def test_existing_certificates_are_taken_as_seen_and_the_migration_goes_both_ways(empty_db_url: str) -> None:
    engine = create_engine_for(empty_db_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, BEFORE)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO nodes (node_id, site_id, line_id, camera_ids, status, enrolled_at)"
                    " VALUES ('node-a', 'plant-a', 'line-1', '[\"cam-1\"]', 'active', :at)"
                ),
                {"at": ISSUED},
            )
            conn.execute(
                text(
                    "INSERT INTO node_certificates (serial, node_id, fingerprint_sha256, not_before,"
                    " not_after, issued_at) VALUES ('0a', 'node-a', :fp, :at, :at, :at)"
                ),
                {"fp": "ab" * 32, "at": ISSUED},
            )
        command.upgrade(config, AFTER)
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT first_seen_at, issued_at, accepted_until, superseded_by, public_key_sha256,"
                    " certificate_pem FROM node_certificates WHERE serial = '0a'"
                )
            ).one()
        assert row[0] is not None and row[0] == row[1]
        assert row[2:] == (None, None, None, None)
        command.downgrade(config, BEFORE)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM node_certificates")).scalar() == 1
        upgrade_to_head(engine)
    finally:
        engine.dispose()
