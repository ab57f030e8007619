"""Audit and retention routes through the real app: the auditor reads and verifies, others get 403."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import text

from lineguard.contracts.audit import EvidenceAccessed, IngestBatchAccepted
from lineguard.crypto import KdfParams, Keyring
from lineguard.server.audit import AuditSigner, create_checkpoint, record
from lineguard.server.auth.catalog import Role
from lineguard.server.auth.dependencies import CSRF_HEADER
from lineguard.server.storage import create_engine_for, session_factory
from tests.unit.server.auth.harness import MATRIX_SITE, running_harness


def test_auditor_reads_and_verifies_the_log_others_are_refused(db_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    with running_harness(db_url, data_dir) as h:
        keyring = Keyring.create(
            tmp_path / "k.json", SecretStr("views test"), kdf=KdfParams.insecure_for_tests()
        )
        signer = AuditSigner.load_or_create(data_dir / "audit", keyring)
        engine = create_engine_for(db_url)
        sessions = session_factory(engine)
        for i in range(7):
            with sessions.begin() as session:
                record(session, EvidenceAccessed(evidence_ref=f"evd_{i}"), actor="user:qe")
        with sessions.begin() as session:
            create_checkpoint(session, signer, site_id=MATRIX_SITE)

        auditor = h.add_person("a.auditor", [Role.AUDITOR])
        h.sign_in(auditor)
        entries = h.client.get("/api/v1/audit/entries", params={"after_seq": 2, "limit": 3}).json()
        assert [e["seq"] for e in entries] == [3, 4, 5]
        newest = h.client.get("/api/v1/audit/entries", params={"limit": 2, "name_prefix": "access."}).json()
        assert [e["seq"] for e in newest] == [7, 6] and newest[0]["payload"]["evidence_ref"] == "evd_6"
        older = h.client.get("/api/v1/audit/entries", params={"before_seq": 3}).json()
        assert [e["seq"] for e in older] == [2, 1]
        assert h.client.get("/api/v1/audit/checkpoints").json()[0]["seq"] == 7
        assert h.client.get("/api/v1/audit/public-key").text.startswith("-----BEGIN PUBLIC KEY-----")
        report = h.client.get("/api/v1/audit/verification").json()
        assert (report["ok"], report["entries"], report["last_checkpoint_seq"]) == (True, 7, 7)
        assert [n for n in h.trail.names() if n == "access.audit_read"] == ["access.audit_read"] * 6

        with sessions.begin() as session:  # an insider edits an entry in the database
            session.execute(text("UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 4"))
        broken = h.client.get("/api/v1/audit/verification").json()
        assert broken["ok"] is False and broken["code"] == "audit_chain_broken"
        assert broken["error"].startswith("entry 4 was altered")

        engineer = h.add_person("q.engineer", [Role.QUALITY_ENGINEER])
        h.sign_in(engineer)
        assert h.client.get("/api/v1/audit/entries").status_code == 403
        engine.dispose()


def test_legal_holds_through_the_api(db_url: str, tmp_path: Path) -> None:
    with running_harness(db_url, tmp_path / "server") as h:
        admin = h.add_person("i.admin", [Role.IT_ADMINISTRATOR])
        csrf = h.sign_in(admin)
        placed = h.client.post(
            "/api/v1/retention/holds",
            json={"category": "alerts", "record_id": "alr_1", "reason": "complaint 17"},
            headers={CSRF_HEADER: csrf},
        )
        assert placed.status_code == 201, placed.text
        hold_id = placed.json()["hold_id"]
        assert [x["hold_id"] for x in h.client.get("/api/v1/retention/holds").json()] == [hold_id]
        unknown = h.client.post(
            "/api/v1/retention/holds",
            json={"category": "nope", "record_id": "x", "reason": "y"},
            headers={CSRF_HEADER: csrf},
        )
        assert unknown.status_code == 400 and "unknown data category" in unknown.text
        released = h.client.post(
            f"/api/v1/retention/holds/{hold_id}/release",
            json={"reason": "closed"},
            headers={CSRF_HEADER: csrf},
        )
        assert released.status_code == 200 and released.json()["released_at"]
        assert {"retention.hold_placed", "retention.hold_released"} <= set(h.trail.names())
        assert h.client.get("/api/v1/retention/holds").json()[0]["released_by"] == "user:i.admin"


def test_retention_policy_through_the_api(db_url: str, tmp_path: Path) -> None:
    with running_harness(db_url, tmp_path / "server") as h:
        admin = h.add_person("i.admin", [Role.IT_ADMINISTRATOR])
        csrf = h.sign_in(admin)
        assert h.client.get("/api/v1/retention/policy").json()["alerts_days"] == 365
        changed = h.client.put(
            "/api/v1/retention/policy",
            json={"alerts_days": 90, "audit_log_days": 2555},
            headers={CSRF_HEADER: csrf},
        )
        assert changed.status_code == 200 and changed.json()["alerts_days"] == 90
        assert h.client.get("/api/v1/retention/policy").json()["alerts_days"] == 90
        assert h.trail.of("config.changed") == [
            {"outcome": "success", "setting": "retention.alerts_days", "before": "365", "after": "90"}
        ]
        too_short = h.client.put(
            "/api/v1/retention/policy", json={"audit_log_days": 30}, headers={CSRF_HEADER: csrf}
        )
        assert too_short.status_code == 400 and "audit_log_days" in too_short.text
        unknown = h.client.put("/api/v1/retention/policy", json={"nope_days": 3}, headers={CSRF_HEADER: csrf})
        assert unknown.status_code == 400 and "unknown retention settings" in unknown.text
        assert h.client.get("/api/v1/retention/sweeps").json() == []


def test_entries_by_time_window_and_without_machine_events(db_url: str, tmp_path: Path) -> None:
    """The audit page's filters: a time range (``[since, until)``) and names left out
    (``exclude``), so people's actions show between the ingest batches."""
    with running_harness(db_url, tmp_path / "server") as h:
        engine = create_engine_for(db_url)
        sessions = session_factory(engine)
        t0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
        for minute in range(6):
            with sessions.begin() as session:
                actor, event = (
                    ("node:edge-1", IngestBatchAccepted(node_id="edge-1", batch_id=f"b{minute}", events=3))
                    if minute % 3
                    else ("user:qe", EvidenceAccessed(evidence_ref=f"evd_{minute}"))
                )
                record(session, event, actor=actor, now=t0 + timedelta(minutes=minute, seconds=7))
        h.sign_in(h.add_person("a.auditor", [Role.AUDITOR]))
        url = "/api/v1/audit/entries"
        people = h.client.get(url, params={"exclude": ["ingest.", "auth."]}).json()
        assert [(e["actor"], e["recorded_at"][11:19]) for e in people] == [
            ("user:qe", "08:03:07"),
            ("user:qe", "08:00:07"),
        ]
        window = {
            "since": (t0 + timedelta(minutes=1)).isoformat(),
            "until": (t0 + timedelta(minutes=3)).isoformat(),
        }
        assert [e["recorded_at"][14:19] for e in h.client.get(url, params=window).json()] == [
            "02:07",
            "01:07",
        ]
        backwards = {"since": window["until"], "until": window["since"]}
        r = h.client.get(url, params=backwards)
        assert r.status_code == 400 and "must be before" in r.json()["message"]
        assert h.client.get(url, params={"since": "last tuesday"}).status_code == 422
        assert h.client.get(url, params={"exclude": ["x" * 65]}).status_code == 422
        engine.dispose()
