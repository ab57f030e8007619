"""Publishing node software: the next release number per site, signed by the ``software``
role only, audited in the real log (SQLite and PostgreSQL); bad input stores nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lineguard.contracts.errors import InputError
from lineguard.server.audit import AuditRecorder, DatabaseLog
from lineguard.server.registry import Registry, publish_node_software, record_software_report
from lineguard.server.registry.tuf_repo import SOFTWARE_ROLE, TufPolicy
from lineguard.server.storage import session_factory, upgrade_to_head
from lineguard.signing import (
    SoftwareDecision,
    SoftwareRelease,
    build_software_bundle,
    software_release_target,
)
from tests.unit.server.auth.harness import StrictAuditTrail


def _bundle(version: str) -> bytes:
    return build_software_bundle(version, {f"lineguard-{version}-py3-none-any.whl": b"w"}, "lineguard\n")


def _publish(session: Session, registry: Registry, site: str, version: str) -> SoftwareRelease:
    return publish_node_software(
        session, registry=registry, site_id=site, version=version, bundle=_bundle(version),
        actor="cli:software.ops", audit=AuditRecorder(),
    )  # fmt: skip


def test_publishing_is_audited_numbered_per_site_and_signed_by_the_software_role(
    engine: Engine, tmp_path: Path
) -> None:
    upgrade_to_head(engine)
    sessions = session_factory(engine)
    registry = Registry.open(
        tmp_path / "reg", SecretStr("tuf keys"), policy=TufPolicy(root_keys=1, root_threshold=1)
    )
    with sessions() as session:
        first = _publish(session, registry, "plant-a", "0.2.0")
        second = _publish(session, registry, "plant-a", "0.3.0")
        other = _publish(session, registry, "plant-b", "0.3.0")
    assert (first.release, second.release, other.release) == (1, 2, 1)
    software = registry.repo.software()
    assert software.signed.targets[software_release_target("plant-a")].unrecognized_fields["custom"] == {
        "lineguard_software": {"site": "plant-a", "release": 2, "version": "0.3.0"}
    }
    delegation = registry.repo.targets().signed.delegations
    assert delegation is not None and delegation.roles is not None
    role = delegation.roles[SOFTWARE_ROLE]
    assert (role.threshold, len(role.keyids), role.terminating) == (2, 2, True)
    assert len(software.signatures) == 2
    assert not any(p.startswith("software/") for p in registry.repo.targets().signed.targets)
    with sessions() as session:
        entries = [
            e
            for e in DatabaseLog(session, site_id="plant-a").entries()
            if e.name == "node_software.published"
        ]
    assert [(json.loads(e.payload)["site_id"], json.loads(e.payload)["release"]) for e in entries] == [
        ("plant-a", 1), ("plant-a", 2), ("plant-b", 1)
    ]  # fmt: skip
    assert {e.actor for e in entries} == {"cli:software.ops"}


@pytest.mark.parametrize(("version", "bundle", "match"), [("v1 beta", b"x", "not a LineGuard version"),
                                                         ("0.2.0", b"", "the bundle is empty")])  # fmt: skip
def test_bad_input_is_refused_and_nothing_is_published(
    engine: Engine, tmp_path: Path, version: str, bundle: bytes, match: str
) -> None:
    upgrade_to_head(engine)
    registry = Registry.open(
        tmp_path / "reg", SecretStr("tuf keys"), policy=TufPolicy(root_keys=1, root_threshold=1)
    )
    with session_factory(engine)() as session, pytest.raises(InputError, match=match):
        publish_node_software(session, registry=registry, site_id="plant-a", version=version, bundle=bundle,
                              actor="cli:software.ops", audit=AuditRecorder())  # fmt: skip
    assert registry.highest_software_release("plant-a") == 0
    with session_factory(engine)() as session:
        assert [
            e for e in DatabaseLog(session, site_id="plant-a").entries() if e.name.startswith("node_")
        ] == []


@pytest.mark.parametrize(
    ("decision", "step", "outcome"),
    [
        (
            SoftwareDecision(outcome="installed", site_id="plant-a", release=2, version="0.3.0"),
            "installed",
            "success",
        ),
        (
            SoftwareDecision(
                outcome="rejected",
                site_id="plant-a",
                release=1,
                check="replayed_release",
                reason="older than release 2",
            ),
            "rejected",
            "denied",
        ),
        (
            SoftwareDecision(outcome="rolled_back", site_id="plant-a", running_version="0.2.0"),
            "rolled_back",
            "success",
        ),
    ],
)
def test_a_node_s_steps_are_audited_under_its_name(
    engine: Engine, decision: SoftwareDecision, step: str, outcome: str
) -> None:
    upgrade_to_head(engine)
    trail = StrictAuditTrail()
    with session_factory(engine)() as session:
        record_software_report(session, node_id="node-1", site_id="plant-a", report=decision, audit=trail)
    ((name, actor, fields),) = trail.events
    assert (name, actor, fields["step"], fields["outcome"]) == (
        "node_software.step",
        "node:node-1",
        step,
        outcome,
    )
    assert fields["check"] == decision.check and fields["release"] == decision.release


@pytest.mark.parametrize(
    ("decision", "match"),
    [
        (
            SoftwareDecision(outcome="installed", site_id="plant-b", release=1, version="0.3.0"),
            "enrolled in plant-a",
        ),
        (SoftwareDecision(outcome="rejected", site_id="plant-a", release=1), "names the failed check"),
    ],
)
def test_a_report_for_another_site_or_without_its_check_is_refused(
    engine: Engine, decision: SoftwareDecision, match: str
) -> None:
    upgrade_to_head(engine)
    trail = StrictAuditTrail()
    with session_factory(engine)() as session, pytest.raises(InputError, match=match):
        record_software_report(session, node_id="node-1", site_id="plant-a", report=decision, audit=trail)
    assert trail.events == []
