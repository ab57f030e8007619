"""Every CMMS connector against a real local server of its product's documented shape, with
failures injected: nothing lost, nothing created twice, dead letters replayable, no secret
in any log, error or audit entry. SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import base64
import json
import logging
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.integrations import DeliveryPolicy
from lineguard.contracts.errors import ConfigError, SecretError
from lineguard.server.integrations import backoff_s, queue_work_order, replay_in_transaction
from lineguard.server.integrations.queue import claim_due, mark_delivered
from lineguard.server.protection import NoEncryption
from tests.support.test_pki import TestCa
from tests.unit.server.integrations.conftest import CMMS_HOST, KINDS, SECRETS, build_rig, destination

#: Failures after which retrying is safe for every product: the CMMS created nothing.
TRANSIENT = ["500", "503", "429", "timeout", "drop", "error_body", "slow"]


def _sent(rig: Any) -> list[dict[str, Any]]:
    return [p for n, p in rig.audit() if n == "cmms.work_order_sent"]


@pytest.mark.parametrize("kind", KINDS)
def test_documented_shape_delivered_once_each(rig_factory: Any, kind: str) -> None:
    rig, fake = rig_factory(kind)
    rig.queue(3)
    rig.drain()
    assert fake.violations == []
    assert len(fake.created) == 3
    rows = rig.rows()
    assert {r.state for r in rows} == {"delivered"} and all(r.attempts == 1 for r in rows)
    assert all(r.external_id for r in rows)
    sent = _sent(rig)
    assert sorted(p["work_order_id"] for p in sent) == sorted(o.work_order_id for o in rig.orders)
    assert {p["external_id"] for p in sent} == {r.external_id for r in rows}


def test_payload_mapping_per_product(rig_factory: Any) -> None:
    expected = {
        "maintainx": {"priority": "HIGH", "assetId": 4711, "locationId": 12, "categories": ["Quality"]},
        "upkeep": {"priority": 3, "asset": "4711", "location": "12"},
        "sap_pm": {"MaintPriority": "2", "NotificationType": "M2", "TechnicalObject": "4711",
                   "TechObjIsEquipOrFuncnlLoc": "EAMS_EQUI",
                   "NotificationText": "Scratch cluster on station 3"},
    }  # fmt: skip
    for kind, fields in expected.items():
        rig, fake = rig_factory(kind)
        (order,) = rig.queue(1)
        rig.drain()
        (body,) = fake.created.values()
        assert {k: body[k] for k in fields} == fields, kind
        text = body.get("description") or body.get("MaintNotifLongTextForEdit")
        assert order.work_order_id in text and "ev-0001" not in json.dumps(body).replace('"ev-0001"', "")


@pytest.mark.parametrize("kind", KINDS)
def test_transient_failures_are_retried_until_delivered_once(rig_factory: Any, kind: str) -> None:
    rig, fake = rig_factory(kind, faults=TRANSIENT)
    rig.queue(4)
    rig.drain()
    assert fake.violations == []
    assert len(fake.created) == 4  # every order once, none lost, none twice
    rows = rig.rows()
    assert {r.state for r in rows} == {"delivered"}
    assert sum(r.attempts for r in rows) == 4 + len([f for f in TRANSIENT if f != "slow"])  # "slow" succeeds
    assert len(_sent(rig)) == 4


@pytest.mark.parametrize("fault", ["drop_after_create", "timeout_after_create"])
def test_webhook_answers_lost_after_creation_create_nothing_twice(rig_factory: Any, fault: str) -> None:
    rig, fake = rig_factory("webhook", faults=[fault, fault])
    rig.queue(2)
    rig.drain()
    assert len(fake.created) == 2 and fake.create_attempts == 4
    rows = rig.rows()
    assert {r.state for r in rows} == {"delivered"}
    # The retry got 409 (already there) and still learned the CMMS's id.
    assert sorted(r.external_id for r in rows) == sorted(fake.created)


def test_duplicate_delivery_of_one_order_is_one_work_order(
    rig_factory: Any, migrated: sessionmaker[Session]
) -> None:
    rig, fake = rig_factory("webhook")
    (order,) = rig.queue(1)
    with migrated.begin() as session:  # queued again (an approval replayed): no second row
        assert queue_work_order(session, order=order, sealer=NoEncryption(), destinations=["hook"]) == []
    rig.drain()
    assert len(rig.rows()) == 1 and len(fake.created) == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fault", ["400", "redirect", "oversized"])
def test_permanent_failures_dead_letter_at_once_and_replay_delivers(
    rig_factory: Any, kind: str, fault: str
) -> None:
    rig, fake = rig_factory(kind, faults=[fault])
    rig.queue(1)
    rig.drain()
    (row,) = rig.rows()
    assert row.state == "dead" and row.attempts == 1 and fake.created == {}
    dead = [p for n, p in rig.audit() if n == "cmms.delivery_dead_lettered"]
    assert len(dead) == 1 and dead[0]["attempts"] == 1
    if fault == "redirect":
        assert [p["destination"] for n, p in rig.audit() if n == "egress.denied"] == ["http://127.0.0.2:9"]
    assert replay_in_transaction(rig.sessions, audit=rig.state.dispatcher.audit, actor="user:alice") == 1
    rig.drain()
    (row,) = rig.rows()
    assert row.state == "delivered" and len(fake.created) == 1
    assert [p["work_orders"] for n, p in rig.audit() if n == "cmms.deliveries_replayed"] == [1]


def test_out_of_attempts_goes_to_the_dead_letter_queue(rig_factory: Any) -> None:
    rig, fake = rig_factory("maintainx", faults=["503"] * 3, max_attempts=3)
    rig.queue(1)
    rig.drain()
    (row,) = rig.rows()
    assert row.state == "dead" and row.attempts == 3 and "HTTP 503" in (row.last_error or "")
    assert fake.created == {}


@pytest.mark.parametrize("kind", KINDS)
def test_certificate_from_another_ca_gets_nothing(rig_factory: Any, tmp_path: Path, kind: str) -> None:
    impostor = TestCa(tmp_path / "impostor", "impostor").issue([CMMS_HOST], stem="impostor")
    rig, fake = rig_factory(kind, tls=impostor)
    rig.queue(1)
    rig.drain()
    (row,) = rig.rows()
    assert row.state == "dead" and "not trusted" in (row.last_error or "")
    assert fake.stub.requests == []


def test_sap_refetches_an_expired_csrf_token(rig_factory: Any) -> None:
    rig, fake = rig_factory("sap_pm", faults=["csrf_expired"])
    rig.queue(1)
    rig.drain()
    (row,) = rig.rows()
    assert row.state == "delivered" and row.attempts == 1
    assert fake.fetches == 2 and fake.violations == [] and len(fake.created) == 1


def test_no_secret_in_logs_errors_or_audit(rig_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts = []
    for kind in KINDS:
        rig, _ = rig_factory(kind, faults=["500", "400", "redirect", "drop", "error_body"])
        rig.queue(3)
        rig.drain()
        replay_in_transaction(rig.sessions, audit=rig.state.dispatcher.audit, actor="user:alice")
        rig.drain()
        texts += [r.last_error or "" for r in rig.rows()] + rig.errors
        texts += [json.dumps(p) for _, p in rig.audit()]
        texts += [str(c.target) + repr(c) for c in rig.state.connectors.values()]
    texts.append(caplog.text)
    blob = "\n".join(texts)
    assert "timed out" in blob or "failed (" in blob
    assert "HTTP 500" in blob and "HTTP 400" in blob  # the errors are there…
    for secret in SECRETS.values():  # …the secrets are not, nor SAP's basic-auth encoding
        assert secret not in blob
        assert secret[:12] not in blob
    assert base64.b64encode(f"LG_TECH:{SECRETS['LG_TEST_SAP_PASSWORD']}".encode()).decode() not in blob


def test_a_lost_lease_settles_nothing(rig_factory: Any) -> None:
    rig, _fake = rig_factory("webhook")
    rig.queue(1)
    with rig.sessions.begin() as session:
        (first,) = claim_due(session, now=rig.clock.now, limit=5, lease_s=10, destinations=["hook"])
    rig.clock.advance(11)  # the lease ran out; another sender takes the row
    with rig.sessions.begin() as session:
        (second,) = claim_due(session, now=rig.clock.now, limit=5, lease_s=10, destinations=["hook"])
        assert second.token != first.token
    with rig.sessions.begin() as session:
        assert mark_delivered(session, first, external_id="x", now=rig.clock.now) is None
        assert mark_delivered(session, second, external_id="y", now=rig.clock.now) is not None
    (row,) = rig.rows()
    assert row.external_id == "y"


def test_backoff_grows_exponentially_with_jitter_and_caps() -> None:
    policy = DeliveryPolicy(backoff_base_s=2, backoff_max_s=60)
    rng = random.Random(7)
    for attempt, cap in [(1, 2), (2, 4), (3, 8), (4, 16), (10, 60)]:
        delays = [backoff_s(attempt, policy, rng) for _ in range(200)]
        assert all(cap / 2 <= d <= cap for d in delays)
        assert max(delays) - min(delays) > cap / 4  # jittered, not fixed


def test_a_destination_off_the_allowlist_is_a_config_error(
    tmp_path: Path, migrated: sessionmaker[Session], cmms_secrets: dict[str, str]
) -> None:
    with pytest.raises(ConfigError) as info:
        build_rig(tmp_path, migrated, [destination("maintainx", "https://cmms.plant.test")], [])
    assert info.value.details == ["integrations.cmms[mx]: https://cmms.plant.test:443 is not in egress.allow"]


def test_a_missing_credential_stops_the_server_at_start(
    tmp_path: Path, migrated: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LG_TEST_UPKEEP_TOKEN", raising=False)
    rule = {"scheme": "https", "host": "cmms.plant.test", "port": 443}
    with pytest.raises(SecretError, match="LG_TEST_UPKEEP_TOKEN"):
        build_rig(tmp_path, migrated, [destination("upkeep", "https://cmms.plant.test")], [rule])
