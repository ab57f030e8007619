"""The doctor on a deliberately incomplete plant (each missing item detected, with evidence
and a fix) and on a plant where those items were put right (they pass)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from lineguard.cli.main import cli
from lineguard.server.auth import Role
from lineguard.server.governance import GROUPS, DoctorReport, doctor
from lineguard.server.nodes import NodeCertificate
from lineguard.server.pki import PlantCa, retire_previous_ca, start_ca_rotation
from tests.unit.server.governance.plant import (
    NOW,
    OWNERS,
    PASSPHRASE,
    Plant,
    open_plant,
    write_edge_config,
)


@pytest.fixture(autouse=True)
def _home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean home (no telemetry leftovers) and the keyring passphrase in the environment."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("LINEGUARD_KEYRING_PASSPHRASE", PASSPHRASE)
    return home


@pytest.fixture
def plant(db_url: str, tmp_path: Path) -> Iterator[Plant]:
    with open_plant(db_url, tmp_path / "server") as p:
        yield p


def _run(plant: Plant, *, now=NOW) -> DoctorReport:  # type: ignore[no-untyped-def]
    with plant.sessions() as session:
        return doctor(session, settings=plant.settings, now=now)


def _by_id(report: DoctorReport) -> dict[str, tuple[str, str, str | None]]:
    return {r.id: (r.status, r.evidence, r.fix) for r in report.results}


def test_an_incomplete_plant_fails_each_missing_item_with_evidence_and_a_fix(plant: Plant) -> None:
    # A shared account, as restored from an old backup (creating one is refused today).
    plant.rename(plant.add_person("ivan.it", [Role.IT_ADMINISTRATOR]), "admin")
    plant.add_person("quinn.quality", [Role.QUALITY_ENGINEER], mfa=False)  # MFA role without TOTP
    plant.add_person("old.timer", [Role.PRODUCTION_SUPERVISOR], last_login=NOW - timedelta(days=61))
    plant.add_person("pat.partner", [Role.EXTERNAL_PARTNER], lines=["line-1"], until=NOW + timedelta(days=5))

    checks = _by_id(_run(plant))

    failed = {cid for cid, (status, _, _) in checks.items() if status == "fail"}
    assert failed == {
        "network.server_certificate", "access.mfa", "access.shared_accounts", "access.dormant_accounts",
        "access.owners_named", "data.inventory", "workers.notice_generated", "workers.notice_published",
        "vendor.pack", "security.certificates", "security.keyring", "security.audit_verification",
        "security.access_review",
    }  # fmt: skip
    assert "quinn.quality" in checks["access.mfa"][1]
    assert "admin" in checks["access.shared_accounts"][1]
    assert "old.timer" in checks["access.dormant_accounts"][1]
    assert "pat.partner (2026-12-06)" in checks["access.partners_time_boxed"][1]
    assert checks["access.partners_time_boxed"][0] == "warn"
    assert "governance.owners.security_owner is not set" in checks["access.owners_named"][1]
    for cid in failed:
        assert checks[cid][2], f"{cid} fails without saying how to fix it"
    assert checks["network.telemetry"][0] == "pass"
    assert checks["access.separation_of_duties"][0] == "pass"


def test_owners_must_be_enabled_accounts_holding_the_duty_role(db_url: str, tmp_path: Path) -> None:
    with open_plant(db_url, tmp_path / "server", owners=OWNERS) as plant:
        plant.add_person("ada.audit", [Role.QUALITY_ENGINEER])  # wrong role for the audit reviewer
        plant.add_person("ivan.it", [Role.IT_ADMINISTRATOR])
        status, evidence, _ = _by_id(_run(plant))["access.owners_named"]
        assert status == "fail"
        assert "audit_log_reviewer: ada.audit does not hold the auditor role" in evidence
        assert "data_protection_contact: no enabled account 'dana.dpo'" in evidence
        assert "security_owner" not in evidence


def test_items_put_right_pass(db_url: str, tmp_path: Path) -> None:
    with open_plant(db_url, tmp_path / "server", owners=OWNERS) as plant:
        plant.add_person("ada.audit", [Role.AUDITOR])
        plant.add_person("ivan.it", [Role.IT_ADMINISTRATOR])
        plant.add_person("dana.dpo")
        plant.complete_security()
        checks = _by_id(_run(plant))
    for cid in (
        "network.server_certificate", "access.mfa", "access.shared_accounts", "access.dormant_accounts",
        "access.owners_named", "access.separation_of_duties", "security.certificates", "security.keyring",
        "security.signing_keys", "security.audit_verification",
    ):  # fmt: skip
        assert checks[cid][0] == "pass", (cid, checks[cid])
    assert "ivan.it" in checks["access.owners_named"][1]
    assert "entries verified now" in checks["security.audit_verification"][1]


def test_a_dormant_account_is_detected_as_time_passes(plant: Plant) -> None:
    plant.add_person("sam.super", [Role.PRODUCTION_SUPERVISOR], last_login=NOW)
    assert _by_id(_run(plant))["access.dormant_accounts"][0] == "pass"
    later = _by_id(_run(plant, now=NOW + timedelta(days=61)))
    assert later["access.dormant_accounts"][0] == "fail"
    assert "sam.super" in later["access.dormant_accounts"][1]


def test_telemetry_leftovers_of_onnx_runtime_fail(plant: Plant, _home: Path) -> None:
    folder = _home / ".cache" / "Microsoft" / "DeveloperTools" / ".onnxruntime"
    folder.mkdir(parents=True)
    status, evidence, fix = _by_id(_run(plant))["network.telemetry"]
    assert status == "fail"
    assert str(folder) in evidence
    # The fix removes ONNX Runtime's folder only, never other Microsoft tools' state.
    assert fix is not None and f"rm -rf {folder};" in fix


def test_other_microsoft_tools_state_is_not_telemetry(plant: Plant, _home: Path) -> None:
    (_home / ".cache" / "Microsoft" / "DeveloperTools" / "dotnet").mkdir(parents=True)
    assert _by_id(_run(plant))["network.telemetry"][0] == "pass"


def test_telemetry_leftovers_follow_xdg_cache_home(
    plant: Plant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    (cache / "Microsoft" / "DeveloperTools" / ".onnxruntime").mkdir(parents=True)
    status, evidence, _ = _by_id(_run(plant))["network.telemetry"]
    assert status == "fail"
    assert str(cache) in evidence


def test_a_tampered_audit_log_fails_verification(plant: Plant) -> None:
    from sqlalchemy import text

    plant.complete_security()
    with plant.sessions.begin() as session:
        session.execute(text("UPDATE audit_log SET payload = replace(payload, 'cli:test', 'cli:evil')"))
    status, evidence, _ = _by_id(_run(plant))["security.audit_verification"]
    assert status == "fail"
    assert "verification failed" in evidence


def test_cli_prints_every_group_and_exits_1_on_a_failure(plant: Plant, tmp_path: Path) -> None:
    config = plant.write_config(tmp_path / "server.yaml")
    runner = CliRunner()
    text_run = runner.invoke(cli, ["doctor", "--config", str(config)])
    assert text_run.exit_code == 1, text_run.output
    for title in GROUPS.values():
        assert title in text_run.output
    assert "fix: lineguard ca init --config server.yaml" in text_run.output

    json_run = runner.invoke(cli, ["doctor", "--config", str(config), "--json"])
    assert json_run.exit_code == 1
    body = json.loads(json_run.output)
    assert body["ok"] is False
    assert [g["id"] for g in body["groups"]] == list(GROUPS)
    statuses = {c["id"]: c["status"] for g in body["groups"] for c in g["checks"]}
    assert statuses["network.server_certificate"] == "fail"
    assert body["counts"]["fail"] == sum(1 for s in statuses.values() if s == "fail")


def test_cli_refuses_an_edge_config_cleanly(tmp_path: Path) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text("kind: edge\n", "utf-8")
    result = CliRunner().invoke(cli, ["doctor", "--config", str(config)])
    assert result.exit_code == 2
    assert "error:" in result.output


def test_outbound_connections_are_judged_by_the_egress_allowlist(db_url: str, tmp_path: Path) -> None:
    with open_plant(db_url, tmp_path / "server") as plant:
        assert _by_id(_run(plant))["network.outbound"][0] == "pass"
        allow = [
            {"scheme": "https", "host": "cmms.plant.local", "port": 443, "purpose": "work orders"},
            {"scheme": "syslog+udp", "host": "10.0.0.5", "port": 514},
        ]
        plant.settings = plant.settings.model_copy(
            update={"egress": plant.settings.egress.model_validate({"allow": allow})}
        )
        status, evidence, fix = _by_id(_run(plant))["network.outbound"]
    assert status == "warn"
    assert "https://cmms.plant.local:443 (work orders)" in evidence
    assert "without TLS: syslog+udp://10.0.0.5:514" in evidence
    assert fix is not None


def test_cameras_storing_full_frames_are_flagged_with_their_purpose(db_url: str, tmp_path: Path) -> None:
    purpose = "weld spatter lands beside the part; the reviewer needs the fixture"
    crops = write_edge_config(tmp_path / "n1.yaml", "line1-node", "line-1", [("cam-1", []), ("cam-2", [])])
    full = write_edge_config(
        tmp_path / "n2.yaml", "line2-node", "line-2", [("cam-3", []), ("cam-4", [])], {"cam-4": purpose}
    )
    with open_plant(db_url, tmp_path / "s0") as plant:  # nothing listed: unknown, not a pass
        status, evidence, fix = _by_id(_run(plant))["data.evidence_region"]
        assert (status, fix is not None) == ("warn", True)
        assert "no readable edge config" in evidence
    with open_plant(db_url, tmp_path / "s1", edge_configs=[str(crops)]) as plant:
        assert _by_id(_run(plant))["data.evidence_region"] == (
            "pass",
            "all 2 cameras store the ROI plus a margin, never the whole frame",
            None,
        )
    with open_plant(db_url, tmp_path / "s2", edge_configs=[str(crops), str(full)]) as plant:
        status, evidence, fix = _by_id(_run(plant))["data.evidence_region"]
    assert status == "warn"
    assert evidence == f"1 of 4 cameras: line2-node/cam-4 stores full frames: {purpose!r}"
    assert fix is not None
    assert "evidence.full_frame" in fix


def test_an_unreadable_edge_config_leaves_the_evidence_region_unknown(db_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: edge\ncameras: 3\n", "utf-8")
    with open_plant(db_url, tmp_path / "s", edge_configs=[str(broken)]) as plant:
        status, evidence, _ = _by_id(_run(plant))["data.evidence_region"]
    assert status == "warn"
    assert evidence.startswith(f"unknown for {broken}")


def test_in_the_demo_what_a_demo_cannot_have_warns_and_says_so(plant: Plant) -> None:
    plant.add_person("quinn.quality", [Role.QUALITY_ENGINEER], mfa=False)
    with plant.sessions() as session:
        report = doctor(session, settings=plant.settings, now=NOW, demo=True)
    checks = _by_id(report)
    for cid in ("access.mfa", "workers.notice_published", "security.access_review"):
        assert checks[cid][0] == "warn", cid
        assert "(a demo cannot have this: " in checks[cid][1], cid
    assert checks["access.owners_named"][0] == "fail"  # a demo can name its owners: no excuse
    assert "a demo cannot" not in checks["access.owners_named"][1]


def test_every_check_is_documented_in_docs_governance() -> None:
    from lineguard.server.governance.doctor import CHECKS

    doc = (Path(__file__).resolve().parents[4] / "docs" / "governance.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| [a-z ]+ \| `([a-z_.]+)` \|", doc, flags=re.M))
    assert documented == {c.id for c in CHECKS}


def test_a_thermal_camera_is_listed_from_edge_yaml_so_enrolling_it_changes_no_fact(
    db_url: str, tmp_path: Path
) -> None:
    import yaml

    from lineguard.server.governance import compose_all, current_facts, facts_sha256

    path = write_edge_config(tmp_path / "n1.yaml", "line1-node", "line-1", [("cam-1", [])])
    config = yaml.safe_load(path.read_text("utf-8"))
    config["thermal_cameras"] = [
        {
            "camera_id": "cam-th",
            "station_id": "st-motor",
            "source": {"path": str(tmp_path), "calibration": {"units": "centi_kelvin"}},
            "monitor": {"rois": [{"asset": "motor", "x": 0, "y": 0, "width": 8, "height": 8}]},
        }
    ]
    path.write_text(yaml.safe_dump(config), "utf-8")
    with open_plant(db_url, tmp_path / "s", edge_configs=[str(path)]) as plant:
        with plant.sessions() as session:
            _, before = current_facts(session, settings=plant.settings, now=NOW)
        plant.add_node("line1-node", "line-1", ["cam-1", "cam-th"])  # the node enrolls, thermal camera too
        with plant.sessions() as session:
            _, after = current_facts(session, settings=plant.settings, now=NOW)
    assert facts_sha256(before) == facts_sha256(after)
    (thermal,) = [c for c in after["cameras"] if c["camera"] == "cam-th"]
    assert (thermal["station"], thermal["source"], thermal["kind"]) == (
        "st-motor",
        "thermal_folder",
        "thermal",
    )
    record = next(d for d in compose_all(after) if d.name == "record-of-processing")
    rows = [row for s in record.sections if s.table for row in s.table.rows]
    assert any(
        row[3] == "cam-th" and row[5].startswith("none: a thermal camera keeps no image") for row in rows
    )


def test_a_ppe_camera_is_listed_from_edge_yaml_so_enrolling_it_changes_no_fact(
    db_url: str, tmp_path: Path
) -> None:
    import yaml

    from lineguard.server.governance import compose_all, current_facts, facts_sha256

    path = write_edge_config(tmp_path / "n1.yaml", "line1-node", "line-1", [("cam-1", [])])
    config = yaml.safe_load(path.read_text("utf-8"))
    config["ppe_cameras"] = [
        {
            "camera_id": "cam-walk",
            "station_id": "st-walk",
            "source": {"type": "folder", "path": str(tmp_path)},
            "privacy_zones": [{"name": "door", "points": [[100, 0], [120, 0], [120, 50], [100, 50]]}],
            "ppe": {
                "enabled": True,
                "legal_basis": "works agreement 2026-04 and GDPR Art. 6(1)(f)",
                "zones": [{"name": "aisle", "x": 0, "y": 0, "width": 100, "height": 50}],
            },
        }
    ]
    path.write_text(yaml.safe_dump(config), "utf-8")
    with open_plant(db_url, tmp_path / "s", edge_configs=[str(path)]) as plant:
        with plant.sessions() as session:
            _, before = current_facts(session, settings=plant.settings, now=NOW)
        plant.add_node("line1-node", "line-1", ["cam-1", "cam-walk"])  # the node enrolls, PPE camera too
        with plant.sessions() as session:
            _, after = current_facts(session, settings=plant.settings, now=NOW)
    assert facts_sha256(before) == facts_sha256(after)
    (walk,) = [c for c in after["cameras"] if c["camera"] == "cam-walk"]
    assert (walk["station"], walk["source"], walk["kind"], walk["privacy_zones"]) == (
        "st-walk",
        "folder",
        "ppe",
        ["door"],
    )
    record = next(d for d in compose_all(after) if d.name == "record-of-processing")
    rows = [row for s in record.sections if s.table for row in s.table.rows]
    assert any(
        row[3] == "cam-walk" and row[5].startswith("none: a PPE camera keeps no image") for row in rows
    )


def test_the_replica_check_needs_every_configured_process_beating_on_postgresql(plant: Plant) -> None:
    """One process: nothing to check. Several workers on SQLite: no relay, nothing to check.
    Replicas on PostgreSQL with none registered: fail, saying how many were expected (two
    live replicas are in tests/integration/test_evidence_relay_replicas.py)."""
    assert _by_id(_run(plant))["network.replicas"][0] == "pass"
    assert _by_id(_run(plant))["network.relay_refusals"][0] == "pass"

    def run_with(http: dict[str, int], url: str) -> tuple[str, str, str | None]:
        settings = plant.settings.model_copy(
            update={
                "http": plant.settings.http.model_copy(update=http),
                "database": plant.settings.database.model_copy(update={"url": url}),
            }
        )
        with plant.sessions() as session:
            return _by_id(doctor(session, settings=settings, now=NOW))["network.replicas"]

    status, evidence, _ = run_with({"workers": 2}, "sqlite:///plant.db")
    assert (status, evidence) == ("pass", "2 worker processes on SQLite: evidence views are not relayed")
    status, evidence, fix = run_with({"replicas": 2, "workers": 2}, "postgresql://lineguard@db.plant/lg")
    assert status == "fail" and evidence.startswith("0 of 4 server processes beating"), evidence
    assert fix is not None and "internal_port" in fix


def test_an_overlapping_ca_rotation_is_a_warning_naming_the_nodes_still_on_the_old_ca(plant: Plant) -> None:
    plant.complete_security()
    assert _by_id(_run(plant))["security.ca_rotation"][0] == "pass"
    plant.add_node("edge-1", "line-1", ["cam-1"])
    with plant.sessions.begin() as session:  # a usable certificate recorded before rotation existed
        session.add(
            NodeCertificate(
                serial="ab12",
                node_id="edge-1",
                fingerprint_sha256="f" * 64,
                not_before=NOW - timedelta(days=1),
                not_after=NOW + timedelta(days=30),
                issued_at=NOW - timedelta(days=1),
            )
        )
    data_dir, passphrase = plant.settings.data_dir, SecretStr(PASSPHRASE)
    start_ca_rotation(data_dir, passphrase, site_id=plant.settings.site_id)
    status, evidence, fix = _by_id(_run(plant))["security.ca_rotation"]
    assert (status, "1 active node(s) still on it: edge-1" in evidence) == ("warn", True), evidence
    assert fix is not None and "lineguard edge renew" in fix
    current = PlantCa.load(data_dir, passphrase).fingerprint_sha256
    with plant.sessions.begin() as session:  # edge-1 renewed onto the new CA
        cert = session.get(NodeCertificate, "ab12")
        assert cert is not None
        cert.ca_fingerprint = current
    status, evidence, fix = _by_id(_run(plant))["security.ca_rotation"]
    assert (
        status == "warn" and "every active node renewed" in evidence and fix is not None and "retire" in fix
    )
    retire_previous_ca(data_dir, passphrase, server_names=["localhost"])
    assert _by_id(_run(plant))["security.ca_rotation"][0] == "pass"


def test_the_ca_issuer_check_names_each_role_and_fails_when_no_live_replica_can_sign(
    postgres_url: str, tmp_path: Path
) -> None:
    """Registered relay processes carry their plant CA role (``LINEGUARD_PKI_ISSUER``): none
    able to sign fails (enrollment and renewal answer 503), every one holding the key warns."""
    from sqlalchemy import func

    from lineguard.server.evidence_views.models import RelayPeerRow

    with open_plant(postgres_url, tmp_path / "server") as plant:
        settings = plant.settings.model_copy(
            update={
                "http": plant.settings.http.model_copy(update={"replicas": 2}),
                "database": plant.settings.database.model_copy(update={"url": postgres_url}),
            }
        )

        def beat(**roles: str) -> tuple[str, str, str | None]:
            with plant.sessions.begin() as session:
                session.query(RelayPeerRow).delete()
                for replica_id, role in roles.items():
                    session.add(
                        RelayPeerRow(
                            replica_id=replica_id,
                            host="127.0.0.1",
                            port=9,
                            started_at=func.now(),
                            heartbeat_at=func.now(),
                            ca_role=role,
                        )
                    )
            with plant.sessions() as session:
                return _by_id(doctor(session, settings=settings, now=NOW))["network.ca_issuers"]

        status, evidence, fix = beat(rep_a="none", rep_b="none")
        assert (status, evidence) == (
            "fail",
            "no live server process can sign: issuer leader: none; standby issuers: none; "
            "without the CA key: rep_a, rep_b",
        )
        assert fix is not None and "LINEGUARD_PKI_ISSUER=true" in fix
        status, evidence, fix = beat(rep_a="leader", rep_b="issuer")
        assert status == "warn" and "every replica holds the plant CA key" in evidence
        assert fix is not None and "LINEGUARD_PKI_ISSUER=false" in fix
        assert beat(rep_a="leader", rep_b="none") == (
            "pass",
            "issuer leader: rep_a; standby issuers: none; without the CA key: rep_b",
            None,
        )
