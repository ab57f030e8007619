"""People's tokens at the roll-up, over real TLS on both engines: they expire, and an
address that keeps presenting wrong tokens is refused every token (a correct one too)
until its failure window passes. Each refusal that names a token is audited.

The plant profile: a certificate the roll-up's own CA signed with the node profile is
refused as a plant even when its fingerprint is enrolled.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from pydantic import ValidationError
from sqlalchemy import select

from lineguard.config.enterprise import EnterpriseServiceConfig
from lineguard.contracts.errors import InputError
from lineguard.enterprise import Role, issue_token, plant_request
from lineguard.enterprise.models import AuditRow, AuthFailureRow, PlantRow
from lineguard.server.pki import PLANT_CERTIFICATE_POLICY, PlantCa, is_plant_certificate
from lineguard.server.storage import utcnow
from tests.support.enterprise import PlantCredentials, Rollup, make_rollup
from tests.unit.enterprise.test_rollup_service import line_day, message

AUDIT = "/api/v1/audit"


def entries(rollup: Rollup, name: str) -> list[tuple[str, dict[str, Any]]]:
    with rollup.sessions() as session:
        rows = session.scalars(select(AuditRow).where(AuditRow.name == name).order_by(AuditRow.seq))
        return [(r.actor, json.loads(r.payload)) for r in rows]


def token_id_of(rollup: Rollup, holder: str) -> str:
    from lineguard.enterprise.models import TokenRow

    with rollup.sessions() as session:
        return str(session.scalars(select(TokenRow.token_id).where(TokenRow.holder == holder)).one())


@pytest.fixture
def limited(tmp_path: Path, db_url: str) -> Any:
    r = make_rollup(tmp_path / "limited", db_url, auth_failures_allowed=3, auth_failure_window_s=2)
    r.start()
    yield r
    r.stop()
    r.engine.dispose()


def test_an_expired_token_is_refused_with_401_and_audited(rollup: Rollup) -> None:
    expired = rollup.token(Role.AUDITOR, expires_at=utcnow() - timedelta(seconds=1))
    valid = rollup.token(Role.QUALITY_VIEWER)
    with rollup.client(token=expired) as c:
        r = c.get(AUDIT)
    assert r.status_code == 401
    assert "expired" in r.json()["message"]
    refused = entries(rollup, "enterprise.token_refused")
    assert len(refused) == 1
    actor, payload = refused[0]
    assert actor.startswith("token:tok_")
    assert payload["reason"] == "expired"
    assert payload["source"] == "127.0.0.1"
    with rollup.client(token=valid) as c:
        assert c.get("/api/v1/plants").status_code == 200
    assert rollup.verify_audit() == 1


def test_token_validity_defaults_to_30_days_and_is_capped(rollup: Rollup) -> None:
    config = rollup.config
    issued = issue_token(
        config, rollup.sessions, holder="QA", role=Role.QUALITY_VIEWER, days=None, actor="cli:t"
    )
    left = issued.expires_at - utcnow()
    assert timedelta(days=29, hours=23) < left <= timedelta(days=30)
    assert issued.secret not in repr(issued)
    week = issue_token(config, rollup.sessions, holder="Audit", role=Role.AUDITOR, days=7, actor="cli:t")
    assert timedelta(days=6, hours=23) < week.expires_at - utcnow() <= timedelta(days=7)
    with pytest.raises(InputError, match="1 to 90 days"):
        issue_token(config, rollup.sessions, holder="X", role=Role.AUDITOR, days=91, actor="cli:t")
    created = entries(rollup, "enterprise.token_created")
    assert [p["holder"] for _a, p in created] == ["QA", "Audit"]  # the refused one made nothing
    assert created[1][1]["expires_at"].startswith(week.expires_at.date().isoformat())
    with pytest.raises(ValidationError, match="token_days"):
        EnterpriseServiceConfig.model_validate(
            {"kind": "enterprise", "data_dir": "/tmp/x", "token_days": 120, "token_max_days": 90}
        )


def test_failed_guesses_block_the_address_even_for_a_correct_token_until_the_window_passes(
    limited: Rollup,
) -> None:
    good = limited.token(Role.AUDITOR)
    good_id = token_id_of(limited, "test auditor")
    for n in range(3):
        with limited.client(token=f"lge_wrong{n}") as c:
            assert c.get(AUDIT).status_code == 401
    blocked = entries(limited, "enterprise.auth_blocked")
    assert blocked == [
        ("system:enterprise.auth", {"failures": 3, "outcome": "denied", "source": "127.0.0.1", "window_s": 2})
    ]

    with limited.client(token=good) as c:
        refused = c.get(AUDIT)
    assert refused.status_code == 429
    assert "failed token checks" in refused.json()["message"]
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 3
    assert entries(limited, "enterprise.token_refused") == [
        (f"token:{good_id}", {"outcome": "denied", "reason": "rate_limited", "source": "127.0.0.1"})
    ]
    # More guesses while blocked are refused and not logged one by one.
    with limited.client(token="lge_wrong-again") as c:
        assert c.get(AUDIT).status_code == 429
    assert len(entries(limited, "enterprise.token_refused")) == 1
    assert len(entries(limited, "enterprise.auth_blocked")) == 1

    time.sleep(wait + 0.2)
    with limited.client(token=good) as c:
        r = c.get(AUDIT)
    assert r.status_code == 200
    assert [e["name"] for e in r.json()] == ["enterprise.auth_blocked", "enterprise.token_refused"]
    assert limited.verify_audit() == 2


def test_a_correct_token_does_not_count_towards_the_limit(limited: Rollup) -> None:
    good = limited.token(Role.QUALITY_VIEWER)
    with limited.client(token=good) as c:
        for _ in range(5):
            assert c.get("/api/v1/plants").status_code == 200
    with limited.client(token="lge_wrong") as c:
        assert c.get("/api/v1/plants").status_code == 401
    with limited.client(token=good) as c:
        assert c.get("/api/v1/plants").status_code == 200
    assert entries(limited, "enterprise.auth_blocked") == []


def test_a_node_profile_certificate_from_the_same_ca_is_refused_as_a_plant(
    rollup: Rollup, tmp_path: Path
) -> None:
    plant = rollup.enrol("plant-a", tmp_path / "a")
    issued = x509.load_pem_x509_certificate(plant.cert_file.read_bytes())
    assert is_plant_certificate(issued)
    policies = issued.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier for p in policies] == [PLANT_CERTIFICATE_POLICY]
    assert issued.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "LineGuard plant"

    # A node certificate signed by the roll-up's CA, its fingerprint even written into
    # the plant table (a mistaken enrolment, or a database write): still not a plant.
    made = plant_request(tmp_path / "node", plant_id="plant-b")
    ca = PlantCa.load(rollup.config.data_dir, rollup.config.ca_passphrase.resolve())
    node = ca.issue_node_certificate(
        x509.load_pem_x509_csr(made.csr_file.read_bytes()), node_id="plant-b", days=1
    )
    assert not is_plant_certificate(node.certificate)
    with rollup.sessions.begin() as session:
        session.add(PlantRow(plant_id="plant-b", fingerprint=node.fingerprint_sha256, enrolled_at=utcnow()))
    cert_file = tmp_path / "node" / "node.crt.pem"
    cert_file.write_text(node.pem, encoding="ascii")
    body = message("plant-b", line_day())
    with rollup.client(PlantCredentials("plant-b", cert_file, made.key_file)) as c:
        r = c.post("/api/v1/plant/aggregates", json=body)
    assert r.status_code == 403
    assert "plant profile" in r.json()["message"]
    refused = entries(rollup, "enterprise.aggregates_refused")
    assert refused[-1][1]["plant_id"] == "plant-b"
    assert "not a plant certificate" in refused[-1][1]["reason"]
    with rollup.client(plant) as c:
        ok = c.post("/api/v1/plant/aggregates", json={**body, "plant_id": "plant-a"})
    assert ok.status_code == 200, ok.text


def test_simultaneous_wrong_guesses_never_overshoot_the_limit(tmp_path: Path, db_url: str) -> None:
    """16 wrong tokens from one address at once, limit 3: the limit check, the token check
    and the failure's count are one transaction under the address's lock, so exactly 3 are
    checked (401) and counted, every other one is refused unchecked (429), and the block is
    audited once. (With check and count in separate transactions, every guess in flight
    passed the check before any was counted.)"""
    rollup = make_rollup(tmp_path / "r", db_url, auth_failures_allowed=3, auth_failure_window_s=600)
    rollup.start()
    try:
        guesses = 16
        start = threading.Barrier(guesses)
        clients = [rollup.client(token=f"lge_wrong{n}") for n in range(guesses)]

        def guess(n: int) -> int:
            start.wait(timeout=30)
            return clients[n].get(AUDIT).status_code

        with ThreadPoolExecutor(max_workers=guesses) as pool:
            statuses = sorted(pool.map(guess, range(guesses)))
        for client in clients:
            client.close()
    finally:
        rollup.stop()
    assert statuses == [401] * 3 + [429] * (guesses - 3)
    with rollup.sessions() as session:
        counted = session.scalars(select(AuthFailureRow.source)).all()
    assert counted == ["127.0.0.1"] * 3
    assert entries(rollup, "enterprise.auth_blocked") == [
        (
            "system:enterprise.auth",
            {"failures": 3, "outcome": "denied", "source": "127.0.0.1", "window_s": 600},
        )
    ]
    rollup.engine.dispose()
