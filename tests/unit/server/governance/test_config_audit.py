"""Configuration changes are audited setting by setting (never a secret), at server start and on
demand, and a node whose reported config digest differs from its listed edge.yaml shows as drift."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lineguard.cli.main import cli
from lineguard.config import load_edge_config
from lineguard.config.digest import config_sha256, config_values
from lineguard.config.server import RetentionConfig
from lineguard.contracts.events import NodeHeartbeat
from lineguard.server.app import create_app
from lineguard.server.audit import AuditRecorder, DatabaseLog
from lineguard.server.governance import doctor, record_config_changes
from lineguard.server.ingest import service as ingest
from lineguard.server.nodes.service import NodeIdentity
from lineguard.server.protection import NoEncryption
from tests.unit.server.conftest import AuditTrail
from tests.unit.server.governance.plant import NOW, Plant, open_plant, write_edge_config
from tests.unit.server.ingest import factory


@pytest.fixture
def edge_yaml(tmp_path: Path) -> Path:
    return write_edge_config(tmp_path / "line1-node.yaml", "line1-node", "line-1", [("cam-1", ["walkway"])])


@pytest.fixture
def plant(db_url: str, tmp_path: Path, edge_yaml: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Plant]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with open_plant(db_url, tmp_path / "server", edge_configs=[str(edge_yaml)]) as p:
        yield p


def _audit(plant: Plant) -> list[tuple[str, str, dict[str, object]]]:
    with plant.sessions() as session:
        entries = DatabaseLog(session, site_id="plant-a").entries()
        return [(e.actor, e.name, json.loads(e.payload)) for e in entries if e.name == "config.changed"]


def _record(plant: Plant) -> list[str]:
    with plant.sessions() as session:
        changes = record_config_changes(
            session, settings=plant.settings, audit=AuditRecorder(), actor="cli:t"
        )
    return [c.setting for c in changes]


def test_a_changed_server_yaml_is_audited_with_before_and_after(plant: Plant) -> None:
    assert _record(plant) == []  # the first sight of each file is its baseline
    assert _record(plant) == []  # unchanged
    plant.settings = plant.settings.model_copy(update={"retention": RetentionConfig(alerts_days=400)})
    assert _record(plant) == ["server.yaml:retention.alerts_days"]
    change = {
        "setting": "server.yaml:retention.alerts_days",
        "before": "365",
        "after": "400",
        "outcome": "success",
    }
    assert _audit(plant) == [("cli:t", "config.changed", change)]
    assert _record(plant) == []


def test_two_workers_starting_together_record_one_baseline_and_audit_a_change_once(plant: Plant) -> None:
    """``http.workers: 2`` start at once on one database. The first worker is held between
    reading "no snapshot yet" and writing it until the second has run; both must succeed, and
    a later change is audited once, not once per worker (SQLite failed the second start)."""
    first_has_read = threading.Event()

    class HeldAfterRead(Session):
        def get(self, *args: Any, **kwargs: Any) -> Any:
            row = super().get(*args, **kwargs)
            if threading.current_thread().name == "first" and not first_has_read.is_set():
                first_has_read.set()
                threading.Event().wait(1.0)  # the second worker runs meanwhile (or waits for the lock)
            return row

    held = sessionmaker(bind=plant.engine, class_=HeldAfterRead)
    outcomes: dict[str, object] = {}

    def start(name: str) -> None:
        try:
            with held() as session:
                outcomes[name] = record_config_changes(
                    session, settings=plant.settings, audit=AuditRecorder()
                )
        except Exception as exc:  # the test reports which worker failed and why
            outcomes[name] = exc

    def both() -> None:
        first = threading.Thread(target=start, args=("first",), name="first")
        first.start()
        assert first_has_read.wait(30)
        start("second")
        first.join(30)

    both()
    assert outcomes == {"first": [], "second": []}
    plant.settings = plant.settings.model_copy(update={"retention": RetentionConfig(alerts_days=400)})
    first_has_read.clear()
    both()
    recorded = [c for c in outcomes.values() if c]
    assert [[c.setting for c in changes] for changes in recorded] == [["server.yaml:retention.alerts_days"]]  # type: ignore[attr-defined]
    assert [f["setting"] for _, _, f in _audit(plant)] == ["server.yaml:retention.alerts_days"]


def test_an_added_camera_in_an_edge_yaml_is_audited(plant: Plant, edge_yaml: Path) -> None:
    _record(plant)
    write_edge_config(edge_yaml, "line1-node", "line-1", [("cam-1", ["walkway"]), ("cam-3", [])])
    changed = _record(plant)
    assert "edge.yaml[line1-node]:cameras[cam-3].camera_id" in changed
    assert all(s.startswith("edge.yaml[line1-node]:cameras[cam-3].") for s in changed)
    added = next(f for _, _, f in _audit(plant) if f["setting"].endswith("cam-3].camera_id"))
    assert (added["before"], added["after"]) == (None, '"cam-3"')


def test_no_secret_or_its_source_ever_appears_in_the_values(edge_yaml: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(edge_yaml.read_text("utf-8"))
    data["cameras"][0]["source"] = {
        "type": "rtsp",
        "url": "rtsp://cam.local/stream",
        "credentials": {"username": "viewer", "password": {"env": "CAM_PASSWORD_VAR"}},
    }
    path = tmp_path / "with-credentials.yaml"
    path.write_text(yaml.safe_dump(data), "utf-8")
    values = config_values(load_edge_config(path))
    text = json.dumps(values)
    assert "CAM_PASSWORD_VAR" not in text and "LINEGUARD_EDGE_KEK_PASSPHRASE" not in text
    assert values["cameras[cam-1].source.credentials.username"] == '"viewer"'


def test_a_url_password_allowed_in_the_demo_is_masked(
    monkeypatch: pytest.MonkeyPatch, edge_yaml: Path
) -> None:
    monkeypatch.setenv("LINEGUARD_DEMO_MODE", "1")
    data = yaml.safe_load(edge_yaml.read_text("utf-8"))
    data["cameras"][0]["source"] = {"type": "rtsp", "url": "rtsp://viewer:s3cr%40t@cam.local/stream"}
    edge_yaml.write_text(yaml.safe_dump(data), "utf-8")
    values = config_values(load_edge_config(edge_yaml))
    assert values["cameras[cam-1].source.url"] == '"rtsp://viewer:***@cam.local/stream"'


def test_the_server_audits_changes_made_while_it_was_down(plant: Plant) -> None:
    def start() -> AuditTrail:
        trail = AuditTrail()
        app = create_app(plant.settings, engine=plant.engine, sealer=NoEncryption(), audit=trail)
        with TestClient(app, base_url="https://testserver"):
            pass
        return trail

    assert start().names() == []
    plant.settings = plant.settings.model_copy(update={"retention": RetentionConfig(alerts_days=400)})
    trail = start()
    assert trail.events == [
        (
            "config.changed",
            {
                "outcome": "success",
                "setting": "server.yaml:retention.alerts_days",
                "before": "365",
                "after": "400",
            },
        )
    ]
    assert trail.actors == ["system:config"]


def test_a_node_running_another_config_shows_as_drift(plant: Plant, edge_yaml: Path) -> None:
    _record(plant)
    node = NodeIdentity("line1-node", "plant-a", "line-1", frozenset({"cam-1"}), "serial")
    listed = config_sha256(load_edge_config(edge_yaml))

    def report(digest: str | None) -> tuple[str, str]:
        beat = NodeHeartbeat.model_validate(
            {**factory.heartbeat("line1-node", cameras=("cam-1",)), "config_sha256": digest}
        )
        with plant.sessions() as session:
            ingest.record_heartbeat(session, node=node, heartbeat=beat)
            result = next(
                r
                for r in doctor(session, settings=plant.settings, now=NOW).results
                if r.id == "security.config_drift"
            )
        return result.status, result.evidence

    assert report(listed) == (
        "pass",
        "configuration audited; nodes running their listed edge.yaml: line1-node",
    )
    status, evidence = report("0" * 64)
    assert status == "warn"
    assert f"node line1-node runs another configuration than {edge_yaml}" in evidence
    assert (
        report(None)[0] == "warn"
    )  # an older node that reports no digest cannot show it runs the listed one


def test_the_doctor_warns_about_a_change_not_yet_audited_and_the_cli_audits_it(
    plant: Plant, tmp_path: Path
) -> None:
    _record(plant)
    plant.settings = plant.settings.model_copy(update={"retention": RetentionConfig(alerts_days=400)})
    with plant.sessions() as session:
        result = next(
            r
            for r in doctor(session, settings=plant.settings, now=NOW).results
            if r.id == "security.config_drift"
        )
    assert result.status == "warn"
    assert "server.yaml changed since its values were last audited" in result.evidence
    config = str(plant.write_config(tmp_path / "server.yaml"))
    out = CliRunner().invoke(cli, ["governance", "config-audit", "--config", config])
    assert out.exit_code == 0, out.output
    assert "server.yaml:retention.alerts_days: 365 -> 400" in out.output
    again = CliRunner().invoke(cli, ["governance", "config-audit", "--config", config])
    assert "no configuration change" in again.output
