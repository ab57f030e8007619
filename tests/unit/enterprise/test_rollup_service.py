"""The roll-up service over real TLS: plants submit with their certificates, people read by role.

Every refusal is checked to store nothing and to be audited; the audit chain is verified
at the end of the tests that write it, and a tampered entry is found.
"""

from __future__ import annotations

import json
import ssl
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from sqlalchemy import func, select, update

from lineguard.contracts.errors import AuditChainError, ConfigError
from lineguard.enterprise import (
    GRANTS,
    Permission,
    Role,
    create_enterprise_app,
    declared_routes,
    plant_request,
    public_key_file,
    verify_log,
)
from lineguard.enterprise.access import refuse_undeclared_routes
from lineguard.enterprise.models import AuditRow, LineDayRow
from lineguard.server.pki import PlantCa
from tests.support.enterprise import PlantCredentials, Rollup

SUBMIT = "/api/v1/plant/aggregates"


def line_day(
    line: str = "line-1", day: str = "2026-12-01", revision: int = 1, passed: int = 90
) -> dict[str, Any]:
    return {
        "line_id": line,
        "day": day,
        "revision": revision,
        "parts_inspected": passed + 10,
        "parts_passed": passed,
        "parts_failed": 7,
        "parts_uncertain": 3,
        "defect_classes": [{"defect_class": "scratch", "parts": 6}, {"defect_class": "dent", "parts": 2}],
        "alerts": [{"kind": "defect", "severity": "warning", "count": 7}],
    }


def message(plant_id: str, *aggregates: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "plant_id": plant_id,
        "sent_at": "2026-12-02T00:05:00Z",
        "aggregates": list(aggregates),
    }


def stored_rows(rollup: Rollup) -> int:
    with rollup.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(LineDayRow)) or 0)


def audit_names(rollup: Rollup) -> list[str]:
    with rollup.sessions() as session:
        return list(session.scalars(select(AuditRow.name).order_by(AuditRow.seq)))


def test_two_plants_submit_and_a_viewer_reads_both_with_yield(rollup: Rollup, tmp_path: Path) -> None:
    a = rollup.enrol("plant-a", tmp_path / "a")
    b = rollup.enrol("plant-b", tmp_path / "b")
    with rollup.client(a) as client:
        r = client.post(SUBMIT, json=message("plant-a", line_day("line-1"), line_day("line-2", passed=80)))
        assert r.status_code == 200, r.text
        assert r.json() == {"stored": 2, "duplicates": 0, "stale": 0}
    with rollup.client(b) as client:
        assert client.post(SUBMIT, json=message("plant-b", line_day("line-1"))).status_code == 200
    with rollup.client(token=rollup.token(Role.QUALITY_VIEWER)) as viewer:
        r = viewer.get("/api/v1/aggregates", params={"since": "2026-12-01", "until": "2026-12-01"})
    assert r.status_code == 200, r.text
    got = {(d["plant_id"], d["line_id"]): d for d in r.json()}
    assert set(got) == {("plant-a", "line-1"), ("plant-a", "line-2"), ("plant-b", "line-1")}
    assert got[("plant-a", "line-2")]["parts_inspected"] == 90
    assert got[("plant-a", "line-2")]["first_pass_yield"] == round(80 / 90, 6)
    assert got[("plant-b", "line-1")]["defect_classes"] == [
        {"defect_class": "scratch", "parts": 6},
        {"defect_class": "dent", "parts": 2},
    ]
    assert audit_names(rollup).count("enterprise.aggregates_received") == 2
    assert rollup.verify_audit() == len(audit_names(rollup))


