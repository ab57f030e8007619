"""``lineguard data import`` against a real database with the server keyring: sealed records,
one audit entry, and a bad file that imports nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from lineguard.cli.main import cli
from lineguard.config import load_server_config
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.plantdata import PlantRecordRow
from lineguard.server.storage import opened_storage
from tests.support.server_yaml import write_server_yaml


@pytest.fixture
def config(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LINEGUARD_KEYRING_PASSPHRASE", "data import tests passphrase")
    return write_server_yaml(tmp_path, db_url)


def test_import_then_reimport_then_a_bad_file(config: Path, tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("id,customer,quantity,unit_price\nSO-1,Zephyr,4,2.5\nSO-2,Acme,1,9\n", encoding="utf-8")
    run = CliRunner().invoke
    result = run(
        cli, ["data", "import", str(orders), "--category", "customer_orders", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert "imported orders.csv (csv): 2 new, 0 updated, 0 unchanged" in result.output
    result = run(
        cli, ["data", "import", str(orders), "--category", "customer_orders", "--config", str(config)]
    )
    assert "0 new, 0 updated, 2 unchanged" in result.output

    bad = tmp_path / "more.csv"
    bad.write_text("id,quantity\nSO-9,3\nSO-10,three\n", encoding="utf-8")
    result = run(cli, ["data", "import", str(bad), "--category", "customer_orders", "--config", str(config)])
    assert result.exit_code == 2
    assert (
        "1 bad row(s); nothing was imported" in result.output and "line 3: quantity 'three'" in result.output
    )
    result = run(cli, ["data", "import", str(orders), "--category", "payroll", "--config", str(config)])
    assert result.exit_code == 2 and "unknown plant-data category 'payroll'" in result.output

    with opened_storage(load_server_config(config)) as sessions, sessions() as session:
        rows = session.scalars(select(PlantRecordRow)).all()
        assert sorted(r.source_key for r in rows) == ["SO-1", "SO-2"]
        assert all(b"Zephyr" not in bytes(r.body_sealed) for r in rows)
        imported = session.scalar(
            select(func.count()).select_from(AuditEntryRow).where(AuditEntryRow.name == "plant_data.imported")
        )
        assert imported == 2
