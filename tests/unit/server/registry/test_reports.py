"""What nodes report about updates becomes audit events under the node's name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from lineguard.contracts.errors import InputError
from lineguard.server.registry import service
from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head
from lineguard.signing import UpdateReport
from tests.unit.server.auth.harness import StrictAuditTrail


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    engine = create_engine_for(db_url)
    upgrade_to_head(engine)
    with session_factory(engine)() as opened:
        yield opened
    engine.dispose()


def test_a_refusal_is_audited_with_its_check(session: Session) -> None:
    trail = StrictAuditTrail()
    report = UpdateReport(
        node_id="node-1", outcome="rejected", check="revoked_key", reason="signed by a revoked key", release=4
    )
    service.record_report(session, node_id="node-1", report=report, audit=trail)
    name, actor, fields = trail.events[-1]
    assert (name, actor) == ("model.rejected", "node:node-1")
    assert "check 'revoked_key' failed" in fields["reason"] and "release 4" in fields["reason"]
    assert fields["outcome"] == "denied"


def test_an_install_is_audited(session: Session) -> None:
    trail = StrictAuditTrail()
    report = UpdateReport(
        node_id="node-1", outcome="installed", release=2, model_id="tile", model_version=3, sha256="a" * 64
    )
    service.record_report(session, node_id="node-1", report=report, audit=trail)
    assert trail.events[-1] == (
        "model.deployed",
        "node:node-1",
        {"outcome": "success", "model_id": "tile", "version": 3, "sha256": "a" * 64, "target": "node-1"},
    )


def test_a_node_reports_only_for_itself(session: Session) -> None:
    report = UpdateReport(node_id="node-2", outcome="installed")
    with pytest.raises(InputError, match="client certificate is node node-1"):
        service.record_report(session, node_id="node-1", report=report, audit=StrictAuditTrail())
