"""``lineguard ask`` on the server host: JSON with answer, citations, scope and refused, as the
named person; an unknown person or a workflow not granted is a clean error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lineguard.cli.main import cli
from lineguard.config import load_server_config
from lineguard.server.admin import admin_session
from lineguard.server.auth import AuthRuntime, Role, create_user, grant_role
from tests.support.server_yaml import write_server_yaml


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LINEGUARD_KEYRING_PASSPHRASE", "ask command tests passphrase")
    path = write_server_yaml(tmp_path, f"sqlite:///{tmp_path / 'ask.db'}")
    settings = load_server_config(path)
    runtime = AuthRuntime.build(settings.site_id, settings.auth)
    with admin_session(settings, actor="cli:test") as admin:
        for name, role in (
            ("sam.super", Role.PRODUCTION_SUPERVISOR),
            ("fay.finance", Role.FINANCE_CONTROLLER),
        ):
            user, _ = create_user(
                admin.session,
                runtime=runtime,
                username=name,
                display_name=name,
                by="cli:test",
                audit=admin.audit,
            )
            user.totp_sealed = b"enrolled"  # MFA enrolled: the policy keeps commercial data behind it
            grant_role(
                admin.session,
                runtime=runtime,
                grantee=user,
                role=role,
                by=None,
                by_label="cli:test",
                audit=admin.audit,
            )
        admin.session.commit()
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "id,type,customer,quantity,unit_price\nSO-1,sales_order,Zephyr,4,2.5\nSO-2,sales_order,Acme,2,10\n"
    )
    result = CliRunner().invoke(
        cli, ["data", "import", str(orders), "--category", "customer_orders", "--config", str(path)]
    )
    assert result.exit_code == 0, result.output
    return path


def test_ask_as_json_follows_the_person(config: Path) -> None:
    question = "What is the total order value?"
    run = CliRunner().invoke
    finance = ["--workflow", "sales_update", "--as", "fay.finance", "--config", str(config)]
    result = run(cli, ["ask", question, *finance, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["answer"].startswith("The total order value of sales orders is 30 (from 2 records).")
    assert [c["source_key"] for c in body["citations"]] == ["SO-1", "SO-2"] and body["refused"] is False
    assert body["scope"].startswith("Scope: customer-order data (all lines and the site)")
    result = run(cli, ["ask", question, "--workflow", "production_assistant", "--as", "sam.super",
                       "--config", str(config), "--json"])  # fmt: skip
    assert json.loads(result.output)["refused"] is True
    result = run(
        cli, ["ask", question, "--workflow", "finance_review", "--as", "sam.super", "--config", str(config)]
    )
    assert result.exit_code == 2 and "finance_review workflow is not granted to you" in result.output
    result = run(
        cli, ["ask", question, "--workflow", "sales_update", "--as", "nobody", "--config", str(config)]
    )
    assert result.exit_code == 2 and "no enabled account by that name" in result.output
    plain = run(
        cli, ["ask", question, "--workflow", "sales_update", "--as", "fay.finance", "--config", str(config)]
    )
    assert "[1] sales_order SO-1 (customer_orders, site)" in plain.output
