"""The update path when nothing is wrong: install, hot swap under load, restarts, root
rotation, per-node releases and rollbacks."""

from __future__ import annotations

import threading

import pytest

from lineguard.edge.update import ModelSlot
from lineguard.signing import VerificationError
from tests.unit.edge.update.world import FRAME, Published, UpdateWorld


def test_first_install_reports_the_running_digest(world: UpdateWorld) -> None:
    first = world.publish()
    node = world.node()
    assert not world.slot.loaded
    outcome = node.check()
    assert outcome.status == "installed"
    assert world.slot.model_ref is not None
    assert world.slot.model_ref.sha256 == first.digest == world.slot.current().digest
    assert world.slot.model_ref.version == first.release.model_version
    assert node.check().status == "current"  # nothing new: no reinstall
    assert [d["outcome"] for d in node.state.decisions()] == ["installed"]


def test_nothing_published_for_this_line_means_no_update(world: UpdateWorld) -> None:
    world.publish(lines=("line-2",))
    assert world.node().check().status == "none"
    assert not world.slot.loaded


def test_hot_swap_drops_no_frames(world: UpdateWorld, running: Published) -> None:
    """The infer worker keeps asking the slot for the runner while an update lands."""
    second = world.publish()
    seen: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    warmed = threading.Event()  # the line is running on the old model before the update lands

    def infer_worker() -> None:
        after_swap = 0
        while after_swap < 5:  # run through the swap, then a few frames more
            after_swap += stop.is_set()
            try:
                runner = world.slot.current()
                runner.infer(FRAME)
                seen.append(runner.digest)
                if len(seen) == 3:
                    warmed.set()
            except BaseException as exc:
                errors.append(exc)
                return

    worker = threading.Thread(target=infer_worker)
    worker.start()
    assert warmed.wait(timeout=30)
    try:
        assert world.node().check().status == "installed"
    finally:
        stop.set()
        worker.join(timeout=30)
    assert errors == []
    assert seen[0] == running.digest and seen[-1] == second.digest
    first_new = seen.index(second.digest)
    assert set(seen[:first_new]) == {running.digest} and set(seen[first_new:]) == {second.digest}


def test_release_state_survives_a_restart(world: UpdateWorld, running: Published) -> None:
    second = world.publish()
    assert world.node().check().status == "installed"
    # A new process: a fresh slot and a fresh client on the same data directory.
    restarted = world.node(slot=ModelSlot())
    assert restarted.state.installed is not None
    assert restarted.state.installed.sha256 == second.digest
    world.registry.repo.put_targets(
        {"releases/line/line-1.json": running.release.to_bytes()},
        custom={"releases/line/line-1.json": running.release.custom()},
    )
    with pytest.raises(VerificationError) as caught:
        restarted.check()
    assert caught.value.check == "replayed_release"


def test_node_follows_a_root_key_rotation(world: UpdateWorld, running: Published) -> None:
    old_root = world.registry.repo.root()
    assert world.registry.repo.rotate_root() == 2
    assert world.registry.repo.rotate_online_key("targets") == 3
    second = world.publish()
    node = world.node()
    assert node.check().status == "installed"
    assert world.slot.digest == second.digest
    trusted = (node.state.metadata_dir / "root.json").read_bytes()
    assert b'"version": 3' in trusted
    assert not set(old_root.signed.roles["root"].keyids) & set(
        world.registry.repo.root().signed.roles["root"].keyids
    )


def test_root_not_signed_by_the_previous_root_keys_is_refused(world: UpdateWorld, running: Published) -> None:
    """A forged root v2 signed only with new keys cannot replace the node's trusted root."""
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import Metadata, Root
    from tuf.api.serialization.json import JSONSerializer

    forged: Metadata[Root] = world.registry.repo.root()
    root = forged.signed
    root.version += 1
    signer = CryptoSigner.generate_ecdsa()
    for keyid in list(root.roles["root"].keyids):
        root.revoke_key(keyid, "root")
    root.add_key(signer.public_key, "root")
    root.roles["root"].threshold = 1
    forged.signatures.clear()
    forged.sign(signer)
    data = forged.to_bytes(JSONSerializer())
    world.tamper.append((lambda p: p == "metadata/2.root.json", lambda _d: data))
    (world.registry.repo.metadata_dir / "2.root.json").write_bytes(data)  # so the server has the name
    world.publish()
    with pytest.raises(VerificationError) as caught:
        world.node().check()
    assert caught.value.check == "metadata"
    assert "root" in caught.value.message
    assert world.slot.digest == running.digest


def test_node_release_overrides_its_line_and_a_rollback_is_a_newer_release(
    world: UpdateWorld, running: Published
) -> None:
    canary = world.publish(lines=(), nodes=("node-1",))
    node = world.node()
    assert node.check().status == "installed"
    assert world.slot.digest == canary.digest
    # Roll back: a NEW release (higher number) pointing at the first package's weights.
    back = world.release(running.release.model_version_id, running.digest, lines=(), nodes=("node-1",))
    world.registry.publish_release(back.model_copy(update={"kind": "rollback", "replaces_release": 2}))
    assert back.release > canary.release.release
    assert node.check().status == "installed"
    assert world.slot.digest == running.digest
    assert node.state.last_release == back.release


def test_an_unreachable_server_is_no_refusal(world: UpdateWorld, running: Published) -> None:
    node = world.node()
    node.metadata_url = "http://127.0.0.1:9/metadata/"  # discard port: nothing listens
    with pytest.raises(VerificationError) as caught:
        node.check()
    assert caught.value.check == "download"
    assert [d["outcome"] for d in node.state.decisions()] == ["installed"]  # nothing journaled
    assert world.slot.digest == running.digest
