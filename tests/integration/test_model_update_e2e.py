"""The happy path of a model update, end to end, on a real server over HTTPS + mTLS.

sign (workstation key) → register (quality engineer, HTTPS) → approve (production
supervisor) → deploy to line-1 → the enrolled node fetches TUF metadata and the
package over its mTLS channel, verifies, hot-swaps → its heartbeat tells the server
the new digest. Then an attack on the same deployment path: a byte flipped in the
registry's stored graph is refused by the node, the refusal is in the server's audit
log under the node's name, and the node keeps running the approved model. Runs on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner, Result
from pydantic import SecretStr
from sqlalchemy import select
from tests.unit.server.auth.harness import AuthHarness, FakeClock, Person, StrictAuditTrail, harness_settings
from tests.unit.server.conftest import issue_node_token, make_plant_ca

from lineguard.cli.main import cli as lineguard_cli
from lineguard.contracts.events import CameraHealth, NodeHeartbeat
from lineguard.edge.identity import enroll, https_client
from lineguard.edge.update import ModelSlot, SoftwareSlots, UpdateClient, connect
from lineguard.server.app import create_app
from lineguard.server.auth.catalog import Role
from lineguard.server.auth.dependencies import CSRF_HEADER
from lineguard.server.ingest.models import CameraHealthRow
from lineguard.server.pki import ca_paths
from lineguard.server.protection import NoEncryption
from lineguard.server.registry import Registry
from lineguard.server.registry.tuf_repo import TufPolicy
from lineguard.server.storage import create_engine_for, session_factory
from lineguard.server.tls import ServerThread
from lineguard.signing import (
    SoftwareRelease,
    VerificationError,
    build_software_bundle,
    signature_path_for,
    software_bundle_target,
)
from lineguard.signing.sign import sign_package
from lineguard.vision.testing import build_tiny_package

SIGNING = SecretStr("e2e signing passphrase")


@dataclass
class Plant:
    people: AuthHarness
    registry: Registry
    url: str
    ca_file: Path


@contextlib.contextmanager
def running_plant(db_url: str, data_dir: Path) -> Iterator[Plant]:
    settings = harness_settings(data_dir)
    ca = make_plant_ca(data_dir)
    registry = Registry.open(
        data_dir, SecretStr("e2e tuf keys"), policy=TufPolicy(root_keys=2, root_threshold=2)
    )
    registry.signers.create(SIGNING, label="qa-workstation")
    engine = create_engine_for(db_url)
    trail = StrictAuditTrail()
    app = create_app(
        settings,
        engine=engine,
        sealer=NoEncryption(),
        audit=trail,
        ca=ca,
        registry=registry,
    )
    paths = ca_paths(data_dir)
    clock = FakeClock()
    try:
        with ServerThread(
            app, cert_file=paths.server_cert, key_file=paths.server_key, ca_file=paths.cert
        ) as server:
            app.state.lineguard.auth.clock = clock
            with httpx.Client(
                base_url=server.url, verify=ssl.create_default_context(cafile=str(paths.cert)), timeout=30
            ) as browser:
                people = AuthHarness(app=app, client=browser, trail=trail, clock=clock)  # type: ignore[arg-type]
                yield Plant(people, registry, server.url, paths.cert)
    finally:
        engine.dispose()


@pytest.fixture
def plant(db_url: str, tmp_path: Path) -> Iterator[Plant]:
    with running_plant(db_url, tmp_path / "server") as p:
        yield p


def enrolled_node(plant: Plant, data_dir: Path) -> None:
    context = plant.people.context
    with context.sessions() as session:
        token = issue_node_token(
            session,
            context.ca.get(),
            "node-1",
            site_id=context.settings.site_id,
            created_by="cli:test-admin",
            audit=plant.people.trail,
        )
    enroll(plant.url, token, data_dir)


def signed_upload(plant: Plant, package: Path) -> dict[str, tuple[str, bytes]]:
    sign_package(package, plant.registry.signers.load_signing_key(SIGNING))
    return {
        "model": ("model.onnx", (package / "model.onnx").read_bytes()),
        "metadata": ("metadata.json", (package / "metadata.json").read_bytes()),
        "signature": ("package.sig", signature_path_for(package).read_bytes()),
    }


def release_to_line(plant: Plant, package: Path, alice: Person, bob: Person) -> dict[str, object]:
    people, client = plant.people, plant.people.client
    as_alice = {CSRF_HEADER: people.sign_in(alice)}
    registered = client.post("/api/v1/registry/models", files=signed_upload(plant, package), headers=as_alice)
    assert registered.status_code == 201, registered.text
    version_id = registered.json()["id"]
    as_bob = {CSRF_HEADER: people.sign_in(bob)}
    approved = client.post(f"/api/v1/registry/models/{version_id}/approve", headers=as_bob)
    assert approved.status_code == 200, approved.text
    as_alice = {CSRF_HEADER: people.sign_in(alice)}
    deployed = client.post(
        "/api/v1/registry/deployments", json={"version_id": version_id, "lines": ["line-1"]}, headers=as_alice
    )
    assert deployed.status_code == 201, deployed.text
    return dict(deployed.json())


def heartbeat(node_dir: Path, slot: ModelSlot) -> None:
    beat = NodeHeartbeat(
        node_id="node-1",
        site_id="plant",
        line_id="line-1",
        sent_at=datetime.now(UTC),
        software_version="test",
        uptime_s=1.0,
        outbox_backlog=0,
        disk_used_bytes=0,
        cameras=[
            CameraHealth(
                camera_id="cam-1",
                state="streaming",
                fps=10.0,
                latency_p50_ms=5.0,
                latency_p99_ms=9.0,
                frames_dropped=0,
                model=slot.model_ref,
            )
        ],
    )
    with https_client(node_dir) as client:
        response = client.post("/api/v1/ingest/heartbeat", content=beat.model_dump_json())
    assert response.status_code < 300, response.text


def test_sign_approve_deploy_and_the_node_runs_the_new_digest(plant: Plant, tmp_path: Path) -> None:
    people = plant.people
    alice = people.add_person("alice.q", [Role.QUALITY_ENGINEER])
    bob = people.add_person("bob.s", [Role.PRODUCTION_SUPERVISOR])
    node_dir = tmp_path / "edge"
    enrolled_node(plant, node_dir)

    # The node starts on the package it was configured with (not from the registry).
    configured = build_tiny_package(tmp_path / "configured", gray_level=0.5)
    from lineguard.vision.runtime import OnnxModelRunner

    slot = ModelSlot(OnnxModelRunner(configured.path))
    with connect(node_dir, slot) as updater:
        update_path(plant, updater, slot, node_dir, tmp_path, configured.digest, (alice, bob))


def update_path(
    plant: Plant,
    updater: UpdateClient,
    slot: ModelSlot,
    node_dir: Path,
    tmp_path: Path,
    configured: str,
    people_: tuple[Person, Person],
) -> None:
    people = plant.people
    alice, bob = people_
    assert updater.check().status == "none"

    new = build_tiny_package(tmp_path / "release-1" / "tile", gray_level=0.42)
    deployed = release_to_line(plant, new.path, alice, bob)
    outcome = updater.check()
    assert outcome.status == "installed"
    assert outcome.release is not None and outcome.release.release == deployed["release"]
    assert slot.digest == new.digest != configured
    heartbeat(node_dir, slot)
    with session_factory(people.context.engine)() as session:
        row = session.scalars(select(CameraHealthRow).where(CameraHealthRow.node_id == "node-1")).one()
    assert row.model_sha256 == new.digest
    names = people.trail.names()
    assert names.index("model.registered") < names.index("model.approved") < names.index("model.deployed")
    confirmations = [a for n, a, f in people.trail.events if n == "model.deployed" and a == "node:node-1"]
    assert confirmations  # the node's own report, over mTLS

    # The attack: the registry's stored graph is altered after approval, then published.
    evil = build_tiny_package(tmp_path / "release-2" / "tile", gray_level=0.33)
    stored_before = {p.name for p in plant.registry.packages_dir.iterdir()}
    deployed = release_to_line(plant, evil.path, alice, bob)
    (version_dir,) = {p.name for p in plant.registry.packages_dir.iterdir()} - stored_before
    graph = plant.registry.package_dir(version_dir) / "model.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0x01
    graph.write_bytes(bytes(data))
    as_alice = {CSRF_HEADER: people.sign_in(alice)}
    redeploy = people.client.post(
        "/api/v1/registry/deployments",
        json={"version_id": version_dir, "lines": ["line-1"]},
        headers=as_alice,
    )
    assert redeploy.status_code == 201, redeploy.text
    with pytest.raises(VerificationError) as caught:
        updater.check()
    assert caught.value.check == "tampered"
    assert slot.digest == new.digest  # the approved model keeps running
    refusals = [(a, f) for n, a, f in people.trail.events if n == "model.rejected"]
    assert refusals and refusals[-1][0] == "node:node-1"
    assert "check 'tampered' failed" in refusals[-1][1]["reason"]


def _publish_software(plant: Plant, version: str) -> None:
    """What `lineguard registry publish-software` does on the server host (tested there)."""
    wheels = {f"lineguard-{version}-py3-none-any.whl": f"wheel {version}".encode()}
    bundle = build_software_bundle(version, wheels, f"lineguard=={version}\n")
    site = plant.people.context.settings.site_id
    release = SoftwareRelease(
        site_id=site,
        release=plant.registry.highest_software_release(site) + 1,
        version=version,
        bundle=software_bundle_target(site, version),
        bundle_sha256=hashlib.sha256(bundle).hexdigest(),
        bundle_length=len(bundle),
    )
    plant.registry.publish_software(release, bundle)


def test_node_software_reaches_the_enrolled_node_over_mtls_and_the_operator_installs_and_rolls_back(
    plant: Plant, tmp_path: Path
) -> None:
    """`lineguard edge software check / rollback` on an enrolled node: the release the
    software role signed for this site is verified over the node's mTLS channel (first
    TUF root fetched over the CA-pinned channel), installed into a slot, and each step
    lands in the server's audit log under the node's name."""
    node_dir = tmp_path / "edge"
    config = tmp_path / "edge.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kind": "edge",
                "node": {
                    "node_id": "node-1",
                    "site_id": "plant",
                    "line_id": "line-1",
                    "data_dir": str(node_dir),
                },
                "server": {"url": plant.url},
                "cameras": [
                    {
                        "camera_id": "cam-1",
                        "station_id": "st-1",
                        "source": {"type": "synthetic"},
                        "model": str(tmp_path / "model"),
                        "roi": {"x": 0, "y": 0, "width": 64, "height": 64},
                    }
                ],
            }
        )
    )
    cli = CliRunner()

    def software(*args: str) -> Result:
        return cli.invoke(
            lineguard_cli, ["edge", "software", *args, "--config", str(config)], catch_exceptions=False
        )

    refused = software("check")
    assert refused.exit_code != 0
    assert "node node-1 is not enrolled: run `lineguard edge enroll` first" in refused.output
    enrolled_node(plant, node_dir)
    nothing = software("check", "--json")
    assert nothing.exit_code == 0, nothing.output
    assert json.loads(nothing.output)["status"] == "none"

    _publish_software(plant, "0.2.0")
    first = software("check")
    assert first.exit_code == 0, first.output
    assert (
        "installed LineGuard 0.2.0 (release 1)" in first.output and "restart the node service" in first.output
    )
    _publish_software(plant, "0.3.0")
    second = software("check", "--json")
    assert json.loads(second.output)["version"] == "0.3.0"
    slots = SoftwareSlots(node_dir)
    assert slots.version_of(slots.current()) == "0.3.0"
    back = software("rollback")
    assert back.exit_code == 0 and "now LineGuard 0.2.0" in back.output
    assert slots.version_of(slots.current()) == "0.2.0"

    steps = [(a, f["step"]) for n, a, f in plant.people.trail.events if n == "node_software.step"]
    assert steps == [
        ("node:node-1", o) for o in ("verified", "installed", "verified", "installed", "rolled_back")
    ]
