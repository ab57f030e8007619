"""One test per attack on the update path: the node refuses with the named check, the
refusal is journaled (and would be reported), and the old model keeps running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lineguard.edge.update import UpdateClient
from lineguard.signing import (
    SIGNERS_TARGET,
    VerificationError,
    line_release_target,
    package_targets,
)
from lineguard.signing.keystore import SigningKeyStore
from tests.unit.edge.update.world import FRAME, SIGNING_PASSPHRASE, Published, UpdateWorld


def refused(node: UpdateClient, check: str) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        node.check()
    assert caught.value.check == check, caught.value.message
    last = node.state.decisions()[-1]
    assert last["outcome"] == "rejected"
    assert last["check"] == check
    return caught.value


def still_running(world: UpdateWorld, running: Published) -> None:
    """The model installed before the attack is the one the infer worker gets, and it infers."""
    assert world.slot.digest == running.digest
    assert world.slot.model_ref is not None and world.slot.model_ref.sha256 == running.digest
    scores = world.slot.current().infer(FRAME)
    assert scores.anomaly_map.shape == (64, 64)
    assert world.node().state.installed is not None
    assert world.node().state.installed.sha256 == running.digest  # type: ignore[union-attr]


def test_unsigned_package_is_refused(world: UpdateWorld, running: Published) -> None:
    """A compromised registry publishes a package without its signature."""
    version_id, _, digest = world.package(sign=False)
    release = world.release(version_id, digest)
    files = package_targets(version_id)
    package = world.registry.package_dir(version_id)
    world.registry.repo.put_targets(
        {
            files.model: (package / "model.onnx").read_bytes(),
            files.metadata: (package / "metadata.json").read_bytes(),
            line_release_target("line-1"): release.to_bytes(),
        },
        custom={line_release_target("line-1"): release.custom()},
    )
    error = refused(world.node(), "unsigned")
    assert files.signature in error.message
    still_running(world, running)


def test_package_signed_by_an_unknown_key_is_refused(
    world: UpdateWorld, running: Published, tmp_path
) -> None:
    """The attacker signs with their own key; the published trust list does not hold it."""
    attacker = SigningKeyStore(tmp_path / "attacker")
    attacker.create(SIGNING_PASSPHRASE, label="attacker")
    world.publish(key=attacker.load_signing_key(SIGNING_PASSPHRASE))
    error = refused(world.node(), "unknown_key")
    assert "not in the trust list" in error.message
    still_running(world, running)


def test_package_signed_by_a_revoked_key_is_refused(world: UpdateWorld, running: Published) -> None:
    """The key that signed the running model is revoked; a new package it signs must not load."""
    old_key = world.signing_key()
    revoked = world.registry.signers.revoke(
        world.registry.signers.trust().keys[0].key_id, reason="laptop stolen"
    )
    world.registry.signers.rotate(SIGNING_PASSPHRASE, label="qa-2026b")
    assert world.registry.publish_trust()
    world.publish(key=old_key)  # signed before the private PEM was destroyed, published later
    error = refused(world.node(), "revoked_key")
    assert revoked.key_id[:16] in error.message and "laptop stolen" in error.message
    still_running(world, running)


def test_one_flipped_byte_at_the_source_is_refused(world: UpdateWorld, running: Published) -> None:
    """The registry's copy is altered after signing; TUF hashes the altered file, model-signing does not."""
    version_id, package_dir, digest = world.package()
    model = bytearray((package_dir / "model.onnx").read_bytes())
    model[len(model) // 2] ^= 0x01
    (package_dir / "model.onnx").write_bytes(bytes(model))
    world.registry.publish_release(world.release(version_id, digest))
    error = refused(world.node(), "tampered")
    assert "model.onnx" in error.message
    still_running(world, running)


def test_one_flipped_byte_in_transit_is_refused(world: UpdateWorld, running: Published) -> None:
    """A network attacker flips one byte of the graph on its way to the node."""
    second = world.publish()

    def flip(data: bytes) -> bytes:
        altered = bytearray(data)
        altered[len(altered) // 2] ^= 0x01
        return bytes(altered)

    world.tamper.append(
        (lambda p: p.startswith(f"targets/packages/{second.release.model_version_id}/"), flip)
    )
    refused(world.node(), "tampered")
    still_running(world, running)


def test_expired_metadata_is_refused(world: UpdateWorld, running: Published) -> None:
    """A frozen or stalled server: the timestamp it serves has expired."""
    world.publish()
    world.registry.repo.sign_timestamp(expires=datetime.now(UTC) - timedelta(minutes=1))
    error = refused(world.node(), "expired_metadata")
    assert "ExpiredMetadataError" in error.message
    still_running(world, running)


def test_replayed_older_release_is_refused(world: UpdateWorld, running: Published) -> None:
    """A genuine, signed, older release re-published by a compromised registry is refused."""
    second = world.publish()
    assert world.node().check().status == "installed"
    replay = running.release
    world.registry.repo.put_targets(
        {line_release_target("line-1"): replay.to_bytes()},
        custom={line_release_target("line-1"): replay.custom()},
    )
    error = refused(world.node(), "replayed_release")
    assert "not newer than release 2" in error.message
    still_running(world, second)


def test_replayed_older_metadata_is_refused(world: UpdateWorld, running: Published) -> None:
    """A network attacker replays the timestamp the node saw before the latest release."""
    old_timestamp = world.registry.repo.metadata_file("timestamp.json").read_bytes()
    second = world.publish()
    assert world.node().check().status == "installed"
    world.publish()
    world.tamper.append((lambda p: p == "metadata/timestamp.json", lambda _data: old_timestamp))
    error = refused(world.node(), "replayed_release")
    assert "BadVersionNumberError" in error.message
    still_running(world, second)


def test_package_for_another_line_is_refused(world: UpdateWorld, running: Published) -> None:
    """A release for line-2 lands under line-1's name; the node reads its audience first."""
    version_id, _, digest = world.package()
    other = world.release(version_id, digest, lines=("line-2",))
    world.registry.repo.put_targets(
        {line_release_target("line-1"): other.to_bytes()},
        custom={line_release_target("line-1"): other.custom()},
    )
    error = refused(world.node(), "wrong_target")
    assert "line-2" in error.message
    still_running(world, running)


def test_release_document_that_contradicts_its_audience_is_refused(
    world: UpdateWorld, running: Published
) -> None:
    """Custom metadata claims line-1, the signed document says line-2: the document wins."""
    version_id, _, digest = world.package()
    other = world.release(version_id, digest, lines=("line-2",))
    claim = world.release(version_id, digest, number=other.release, lines=("line-1",))
    world.registry.repo.put_targets(
        {line_release_target("line-1"): other.to_bytes()},
        custom={line_release_target("line-1"): claim.custom()},
    )
    refused(world.node(), "wrong_target")
    still_running(world, running)


def test_tampered_trust_list_in_transit_is_refused(world: UpdateWorld, running: Published) -> None:
    """Adding the attacker's key to signers.json on the wire breaks its TUF hash."""
    world.publish()
    folder = "targets/" + SIGNERS_TARGET.rsplit("/", 1)[0] + "/"
    world.tamper.append((lambda p: p.startswith(folder), lambda d: d + b" "))
    refused(world.node(), "tampered")
    still_running(world, running)
