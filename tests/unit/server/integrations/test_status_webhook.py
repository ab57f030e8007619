"""The CMMS status webhook through the real app: signed closes work orders once; forged,
expired, malformed or unknown is refused with a typed error and audited. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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


def test_forged_status_messages_cannot_grow_the_audit_log(delivered: Any) -> None:
    """The route is public (HMAC is the credential): refusals are throttled per source and
    summarised, as failed sign-ins are (review finding 6), instead of one entry each."""
    rig, client, closed = delivered
    body = {"work_order_id": rig.orders[0].work_order_id, "status": "closed"}
    for _ in range(20):
        assert _post(client, body, key="not-the-key-" + "x" * 32).status_code == 400
    rejected = [p for n, p in rig.audit() if n == "cmms.status_rejected"]
    assert len(rejected) == 3  # the throttle's per-source allowance for one kind of refusal
    state = client.app.state.lineguard  # type: ignore[attr-defined]
    (summary,) = state.checkpoints.throttle.summaries(close=True)
    assert (summary.event, summary.suppressed, summary.sources) == ("cmms.status_rejected", 17, 1)
    assert closed == [] and rig.rows()[0].closed_at is None


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_STATUSES = st.sampled_from(["open", "in_progress", "on_hold", "closed", "cancelled", "exploded", ""])


@st.composite
def _status_bodies(draw: st.DrawFn, work_order_id: str) -> bytes:
    """Random bytes, random JSON, or a status message with one field replaced."""
    kind = draw(st.sampled_from(["bytes", "json", "mutated"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return json.dumps(draw(_json_values)).encode()
    body: dict[str, Any] = {"work_order_id": work_order_id, "status": draw(_STATUSES)}
    field = draw(st.sampled_from(["work_order_id", "external_id", "status", "note", "extra"]))
    body[field] = draw(_json_values)
    return json.dumps(body).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_status_messages_are_a_typed_refusal_and_change_nothing(delivered: Any, data: Any) -> None:
    """Whatever a client sends, signed with the right key, a wrong one or not at all: never
    a 5xx, a refusal in the error shape, and a refused message closes nothing."""
    rig, client, closed = delivered
    raw = data.draw(_status_bodies(rig.orders[0].work_order_id))
    signer = data.draw(st.sampled_from(["right", "wrong", "none", "garbage"]))
    if signer == "garbage":
        headers = data.draw(
            st.fixed_dictionaries(
                {
                    "x-lineguard-key-id": st.text(
                        st.characters(min_codepoint=32, max_codepoint=126), max_size=20
                    ),
                    "x-lineguard-timestamp": st.text(
                        st.characters(min_codepoint=32, max_codepoint=126), max_size=20
                    ),
                    "x-lineguard-signature": st.text(
                        st.characters(min_codepoint=32, max_codepoint=126), max_size=80
                    ),
                }
            )
        )
    elif signer == "none":
        headers = {}
    else:
        key = STATUS_KEY if signer == "right" else "not-the-key-" + "x" * 32
        headers = sign(raw, key_id="cmms-1", key=key.encode())
    before = list(closed)
    answer = client.post("/api/v1/integrations/cmms/hook/status", content=raw, headers=headers)
    assert answer.status_code < 500, answer.text
    if answer.status_code != 200:
        assert answer.status_code in {400, 404, 422}, answer.text
        assert set(answer.json()) == {"code", "message", "details"}
        assert closed == before
        assert STATUS_KEY not in answer.text
    else:
        assert signer == "right"
    if signer != "right":
        assert rig.rows()[0].closed_at is None
