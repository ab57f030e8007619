"""``lineguard edge status | keys rotate | evidence list/verify/export`` on a node's data dir."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from pydantic import SecretStr

from lineguard.cli.main import cli
from lineguard.crypto import KdfParams
from lineguard.edge.evidence import EvidenceStore
from tests.unit.edge.support import PASSPHRASE, precreate_keyring

pytestmark = pytest.mark.usefixtures("kek_env")


@pytest.fixture
def node(tmp_path: Path) -> tuple[Path, Path, str]:
    data = tmp_path / "data"
    precreate_keyring(data)
    store = EvidenceStore(
        data,
        node_id="node-1",
        passphrase=SecretStr(PASSPHRASE),
        retention_days={"fail": 90, "uncertain": 90, "pass": 7},
        kdf=KdfParams.insecure_for_tests(),
    )
    image = np.full((40, 60, 3), 120, np.uint8)
    evidence_id = store.put(
        image,
        category="fail",
        camera_id="cam-1",
        event_id="evt_1",
        captured_at=datetime.now(UTC),
        redaction="blur:fake:0",
    ).evidence_id
    store.close()
    config = tmp_path / "edge.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kind": "edge",
                "node": {
                    "node_id": "node-1",
                    "site_id": "plant-a",
                    "line_id": "line-1",
                    "data_dir": str(data),
                },
                "cameras": [
                    {
                        "camera_id": "cam-1",
                        "station_id": "st-10",
                        "source": {"type": "synthetic"},
                        "model": str(tmp_path / "m"),
                        "roi": {"x": 320, "y": 100, "width": 640, "height": 480},
                    }
                ],
            }
        )
    )
    return config, data, evidence_id


def test_evidence_list_verify_and_export(node: tuple[Path, Path, str], tmp_path: Path) -> None:
    config, _, evidence_id = node
    listed = CliRunner().invoke(cli, ["edge", "evidence", "list", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    assert evidence_id in listed.output
    verified = CliRunner().invoke(cli, ["edge", "evidence", "verify", "--config", str(config)])
    assert verified.exit_code == 0, verified.output
    assert "1 evidence objects verified" in verified.output
    out = tmp_path / "part.jpg"
    exported = CliRunner().invoke(
        cli, ["edge", "evidence", "export", "--config", str(config), evidence_id, "--out", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    assert cv2.imread(str(out)).shape == (40, 60, 3)
    again = CliRunner().invoke(
        cli, ["edge", "evidence", "export", "--config", str(config), evidence_id, "--out", str(out)]
    )
    assert again.exit_code == 2 and "exists" in again.output


def test_tampered_evidence_fails_verification_with_a_clear_error(node: tuple[Path, Path, str]) -> None:
    config, data, evidence_id = node
    path = data / "evidence" / "objects" / f"{evidence_id}.lge"
    blob = bytearray(path.read_bytes())
    blob[-3] ^= 0xFF
    path.write_bytes(bytes(blob))
    result = CliRunner().invoke(cli, ["edge", "evidence", "verify", "--config", str(config)])
    assert result.exit_code == 2
    assert "altered or truncated" in result.output
    assert "Traceback" not in result.output


def test_keys_rotate_rewraps_and_evidence_still_verifies(node: tuple[Path, Path, str]) -> None:
    config, _, _ = node
    result = CliRunner().invoke(cli, ["edge", "keys", "rotate", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "1 data keys re-wrapped" in result.output
    assert CliRunner().invoke(cli, ["edge", "evidence", "verify", "--config", str(config)]).exit_code == 0


def test_status_without_a_running_node_is_a_clear_error(node: tuple[Path, Path, str]) -> None:
    config, _, _ = node
    result = CliRunner().invoke(cli, ["edge", "status", "--config", str(config)])
    assert result.exit_code == 2
    assert "has not run yet" in result.output


def test_status_reports_cameras_and_exits_by_health(node: tuple[Path, Path, str]) -> None:
    config, data, _ = node
    doc = {
        "node_id": "node-1",
        "pid": 1,
        "updated_at": datetime.now(UTC).isoformat(),
        "uptime_s": 5.0,
        "cameras": [
            {
                "camera_id": "cam-1",
                "state": "streaming",
                "fps": 30.0,
                "latency_p50_ms": 10.0,
                "latency_p99_ms": 20.0,
                "frames_dropped": 0,
                "frames_corrupt": 1,
                "frames_invalid": 0,
                "last_error": None,
            }
        ],
        "outbox": {
            "backlog": 0,
            "sent": 10,
            "shed": 0,
            "server": None,
            "connected": False,
            "last_error": None,
        },
        "evidence": {"stored": 1, "redaction_failures": 0},
        "disk": {"used_bytes": 1024, "budget_bytes": 2**30},
    }
    (data / "status.json").write_text(json.dumps(doc))
    ok = CliRunner().invoke(cli, ["edge", "status", "--config", str(config)])
    assert ok.exit_code == 0, ok.output
    assert "cam-1" in ok.output and "30.0 fps" in ok.output and "running" in ok.output
    doc["cameras"][0]["state"] = "reconnecting"  # type: ignore[index]
    (data / "status.json").write_text(json.dumps(doc))
    degraded = CliRunner().invoke(cli, ["edge", "status", "--config", str(config)])
    assert degraded.exit_code == 1