def test_a_revision_is_stored_once_and_an_older_one_never_wins(rollup: Rollup, tmp_path: Path) -> None:
    a = rollup.enrol("plant-a", tmp_path / "a")
    with rollup.client(a) as client:
        first = client.post(SUBMIT, json=message("plant-a", line_day(revision=2, passed=50)))
        again = client.post(SUBMIT, json=message("plant-a", line_day(revision=2, passed=50)))
        older = client.post(SUBMIT, json=message("plant-a", line_day(revision=1, passed=10)))
        newer = client.post(SUBMIT, json=message("plant-a", line_day(revision=3, passed=60)))
    assert [r.json() for r in (first, again, older, newer)] == [
        {"stored": 1, "duplicates": 0, "stale": 0},
        {"stored": 0, "duplicates": 1, "stale": 0},
        {"stored": 0, "duplicates": 0, "stale": 1},
        {"stored": 1, "duplicates": 0, "stale": 0},
    ]
    with rollup.sessions() as session:
        row = session.scalars(select(LineDayRow)).one()
    assert (row.revision, row.parts_passed, row.parts_inspected) == (3, 60, 70)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m["aggregates"][0].update(event_id="evt_0193abc"), "aggregates.0.event_id"),
        (lambda m: m["aggregates"][0].update(reviewer="j.smith"), "aggregates.0.reviewer"),
        (lambda m: m.update(evidence_ref="ev_1"), "evidence_ref"),
        (lambda m: m["aggregates"][0].update(parts_passed=1000), "aggregates.0"),
        (lambda m: m["aggregates"].append(dict(m["aggregates"][0])), "(body): Value error, each"),
    ],
    ids=["record-id", "person", "evidence", "counts-disagree", "line-day-twice"],
)
def test_a_message_breaking_the_contract_is_refused_naming_the_field_and_stores_nothing(
    rollup: Rollup, tmp_path: Path, change: Any, field: str
) -> None:
    a = rollup.enrol("plant-a", tmp_path / "a")
    body = message("plant-a", line_day())
    change(body)
    with rollup.client(a) as client:
        r = client.post(SUBMIT, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "contract_invalid"
    assert any(d.startswith(field) for d in r.json()["details"]), r.json()
    assert stored_rows(rollup) == 0
    assert audit_names(rollup)[-1] == "enterprise.aggregates_refused"


def test_not_json_and_too_large_are_refused(rollup: Rollup, tmp_path: Path) -> None:
    a = rollup.enrol("plant-a", tmp_path / "a")
    with rollup.client(a) as client:
        assert client.post(SUBMIT, content=b"{not json").status_code == 422
        big = b"x" * (rollup.config.max_body_bytes + 1)
        r = client.post(SUBMIT, content=big)
    assert r.status_code == 413, r.text
    assert stored_rows(rollup) == 0


def test_a_plant_may_only_submit_its_own_aggregates(rollup: Rollup, tmp_path: Path) -> None:
    a = rollup.enrol("plant-a", tmp_path / "a")
    rollup.enrol("plant-b", tmp_path / "b")
    with rollup.client(a) as client:
        r = client.post(SUBMIT, json=message("plant-b", line_day()))
    assert r.status_code == 403
    assert "plant-a" in r.json()["message"]
    assert stored_rows(rollup) == 0


def test_a_certificate_of_the_rollup_ca_that_was_never_enrolled_is_refused(
    rollup: Rollup, tmp_path: Path
) -> None:
    # Signed by the roll-up's own CA (so the handshake passes) but never recorded as a plant's.
    made = plant_request(tmp_path / "x", plant_id="plant-x")
    ca = PlantCa.load(rollup.config.data_dir, rollup.config.ca_passphrase.resolve())
    issued = ca.issue_node_certificate(
        x509.load_pem_x509_csr(made.csr_file.read_bytes()), node_id="plant-x", days=1
    )
    cert = tmp_path / "x" / "cert.pem"
    cert.write_text(issued.pem, encoding="ascii")
    with rollup.client(PlantCredentials("plant-x", cert, made.key_file)) as client:
        r = client.post(SUBMIT, json=message("plant-x", line_day()))
    assert r.status_code == 403, r.text
    assert stored_rows(rollup) == 0
    with rollup.sessions() as session:
        last = session.scalars(select(AuditRow).order_by(AuditRow.seq.desc())).first()
    assert last is not None and last.name == "enterprise.aggregates_refused"
    assert json.loads(last.payload)["plant_id"] == "plant-x"


def test_a_revoked_plant_and_a_request_without_a_certificate_are_refused(
    rollup: Rollup, tmp_path: Path
) -> None:
    a = rollup.enrol("plant-a", tmp_path / "a")
    with rollup.client(token=rollup.token(Role.PLANT_ADMIN)) as admin:
        assert admin.post("/api/v1/plants/plant-a/revoke").status_code == 200
        assert admin.post("/api/v1/plants/plant-a/revoke").status_code == 409
        assert admin.post("/api/v1/plants/plant-z/revoke").status_code == 404
    with rollup.client(a) as client:
        assert client.post(SUBMIT, json=message("plant-a", line_day())).status_code == 403
    with rollup.client() as anonymous:
        assert anonymous.post(SUBMIT, json=message("plant-a", line_day())).status_code == 401
    assert stored_rows(rollup) == 0
    assert "enterprise.plant_revoked" in audit_names(rollup)


def test_a_certificate_from_another_ca_fails_the_handshake(rollup: Rollup, tmp_path: Path) -> None:
    other = PlantCa.create(tmp_path / "other", rollup.config.ca_passphrase.resolve(), site_id="elsewhere")
    made = plant_request(tmp_path / "o", plant_id="plant-a")
    issued = other.issue_node_certificate(
        x509.load_pem_x509_csr(made.csr_file.read_bytes()), node_id="plant-a", days=1
    )
    cert = tmp_path / "o" / "cert.pem"
    cert.write_text(issued.pem, encoding="ascii")
    with (
        rollup.client(PlantCredentials("plant-a", cert, made.key_file)) as client,
        pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, ssl.SSLError)),
    ):
        client.post(SUBMIT, json=message("plant-a", line_day()))
    assert stored_rows(rollup) == 0


