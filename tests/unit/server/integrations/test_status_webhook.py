"""The CMMS status webhook through the real app: signed closes work orders once; forged,
expired, malformed or unknown is refused with a typed error and audited. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lineguard.config.integrations import StatusWebhookConfig
from lineguard.server.app import create_app
from lineguard.server.audit import AuditRecorder
from lineguard.server.integrations import sign
from lineguard.server.protection import NoEncryption

STATUS_KEY = "status-S3CRET-key-0123456789abcdef0123456789"


@pytest.fixture
def delivered(
    rig_factory: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, TestClient, list[tuple[str, str]]]]:
    monkeypatch.setenv("LG_TEST_STATUS_KEY", STATUS_KEY)
    rig, _fake = rig_factory("webhook")
    rig.queue(1)
    rig.drain()
    integrations = rig.settings.integrations.model_copy(
        update={"status_webhook": StatusWebhookConfig.model_validate(
            {"keys": [{"key_id": "cmms-1", "secret": {"env": "LG_TEST_STATUS_KEY"}}], "window_s": 60}
        )}
    )  # fmt: skip
    settings = rig.settings.model_copy(update={"integrations": integrations})
    app = create_app(settings, engine=engine, sealer=NoEncryption(), audit=AuditRecorder())
    closed: list[tuple[str, str]] = []

    def on_closed(session: Session, work_order_id: str, status: str) -> int:
        closed.append((work_order_id, status))
        return 2

    app.state.lineguard.integrations.on_closed = on_closed
    with TestClient(app) as client:
        yield rig, client, closed


def _post(client: TestClient, body: dict[str, Any] | bytes, *, key: str = STATUS_KEY, key_id: str = "cmms-1",
          now: float | None = None, destination: str = "hook") -> Any:  # fmt: skip
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = sign(raw, key_id=key_id, key=key.encode(), now=now)
    return client.post(f"/api/v1/integrations/cmms/{destination}/status", content=raw, headers=headers)


def test_a_signed_close_closes_once_and_duplicates_change_nothing(delivered: Any) -> None:
    rig, client, closed = delivered
    (order,) = rig.orders
    (row,) = rig.rows()
    body = {"work_order_id": order.work_order_id, "external_id": row.external_id, "status": "closed"}
    first = _post(client, body)
    assert first.status_code == 200, first.text
    assert first.json() == {"work_order_id": order.work_order_id, "result": "closed", "alerts_closed": 2}
    again = _post(client, body)  # the CMMS delivers its webhook twice
    assert again.json()["result"] == "already_closed"
    assert closed == [(order.work_order_id, "closed")]
    events = [p for n, p in rig.audit() if n == "cmms.work_order_closed"]
    assert events == [
        {"destination": "hook", "work_order_id": order.work_order_id, "external_id": row.external_id,
         "status": "closed", "alerts_closed": 2, "outcome": "success"}
    ]  # fmt: skip
    (row,) = rig.rows()
    assert row.closed_at is not None


def test_other_statuses_are_acknowledged_without_closing(delivered: Any) -> None:
    rig, client, closed = delivered
    answer = _post(client, {"work_order_id": rig.orders[0].work_order_id, "status": "in_progress"})
    assert answer.json()["result"] == "noted" and closed == []


@pytest.mark.parametrize(
    ("case", "status", "code", "reason"),
    [
        ("forged", 400, "signature_invalid", "signature does not match"),
        ("wrong_key_id", 400, "signature_invalid", "unknown key id"),
        ("expired", 400, "signature_invalid", "replay window is 60 s"),
        ("unsigned", 400, "signature_invalid", "unsigned request"),
        ("malformed", 422, "contract_invalid", "documented shape"),
        ("unknown_order", 404, "not_found", "was not delivered"),
        ("other_external_id", 404, "not_found", "not 'elsewhere'"),
    ],
)
def test_bad_status_messages_are_refused_and_audited(
    delivered: Any, case: str, status: int, code: str, reason: str
) -> None:
    rig, client, closed = delivered
    body: dict[str, Any] = {"work_order_id": rig.orders[0].work_order_id, "status": "closed"}
    kwargs: dict[str, Any] = {}
    if case == "forged":
        kwargs["key"] = "not-the-key-" + "x" * 32
    elif case == "wrong_key_id":
        kwargs["key_id"] = "cmms-9"
    elif case == "expired":
        kwargs["now"] = time.time() - 3600
    elif case == "malformed":
        body["status"] = "exploded"
    elif case == "unknown_order":
        body["work_order_id"] = "wo-nope"
    elif case == "other_external_id":
        body["external_id"] = "elsewhere"
    if case == "unsigned":
        answer = client.post("/api/v1/integrations/cmms/hook/status", content=json.dumps(body).encode())
    else:
        answer = _post(client, body, **kwargs)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code and reason in answer.json()["message"]
    assert STATUS_KEY not in answer.text
    rejected = [p for n, p in rig.audit() if n == "cmms.status_rejected"]
    assert len(rejected) == 1 and reason in rejected[0]["reason"] and rejected[0]["outcome"] == "denied"
    assert closed == [] and rig.rows()[0].closed_at is None


def test_unknown_destination_is_not_found(delivered: Any) -> None:
    _rig, client, _ = delivered
    answer = _post(client, {"work_order_id": "x", "status": "closed"}, destination="nope")
    assert answer.status_code == 404


def test_an_oversized_status_message_is_refused_unread(delivered: Any) -> None:
    rig, client, closed = delivered
    body = {"work_order_id": rig.orders[0].work_order_id, "status": "closed", "note": "x" * 20_000}
    answer = _post(client, body)
    assert answer.status_code == 413 and answer.json()["code"] == "payload_too_large"
    assert closed == [] and rig.rows()[0].closed_at is None
