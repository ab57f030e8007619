"""Register → approve (another person) → deploy → roll back, over HTTP, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lineguard.server.auth.catalog import Role
from lineguard.signing import Release, line_release_target
from lineguard.signing.keystore import SigningKeyStore
from lineguard.vision.calibration import describe_operating_point
from lineguard.vision.package import METADATA_FILE, ModelMetadata
from tests.unit.server.registry.conftest import SIGNING, RegistryWorld


def published_release(world: RegistryWorld, line: str) -> Release:
    return Release.from_bytes(world.registry.repo.target_bytes(line_release_target(line)))


def test_the_whole_workflow_is_audited(world: RegistryWorld) -> None:
    client, trail = world.harness.client, world.harness.trail
    first = world.registered_and_approved()
    alice = world.as_person(world.alice)
    deployed = client.post(
        "/api/v1/registry/deployments", json={"version_id": first, "lines": ["line-1"]}, headers=alice
    )
    assert deployed.status_code == 201, deployed.text
    assert deployed.json()["release"] == 1
    second = world.registered_and_approved()
    alice = world.as_person(world.alice)
    again = client.post(
        "/api/v1/registry/deployments", json={"version_id": second, "lines": ["line-1"]}, headers=alice
    )
    assert again.json()["release"] == 2
    assert published_release(world, "line-1").model_version_id == second

    back = client.post(
        "/api/v1/registry/rollbacks", json={"line": "line-1", "reason": "false rejects"}, headers=alice
    )
    assert back.status_code == 201, back.text
    body = back.json()
    assert body["release"] == 3 and body["kind"] == "rollback" and body["replaces_release"] == 2
    assert body["model_version_id"] == first  # the old weights, under a NEW, higher release
    release = published_release(world, "line-1")
    assert (release.release, release.model_version_id, release.kind) == (3, first, "rollback")

    names = trail.names()
    for event in ("model.registered", "model.approved", "model.deployed", "model.rolled_back"):
        assert event in names
    approvals = [(a, f["model_id"]) for n, a, f in trail.events if n == "model.approved"]
    assert approvals and all(actor == "user:bob.s" for actor, _ in approvals)
    assert trail.of("model.deployed")[0]["target"] == "line-1"
    assert trail.of("model.rolled_back")[0]["reason"] == "false rejects"
    listed = client.get("/api/v1/registry/releases", headers=alice).json()
    assert [r["release"] for r in listed] == [1, 2, 3]


def test_the_registrar_cannot_approve_their_own_model(world: RegistryWorld) -> None:
    alice = world.as_person(world.alice)
    registered = world.upload(world.package(), alice)
    version_id = registered.json()["id"]
    own = world.harness.client.post(f"/api/v1/registry/models/{version_id}/approve", headers=alice)
    assert own.status_code == 403
    assert "other than its requester" in own.json()["message"]
    assert world.harness.trail.of("access.denied")[-1]["action"] == "model_deployment.approve"
    deploy = world.harness.client.post(
        "/api/v1/registry/deployments", json={"version_id": version_id, "lines": ["line-1"]}, headers=alice
    )
    assert deploy.status_code == 409
    assert "only approved versions deploy" in deploy.json()["message"]


def test_a_rejected_model_never_deploys(world: RegistryWorld) -> None:
    registered = world.upload(world.package(), world.as_person(world.alice))
    version_id = registered.json()["id"]
    bob = world.as_person(world.bob)
    rejected = world.harness.client.post(
        f"/api/v1/registry/models/{version_id}/reject", json={"reason": "recall too low"}, headers=bob
    )
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert world.harness.trail.of("model.rejected")[-1]["reason"] == "recall too low"
    twice = world.harness.client.post(f"/api/v1/registry/models/{version_id}/approve", headers=bob)
    assert twice.status_code == 409
    deploy = world.harness.client.post(
        "/api/v1/registry/deployments",
        json={"version_id": version_id, "lines": ["line-1"]},
        headers=world.as_person(world.alice),
    )
    assert deploy.status_code == 409


@pytest.mark.parametrize("attack", ["unsigned", "tampered", "unknown_key", "revoked_key"])
def test_bad_uploads_are_refused_before_anything_is_stored(
    world: RegistryWorld, attack: str, tmp_path: Path
) -> None:
    if attack == "unsigned":
        package = world.package(sign=False)
    elif attack == "unknown_key":
        other = SigningKeyStore(tmp_path / "other")
        other.create(SIGNING)
        package = world.package(key=other.load_signing_key(SIGNING))
    else:
        package = world.package()
        if attack == "tampered":
            model = bytearray((package / "model.onnx").read_bytes())
            model[-5] ^= 0x01
            (package / "model.onnx").write_bytes(bytes(model))
        else:
            world.registry.signers.revoke(world.registry.signers.trust().keys[0].key_id, reason="compromised")
    response = world.upload(package, world.as_person(world.alice))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "signature_invalid"
    expected = "signature_format" if attack == "unsigned" else attack  # an empty upload is no bundle
    assert f"check '{expected}' failed" in response.json()["message"]
    assert "model.registered" not in world.harness.trail.names()
    assert not world.registry.packages_dir.exists() or not any(world.registry.packages_dir.iterdir())


def test_people_without_the_permission_are_refused(world: RegistryWorld) -> None:
    tech = world.harness.add_person("tom.t", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    csrf = world.harness.sign_in(tech)
    response = world.upload(world.package(), {"X-CSRF-Token": csrf})
    assert response.status_code == 403
    assert world.harness.client.get("/api/v1/registry/models").status_code == 403


def test_deploying_to_a_line_outside_the_grant_is_refused(world: RegistryWorld) -> None:
    version_id = world.registered_and_approved()
    carol = world.harness.add_person("carol.q", [Role.QUALITY_ENGINEER], lines=["line-2"])
    csrf = world.harness.sign_in(carol)
    response = world.harness.client.post(
        "/api/v1/registry/deployments",
        json={"version_id": version_id, "lines": ["line-1"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 403
    assert json.loads(response.text)["code"] == "forbidden"


def test_each_version_shows_its_operating_point_and_an_unreadable_package_does_not_hide_the_list(
    world: RegistryWorld,
) -> None:
    alice = world.as_person(world.alice)
    package = world.package()
    registered = world.upload(package, alice)
    assert registered.status_code == 201, registered.text
    meta = ModelMetadata.model_validate_json((package / METADATA_FILE).read_bytes())
    [listed] = world.harness.client.get("/api/v1/registry/models", headers=alice).json()
    assert listed["operating_point"] == describe_operating_point(meta.threshold)
    assert listed["operating_point"] == "test package; recall not measured (no labelled defects)"
    # The stored copy damaged on disk: the version is still listed, without the figure.
    stored = world.registry.package_dir(listed["id"]) / METADATA_FILE
    stored.write_text("{not json", encoding="utf-8")
    [again] = world.harness.client.get("/api/v1/registry/models", headers=alice).json()
    assert (again["id"], again["operating_point"]) == (listed["id"], None)