def _route_calls(rollup: Rollup) -> list[tuple[str, str, str]]:
    """(method, concrete path, the one rule it declares) for every API route of the roll-up."""
    calls = []
    for route in declared_routes(create_enterprise_app(rollup.config, rollup.sessions)):
        if not route.is_api:
            continue
        (rule,) = route.rules
        for method in sorted(route.methods):
            calls.append((method, route.path.replace("{plant_id}", "plant-a"), rule))
    return calls


def test_a_route_without_a_declaration_stops_the_app(rollup: Rollup) -> None:
    app = create_enterprise_app(rollup.config, rollup.sessions)

    @app.get("/api/v1/sneaky")
    def sneaky() -> dict[str, str]:
        return {}

    with pytest.raises(ConfigError, match=r"\['GET'\] /api/v1/sneaky: declares 0 rules"):
        refuse_undeclared_routes(app)


def test_every_route_answers_every_role_as_the_grants_say(rollup: Rollup, tmp_path: Path) -> None:
    rollup.enrol("plant-a", tmp_path / "a")
    tokens = {role: rollup.token(role) for role in Role}
    params = {"since": "2026-12-01", "until": "2026-12-01"}
    calls = _route_calls(rollup)
    assert {rule for _m, _p, rule in calls} == {p.value for p in Permission} | {"plant"}
    mismatches = []
    for method, path, rule in calls:
        with rollup.client() as anonymous:
            status = anonymous.request(method, path, params=params).status_code
        if status != 401:
            mismatches.append(f"{method} {path} anonymous: {status}")
        for role, token in tokens.items():
            with rollup.client(token=token) as client:
                status = client.request(method, path, params=params).status_code
            allowed = rule != "plant" and Permission(rule) in GRANTS[role]
            # A plant route wants a certificate, never a token (401); a person's route by role.
            expected = {200} if allowed else ({401} if rule == "plant" else {403})
            if status not in expected:
                mismatches.append(f"{method} {path} as {role.value}: {status}, expected {expected}")
    assert mismatches == []
    assert not any(GRANTS[r] == frozenset(Permission) for r in Role), "no role may hold every permission"
    denied = sum(
        1 for _m, _p, rule in calls for r in Role if rule != "plant" and Permission(rule) not in GRANTS[r]
    )
    assert audit_names(rollup).count("enterprise.access_denied") == denied


def test_a_tampered_audit_entry_is_found(rollup: Rollup, tmp_path: Path) -> None:
    rollup.enrol("plant-a", tmp_path / "a")
    rollup.token(Role.AUDITOR)
    assert rollup.verify_audit() == 1
    with rollup.sessions.begin() as session:
        session.execute(update(AuditRow).where(AuditRow.seq == 1).values(actor="cli:someone-else"))
    with rollup.sessions() as session, pytest.raises(AuditChainError, match="entry 1 was altered"):
        verify_log(session, public_key_file(rollup.config).read_bytes())


def test_the_audit_route_serves_auditors(rollup: Rollup, tmp_path: Path) -> None:
    rollup.enrol("plant-a", tmp_path / "a")
    with rollup.client(token=rollup.token(Role.AUDITOR)) as auditor:
        r = auditor.get("/api/v1/audit")
    assert r.status_code == 200
    assert [e["name"] for e in r.json()] == ["enterprise.plant_enrolled"]
    assert date.fromisoformat(r.json()[0]["recorded_at"][:10])
