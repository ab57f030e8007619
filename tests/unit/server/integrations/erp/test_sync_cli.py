"""``lineguard data sync erp`` end to end: server.yaml, the server keyring, a real Tryton over HTTPS.

Lives beside the connector's tests (not in tests/unit/cli) because it needs their Tryton
fixtures. No fake at all here: the ERP is reached at 127.0.0.1 through the egress gate.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from lineguard.cli.main import cli
from lineguard.config import load_server_config
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.plantdata import PlantRecordRow
from lineguard.server.storage import opened_storage
from tests.support.server_yaml import write_server_yaml
from tests.support.test_pki import TestCa
from tests.support.tryton import READER_LOGIN, READER_PASSWORD, Tryton


@pytest.fixture
def config(
    tmp_path: Path, db_url: str, tryton_alone: Tryton, erp_ca: TestCa, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("LINEGUARD_KEYRING_PASSPHRASE", "erp sync tests passphrase")
    monkeypatch.setenv("LG_TEST_ERP_PASSWORD", READER_PASSWORD)
    path = write_server_yaml(tmp_path, db_url)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["erp"] = {
        "kind": "tryton", "url": f"https://127.0.0.1:{tryton_alone.port}", "database": tryton_alone.database,
        "username": READER_LOGIN, "password": {"env": "LG_TEST_ERP_PASSWORD"},
        "warehouses": {"WH": "line-1", "WH2": "line-2"},
    }  # fmt: skip
    data["egress"] = {
        "allow": [
            {
                "scheme": "https",
                "host": "127.0.0.1",
                "port": tryton_alone.port,
                "ca_file": str(erp_ca.cert_path),
            }
        ]
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_sync_prints_a_summary_is_idempotent_and_fails_cleanly(config: Path, tryton_alone: Tryton) -> None:
    run = CliRunner().invoke
    first = run(cli, ["data", "sync", "erp", "--config", str(config)])
    assert first.exit_code == 0, first.output
    assert "erp erp: read 19, 20 new, 0 updated, 0 unchanged, 1 derived" in first.output
    assert "  sale.sale  read 3  stored 3" in first.output
    again = run(cli, ["data", "sync", "erp", "--config", str(config)])
    assert again.exit_code == 0 and "0 new, 0 updated, 20 unchanged" in again.output

    tryton_alone.server.stop()
    down = run(cli, ["data", "sync", "erp", "--config", str(config)])
    assert down.exit_code == 2 and "failed (ConnectError)" in down.output
    assert "Traceback" not in down.output

    with opened_storage(load_server_config(config)) as sessions, sessions() as session:
        rows = session.scalars(select(PlantRecordRow)).all()
        assert len(rows) == 20  # 19 ERP records + the derived scrap cost
        assert all(b"Northwind" not in bytes(r.body_sealed) for r in rows)  # sealed at rest
        names = list(session.scalars(select(AuditEntryRow.name).order_by(AuditEntryRow.seq)))
    assert names.count("erp.synced") == 2 and names[-1] == "erp.sync_failed"


def test_sync_without_an_erp_section_says_what_to_add(tmp_path: Path, db_url: str) -> None:
    result = CliRunner().invoke(
        cli, ["data", "sync", "erp", "--config", str(write_server_yaml(tmp_path, db_url))]
    )
    assert result.exit_code == 2 and "no ERP configured: add an erp: section" in result.output
