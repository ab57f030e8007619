"""Retention fixtures: a migrated database on each engine, envelope encryption on the server table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session, sessionmaker

from lineguard.crypto import Envelope, KdfParams, Keyring
from lineguard.server.ingest.models import AlertRow, InspectionEventRow
from lineguard.server.keystore import BUCKETED_CATEGORIES, SqlDataKeyStore, hour_bucket
from lineguard.server.storage import session_factory, upgrade_to_head
from tests.support.sealed_v1 import seal_v1

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    upgrade_to_head(engine)
    return session_factory(engine)


@pytest.fixture
def envelope(sessions: sessionmaker[Session], tmp_path: Path) -> Envelope:
    keyring = Keyring.create(
        tmp_path / "keyring.json", SecretStr("retention tests"), kdf=KdfParams.insecure_for_tests()
    )
    return Envelope(keyring, SqlDataKeyStore(sessions), bucketed=BUCKETED_CATEGORIES)


def event_row(
    key: str,
    at: datetime,
    *,
    part_id_sealed: bytes | None = None,
    evidence_ref: str | None = None,
    verdict: str = "fail",
) -> dict[str, Any]:
    """An ``inspection_events`` row of node-1 captured at ``at``, as ingest would store it."""
    return {
        "event_id": f"evt_{key}",
        "idempotency_key": key,
        "node_id": "node-1",
        "site_id": "plant-a",
        "line_id": "line-1",
        "station_id": "st-1",
        "camera_id": "cam-1",
        "part_id_sealed": part_id_sealed,
        "frame_id": 1,
        "captured_at": at,
        "received_at": at,
        "model_id": "m",
        "model_version": 1,
        "model_sha256": "0" * 64,
        "verdict": verdict,
        "anomaly_score": 0.9,
        "threshold": 0.5,
        "regions": [],
        "evidence_ref": evidence_ref,
        "latency_ms": 12.0,
    }


def add_event(
    sessions: sessionmaker[Session],
    envelope: Envelope,
    key: str,
    age_days: float,
    *,
    evidence: bool = True,
    sealed_v1: bool = False,
    bucketed: bool = False,
) -> bytes:
    """One inspection event captured ``age_days`` before NOW; returns its sealed part id
    (``sealed_v1``: in the format servers wrote before sealed v2; ``bucketed``: under its
    line-hour bucket's key, as ingest seals now; otherwise under a key of its own, as
    ingest sealed before buckets)."""
    plaintext, object_id = f"part-{key}".encode(), f"node-1:{key}"
    at = NOW - timedelta(days=age_days)
    if bucketed:
        bucket = hour_bucket("plant-a", "line-1", at)
        sealed = envelope.seal_in_buckets([(object_id, bucket, plaintext)], category="inspection_events")[0]
    elif sealed_v1:
        sealed = seal_v1(
            envelope.keys, envelope.store, plaintext, object_id=object_id, category="inspection_events"
        )
    else:
        sealed = envelope.seal(plaintext, object_id=object_id, category="inspection_events")
    row = event_row(key, at, part_id_sealed=sealed, evidence_ref=f"evd_{key}" if evidence else None)
    with sessions.begin() as session:
        session.execute(insert(InspectionEventRow), [row])
    return sealed


def alert_row(key: str, at: datetime, *, message_sealed: bytes = b"m") -> dict[str, Any]:
    """An ``alerts`` row of node-1 raised at ``at``, as ingest would store it."""
    return {
        "alert_id": f"alr_{key}",
        "idempotency_key": key,
        "node_id": "node-1",
        "site_id": "plant-a",
        "line_id": "line-1",
        "camera_id": "cam-1",
        "kind": "defect",
        "severity": "high",
        "raised_at": at,
        "received_at": at,
        "message_sealed": message_sealed,
    }


def add_alert(sessions: sessionmaker[Session], envelope: Envelope, key: str, age_days: float) -> bytes:
    sealed = envelope.seal(b"scratch on part", object_id=f"node-1:{key}", category="alerts")
    with sessions.begin() as session:
        session.execute(
            insert(AlertRow), [alert_row(key, NOW - timedelta(days=age_days), message_sealed=sealed)]
        )
    return sealed
