"""The governance documents are rendered from the live configuration: every fact checked in the
HTML and in the PDF's text (extracted with poppler's pdftotext), deterministic for the same
inputs, changing when the configuration changes, and their manifest audited."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lineguard.cli.main import cli
from lineguard.config.server import RetentionConfig
from lineguard.server.audit import DatabaseLog
from lineguard.server.auth import Role
from lineguard.server.governance import BuildResult, build_documents, doctor, record_notice_publication
from tests.unit.server.governance.plant import NOW, OWNERS, PASSPHRASE, Plant, open_plant, write_edge_config

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="needs poppler-utils (dev.py installs it)"
)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LINEGUARD_KEYRING_PASSPHRASE", PASSPHRASE)


@pytest.fixture
def plant(db_url: str, tmp_path: Path) -> Iterator[Plant]:
    edge = write_edge_config(
        tmp_path / "line1-node.yaml",
        "line1-node",
        "line-1",
        [("cam-1", ["walkway"]), ("cam-2", [])],
        full_frame={"cam-2": "fixture alignment needs the whole cell in view"},
        retention_days_fail=45,
        retention_days_pass=3,
    )
    with open_plant(
        db_url, tmp_path / "server", owners=OWNERS, controller="Acme Parts GmbH", edge_configs=[str(edge)]
    ) as p:
        p.add_person("ada.audit", [Role.AUDITOR])
        p.add_person("ivan.it", [Role.IT_ADMINISTRATOR])
        p.add_person("dana.dpo")
        p.add_node("line1-node", "line-1", ["cam-1", "cam-2"])
        p.add_deployed_model()
        yield p


def _build(plant: Plant, out: Path, *, now: datetime = NOW) -> BuildResult:
    with plant.sessions() as session:
        return build_documents(
            session, settings=plant.settings, out_dir=out, actor="cli:governance.test", now=now
        )


def _pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode("utf-8").split())


def _both(out: Path, name: str) -> list[str]:
    """The document's HTML and its PDF's extracted text, whitespace collapsed."""
    html = (out / f"{name}.html").read_text("utf-8")
    return [" ".join(html.split()), _pdf_text(out / f"{name}.pdf")]


def test_every_document_is_written_as_html_and_pdf_with_a_manifest(plant: Plant, tmp_path: Path) -> None:
    result = _build(plant, tmp_path / "out")
    assert result.documents == (
        "record-of-processing",
        "worker-notice-plant-a-line-1.en",
        "worker-notice-plant-a-line-1.de",
        "data-inventory",
        "dpia",
        "ai-act-part-a-v1",
        "vendor-assessment",
        "architecture",
    )
    manifest_bytes = (tmp_path / "out" / "manifest.json").read_bytes()
    assert hashlib.sha256(manifest_bytes).hexdigest() == result.manifest_sha256
    manifest = json.loads(manifest_bytes)
    assert len(manifest["files"]) == 2 * len(result.documents)
    for entry in manifest["files"]:
        data = (tmp_path / "out" / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        if entry["file"].endswith(".pdf"):
            assert data.startswith(b"%PDF-")


def test_the_facts_in_each_document_equal_the_live_configuration(plant: Plant, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _build(plant, out)
    for text in _both(out, "record-of-processing"):
        assert "Acme Parts GmbH" in text
        assert "Dana Dpo (dana.dpo)" in text
        assert "365 days" in text  # inspection results, retention.inspection_events_days
        assert "node: fail 45 d / pass 3 d" in text  # evidence, from the node's edge.yaml
        assert "cam-1" in text and "walkway" in text
        assert "None. All data stays" in text
        assert "the part only (region + 24 px)" in text
        assert "whole frame, purpose: fixture alignment needs the whole cell in view" in text
    for text in _both(out, "worker-notice-plant-a-line-1.en"):
        assert "Camera cam-1 (station st-10, node line1-node)" in text
        assert "Camera cam-2 (station st-20, node line1-node)" in text
        assert "never recorded at all (blacked out in the camera image): walkway" in text
        assert "only the inspected part: its region plus 24 pixels around it" in text
        assert "Camera cam-2 keeps the whole frame as evidence, for this purpose: fixture alignment" in text
        assert "failed parts: 45 days; of passed parts: 3 days" in text
        assert "Evidence images: quality engineers, production supervisors." in text
        assert "It does not identify anyone." in text
        assert "no face recognition" in text
        assert "performance or behaviour profiles" in text
        assert "Ada Audit (ada.audit)" in text
    for text in _both(out, "worker-notice-plant-a-line-1.de"):
        assert "Kamera cam-1 (Station st-10, Knoten line1-node)" in text
        assert "Nachweisbilder fehlerhafter Teile: 45 Tage; guter Teile: 3 Tage" in text
        assert "Es identifiziert niemanden." in text
        assert "Kamera cam-2 speichert das ganze Bild als Nachweis" in text
        assert "Qualitätsingenieur/innen, Schichtleitung" in text
    for text in _both(out, "data-inventory"):
        # readers from the Cedar policy: only the auditor reads the audit log
        assert "audit_log" in text and "auditor" in text
    for text in _both(out, "dpia"):
        assert "test_capture_worker_blacks_out_zones_before_queueing" in text
    for text in _both(out, "ai-act-part-a-v1"):
        assert "cd" * 32 in text  # training digest
        assert "3.25" in text and "good_quantile" in text  # threshold and calibration
        assert "0.987" in text and "held-out line-1 images" in text  # metric and its dataset
        assert "user:sam.super" in text  # approval
        assert "within 30 minutes is escalated to the production_supervisor role" in text  # review.*
        assert "line-1" in text  # deployment
    for text in _both(out, "vendor-assessment"):
        assert "configuration: retention.audit_log_days = 2555" in text
        assert "test: test_edited_entry_is_located in tests/unit/server/audit/test_tamper.py" in text
        assert "no shared or cross-customer model" in text
        assert "Outbound destinations allowed: none." in text
    for text in _both(out, "architecture"):
        assert "port 8443" in text


def test_the_same_inputs_give_the_same_bytes(plant: Plant, tmp_path: Path) -> None:
    first, second = _build(plant, tmp_path / "a"), _build(plant, tmp_path / "b")
    assert first.manifest_sha256 == second.manifest_sha256
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_a_changed_retention_value_changes_the_documents_and_the_doctor_notices(
    plant: Plant, tmp_path: Path
) -> None:
    before = _build(plant, tmp_path / "before")
    plant.settings = plant.settings.model_copy(
        update={"retention": RetentionConfig(inspection_events_days=180, audit_log_days=3650)}
    )
    with plant.sessions() as session:
        report = doctor(session, settings=plant.settings, now=NOW)
    assert report.status_of("data.inventory") == "fail"
    assert report.status_of("workers.notice_generated") == "fail"
    after = _build(plant, tmp_path / "after", now=NOW + timedelta(minutes=1))
    assert after.facts_sha256 != before.facts_sha256
    for text in _both(tmp_path / "after", "worker-notice-plant-a-line-1.en"):
        assert "Inspection results: 180 days." in text
        assert "(audit log): 3650 days" in text
    with plant.sessions() as session:
        assert doctor(session, settings=plant.settings, now=NOW).status_of("data.inventory") == "pass"


def test_an_added_camera_appears_and_a_new_line_gets_its_own_notice(plant: Plant, tmp_path: Path) -> None:
    plant.add_node("line2-node", "line-2", ["cam-9"])
    out = tmp_path / "out"
    result = _build(plant, out)
    assert "worker-notice-plant-a-line-2.en" in result.documents
    assert "worker-notice-plant-a-line-2.de" in result.documents
    for text in _both(out, "worker-notice-plant-a-line-2.en"):
        assert "Camera cam-9" in text
        assert "cam-1" not in text  # another line's camera is not on this notice
    for text in _both(out, "record-of-processing"):
        assert "cam-9" in text


def test_a_camera_that_keeps_only_the_defects_says_so_in_the_record_of_processing(
    plant: Plant, tmp_path: Path
) -> None:
    path = write_edge_config(tmp_path / "line2-node.yaml", "line2-node", "line-2", [("cam-7", [])])
    doc = yaml.safe_load(path.read_text("utf-8"))
    doc["cameras"][0]["evidence"].update(crop="defects", defect_context_px=64)
    path.write_text(yaml.safe_dump(doc), "utf-8")
    governance = plant.settings.governance
    plant.settings = plant.settings.model_copy(
        update={
            "governance": governance.model_copy(update={"edge_configs": [*governance.edge_configs, path]})
        }
    )
    out = tmp_path / "out"
    _build(plant, out)
    kept = "the defects only (their regions + 64 px; a part without defect regions: the part, region + 24 px)"
    for text in _both(out, "record-of-processing"):
        assert kept in text
        assert "the part only (region + 24 px)" in text  # cam-1 keeps the ROI


def test_the_build_is_audited_with_the_manifest_digest(plant: Plant, tmp_path: Path) -> None:
    result = _build(plant, tmp_path / "out")
    with plant.sessions() as session:
        entries = [
            e for e in DatabaseLog(session, site_id="plant-a").entries() if e.name.startswith("governance.")
        ]
    assert [e.name for e in entries] == ["governance.documents_built"]
    payload = json.loads(entries[0].payload)
    assert payload["manifest_sha256"] == result.manifest_sha256
    assert payload["documents"] == len(result.documents)
    assert entries[0].actor == "cli:governance.test"


def test_notice_publication_is_recorded_for_the_current_build(plant: Plant, tmp_path: Path) -> None:
    from datetime import date

    from lineguard.contracts.errors import InputError, NotFoundError

    with (
        plant.sessions() as session,
        pytest.raises(NotFoundError, match="no governance documents were built yet"),
    ):
        record_notice_publication(session, published_on=date(2026, 11, 30), where="board", actor="cli:t")
    _build(plant, tmp_path / "out")
    with plant.sessions() as session:
        with pytest.raises(InputError, match="in the future"):
            record_notice_publication(
                session, published_on=date(2026, 12, 2), where="board", actor="cli:t", now=NOW
            )
        with pytest.raises(InputError, match="say where"):
            record_notice_publication(
                session, published_on=date(2026, 11, 30), where="  ", actor="cli:t", now=NOW
            )
        record_notice_publication(
            session, published_on=date(2026, 11, 30), where="board at line-1", actor="cli:t", now=NOW
        )
        report = doctor(session, settings=plant.settings, now=NOW)
    assert report.status_of("workers.notice_published") == "pass"
    assert report.status_of("vendor.pack") == "pass"


def test_the_cli_builds_and_records_the_publication(plant: Plant, tmp_path: Path) -> None:
    config = plant.write_config(tmp_path / "server.yaml")
    runner = CliRunner()
    built = runner.invoke(
        cli, ["governance", "build", "--config", str(config), "--out", str(tmp_path / "docs")]
    )
    assert built.exit_code == 0, built.output
    assert "built 8 documents" in built.output
    assert (tmp_path / "docs" / "dpia.pdf").exists()
    bad = runner.invoke(
        cli,
        ["governance", "notice-published", "--config", str(config), "--date", "30.11.2026", "--where", "x"],
    )
    assert bad.exit_code == 2
    assert "--date must be YYYY-MM-DD" in bad.output
    ok = runner.invoke(
        cli,
        [
            "governance",
            "notice-published",
            "--config",
            str(config),
            "--date",
            "2026-11-30",
            "--where",
            "board",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "published 2026-11-30 (board)" in ok.output


def _add_ppe_camera(edge_yaml: Path, *, enabled: bool) -> None:
    import yaml

    doc = yaml.safe_load(edge_yaml.read_text("utf-8"))
    doc["ppe_cameras"] = [
        {
            "camera_id": "cam-walk",
            "station_id": "walkway",
            "source": {"type": "synthetic"},
            "ppe": {
                "enabled": enabled,
                "legal_basis": "GDPR Art. 6(1)(f) workplace safety; works agreement BV-2026-07",
                "zones": [
                    {"name": "aisle", "x": 0, "y": 100, "width": 320, "height": 140},
                    {
                        "name": "dock",
                        "x": 0,
                        "y": 0,
                        "width": 320,
                        "height": 100,
                        "required": ["hi_vis_vest"],
                    },
                ],
                "min_count": 4,
            },
        }
    ]
    edge_yaml.write_text(yaml.safe_dump(doc), "utf-8")


def test_ppe_counting_is_in_the_documents_only_when_enabled_with_its_legal_basis(
    plant: Plant, tmp_path: Path
) -> None:
    edge_yaml = tmp_path / "line1-node.yaml"
    _add_ppe_camera(edge_yaml, enabled=False)
    off = _build(plant, tmp_path / "off")
    assert "ai-act-ppe-classifier" not in off.documents
    for text in (
        *_both(tmp_path / "off", "record-of-processing"),
        *_both(tmp_path / "off", "data-inventory"),
    ):
        assert "PPE" not in text and "ppe_counts" not in text and "cam-walk" not in text

    _add_ppe_camera(edge_yaml, enabled=True)
    out = tmp_path / "on"
    result = _build(plant, out)
    assert "ai-act-ppe-classifier" in result.documents
    for text in _both(out, "record-of-processing"):
        assert "PPE compliance counting (enabled)" in text
        assert "GDPR Art. 6(1)(f) workplace safety; works agreement BV-2026-07" in text
        assert "aisle: helmet, hi_vis_vest; dock: hi_vis_vest" in text
        assert "below 5 again on the server" in text  # the server's safety.ppe_min_count (default 5)
        assert "Counts are kept 90 days" in text and "production_supervisor" in text
    for text in _both(out, "data-inventory"):
        assert "ppe_counts" in text
    for text in _both(out, "worker-notice-plant-a-line-1.en"):
        assert "Camera cam-walk (station walkway) counts, per zone and hour" in text
        assert "aisle: hard hat, high-visibility vest; dock: high-visibility vest" in text
        assert "Counts below 5 are never shown" in text
    for text in _both(out, "worker-notice-plant-a-line-1.de"):
        assert "Zählung der Schutzausrüstung (PSA)" in text and "Warnweste" in text
    for text in _both(out, "ai-act-ppe-classifier"):
        assert "Generated images only" in text and "Real-world accuracy is not measured" in text
