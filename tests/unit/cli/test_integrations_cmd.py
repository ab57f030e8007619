"""``lineguard integrations list|test|replay`` against a real server database and a real CMMS
server over TLS; no credential is ever printed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from lineguard.cli.main import cli
from lineguard.config import load_server_config
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.integrations import CmmsDeliveryRow, WorkOrder, queue_work_order
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import open_storage
from tests.support.http_stub import HttpStub, Reply
from tests.support.test_pki import TestCa

KEY = "cli-S3CRET-webhook-key-0123456789abcdef01234"


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LG_CLI_WEBHOOK_KEY", KEY)
    ca = TestCa(tmp_path / "pki", "plant")
    stub = HttpStub(
        lambda r: Reply(status=405, body=b"{}"), tls=ca.issue(["localhost"], stem="cmms")
    ).__enter__()
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump({
        "kind": "server", "site_id": "plant-a", "data_dir": str(tmp_path / "data"),
        "egress": {"allow": [{"scheme": "https", "host": "localhost", "port": stub.port,
                              "ca_file": str(ca.cert_path),
                              "addresses": ["127.0.0.0/8"]}]},
        "integrations": {"cmms": [{"kind": "webhook", "name": "hook", "url": f"https://localhost:{stub.port}/wo",
                                   "signing": {"key_id": "k1", "secret": {"env": "LG_CLI_WEBHOOK_KEY"}}}]},
    }))  # fmt: skip
    yield config, stub
    stub.__exit__(None, None, None)


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["integrations", *args])
    return result.exit_code, result.output


def test_list_replay_and_test(setup) -> None:  # type: ignore[no-untyped-def]
    config, stub = setup
    code, out = _run("list", "--config", str(config))
    assert code == 0 and f"hook  webhook  https://localhost:{stub.port}/wo  idle  queued 0  dead 0" in out
    assert f"egress allow  https://localhost:{stub.port}  (pinned CA)" in out

    settings = load_server_config(config)
    engine, sessions = open_storage(settings)
    order = WorkOrder(
        work_order_id="rev-1", idempotency_key="rev-1", title="t", description="d", priority="low",
        site_id="plant-a",
        line_id="line-1", source="rule:x", created_at="2026-12-06T08:00:00Z",
    )  # fmt: skip
    with sessions.begin() as session:
        queue_work_order(session, order=order, sealer=NoEncryption(), destinations=["hook"])
        session.execute(CmmsDeliveryRow.__table__.update().values(state="dead", last_error="hook: HTTP 400"))
    code, out = _run("list", "--config", str(config))
    assert "failing  queued 0  dead 1" in out

    code, out = _run("replay", "--config", str(config), "--destination", "hook")
    assert code == 0 and out.strip() == "replayed 1 work order"
    with sessions() as session:
        assert session.scalar(select(CmmsDeliveryRow.state)) == "pending"
        names = [r.name for r in session.scalars(select(AuditEntryRow))]
    assert names[-1] == "cmms.deliveries_replayed"
    engine.dispose()

    code, out = _run("test", "--config", str(config))
    assert code == 0 and f"hook  https://localhost:{stub.port}/wo  reachable (HTTP 405)" in out
    assert stub.requests[-1].method == "GET" and "x-lineguard-signature" not in stub.requests[-1].headers
    assert KEY not in out


def test_unreachable_destination_fails_the_test_command(setup) -> None:  # type: ignore[no-untyped-def]
    config, stub = setup
    stub.__exit__(None, None, None)
    code, out = _run("test", "--config", str(config))
    assert code == 1 and "hook" in out and "UNREACHABLE: cmms:hook:test:" in out and KEY not in out


def test_unknown_names_are_usage_errors(setup) -> None:  # type: ignore[no-untyped-def]
    config, _ = setup
    code, out = _run("test", "--config", str(config), "nope")
    assert code == 2 and "no CMMS destination named nope" in out
    code, out = _run("replay", "--config", str(config), "--destination", "nope")
    assert code != 0 and "no CMMS destination named 'nope'" in out
