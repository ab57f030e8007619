"""The update loop and its hand-over to the cameras' inspect workers."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lineguard.contracts.events import ModelRef
from lineguard.contracts.types import CapturedFrame, ModelRunner
from lineguard.edge.decide import StationMonitor
from lineguard.edge.outbox.store import Outbox
from lineguard.edge.pipeline import Arrival, CameraStats, InspectWorker
from lineguard.edge.update import ModelSlot, UpdateClient, UpdateWorker
from lineguard.edge.workers import LatestQueue
from lineguard.signing import VerificationError
from lineguard.vision.runtime import OnnxModelRunner
from tests.unit.edge.support import camera, edge_config
from tests.unit.edge.update.world import FRAME, Published, UpdateWorld


class Recorder:
    """A ModelUser that remembers what it was handed."""

    def __init__(self) -> None:
        self.got: list[ModelRef] = []
        self.arrived = threading.Event()

    def use_model(self, runner: ModelRunner, ref: ModelRef) -> None:
        assert runner.digest == ref.sha256
        self.got.append(ref)
        self.arrived.set()


def test_the_loop_hands_an_installed_release_to_every_user(world: UpdateWorld) -> None:
    published = world.publish()
    users = [Recorder(), Recorder()]
    slot = ModelSlot()
    slot.subscribe(lambda runner, ref: [u.use_model(runner, ref) for u in users if ref is not None])
    stop = threading.Event()
    worker = UpdateWorker(stop, lambda: world.node(slot=slot), interval_s=0.05)
    worker.start()
    try:
        assert all(u.arrived.wait(timeout=30) for u in users)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert [u.got[0].sha256 for u in users] == [published.digest] * 2
    assert worker.last_status in {"installed", "current"}


def test_a_refusal_keeps_the_loop_running(world: UpdateWorld, running: Published) -> None:
    from datetime import timedelta

    world.publish()
    world.registry.repo.sign_timestamp(expires=datetime.now(UTC) - timedelta(seconds=5))
    stop = threading.Event()
    worker = UpdateWorker(stop, lambda: world.node(), interval_s=0.05)
    worker.start()
    deadline = time.monotonic() + 30
    while worker.errors < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    worker.join(timeout=10)
    assert worker.errors >= 2 and worker.last_status == "refused"
    assert world.slot.digest == running.digest


def test_after_a_restart_the_installed_release_is_verified_again_then_loaded(
    world: UpdateWorld, running: Published
) -> None:
    fresh = ModelSlot()
    outcome = world.node(slot=fresh).check()
    assert outcome.status == "restored"
    assert fresh.digest == running.digest
    # Tampered on disk while the node was down: refused, nothing loaded.
    installed = world.node().state.installed
    assert installed is not None
    graph = Path(installed.package_dir) / "model.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0x01
    graph.write_bytes(bytes(data))
    empty = ModelSlot()
    with pytest.raises(VerificationError) as caught:
        world.node(slot=empty).check()
    assert caught.value.check == "tampered"
    assert not empty.loaded


def test_inspect_worker_swaps_between_frames(world: UpdateWorld, tmp_path: Path) -> None:
    first, second = world.publish(), world.publish()
    config = edge_config(tmp_path / "edge", [camera("cam-1", first.package_dir)])
    stats = CameraStats("cam-1")
    old = OnnxModelRunner(first.package_dir)
    outbox = Outbox(tmp_path / "outbox.db", fsync=False)
    inspect = InspectWorker(
        threading.Event(),
        node=config.node,
        camera=config.cameras[0],
        runner=old,
        model_version=1,
        queue=LatestQueue(4),
        stats=stats,
        outbox=outbox,
        gate=None,
        monitor=StationMonitor(),
    )

    def frame(i: int) -> Arrival:
        captured = CapturedFrame("cam-1", i, datetime.now(UTC), FRAME.copy())
        return Arrival(captured, time.perf_counter_ns())

    before = inspect.inspect(frame(0))
    assert before is not None and before.model.sha256 == first.digest
    ref = ModelRef(model_id="tiny-test-model", version=2, sha256=second.digest)
    inspect.use_model(OnnxModelRunner(second.package_dir), ref)
    after = inspect.inspect(frame(1))
    assert after is not None and after.model == ref
    assert stats.model == ref  # what the heartbeat reports
    outbox.close()


def test_an_unreachable_server_waits_for_the_next_interval_not_a_tight_loop() -> None:
    attempts: list[float] = []
    failed = threading.Event()

    def connect() -> UpdateClient:
        attempts.append(time.monotonic())
        failed.set()
        raise ConnectionRefusedError("server down")

    stop = threading.Event()
    worker = UpdateWorker(stop, connect, interval_s=3600)
    worker.start()
    assert failed.wait(timeout=30)
    time.sleep(0.3)  # a tight retry loop would have tried again by now
    stop.set()
    worker.join(timeout=5)
    assert not worker.alive  # the stop event ends the wait at once
    assert len(attempts) == 1
    assert worker.last_status == "error" and "ConnectionRefusedError" in (worker.last_error or "")
