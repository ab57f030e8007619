"""Batch inference across cameras: concurrent frames scored as one batch, each caller gets its own row."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lineguard.contracts.errors import ConfigError, ModelError
from lineguard.contracts.types import ModelRunner
from lineguard.edge.infer import StaticRunner
from lineguard.edge.pipeline import BatchingRunner, CameraStats, batching
from lineguard.vision.runtime import OnnxModelRunner


def _frames(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [rng.integers(0, 255, (90 + 7 * i, 120, 3), dtype=np.uint8) for i in range(n)]


class _HoldFirstBatch(OnnxModelRunner):
    """The real runner, whose first batch waits until ``others`` more frames are queued behind it,
    so the test knows a second batch of exactly that many forms (no timing involved)."""

    def __init__(self, package: Path, others: int) -> None:
        super().__init__(package, threads=1)
        self.others = others
        self.batcher: BatchingRunner | None = None
        self.first = True

    def run_tensor(self, tensor):  # type: ignore[no-untyped-def]
        if self.first:
            self.first = False
            assert self.batcher is not None
            deadline = time.monotonic() + 30
            while len(self.batcher._queue) < self.others and time.monotonic() < deadline:
                time.sleep(0.005)
        return super().run_tensor(tensor)


def _infer_concurrently(
    runner: ModelRunner, frames: list[np.ndarray], holder: _HoldFirstBatch
) -> list[object]:
    results: list[object] = [None] * len(frames)

    def work(i: int) -> None:
        try:
            results[i] = runner.infer(frames[i])
        except Exception as exc:  # the test inspects what each caller got
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(frames))]
    threads[0].start()
    deadline = time.monotonic() + 30
    while holder.first and time.monotonic() < deadline:  # the first caller leads the first batch
        time.sleep(0.005)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_cameras_get_their_own_scores_from_one_batch(tiny_package: Path) -> None:
    alone = OnnxModelRunner(tiny_package, threads=1)
    frames = _frames(5)
    inner = _HoldFirstBatch(tiny_package, others=4)
    batcher = BatchingRunner(inner, max_batch=4)
    inner.batcher = batcher

    results = _infer_concurrently(batcher, frames, inner)

    for frame, got in zip(frames, results, strict=True):
        want = alone.infer(frame)
        assert not isinstance(got, Exception), got
        assert got.anomaly_score == pytest.approx(want.anomaly_score, rel=1e-4, abs=1e-5)  # type: ignore[attr-defined]
        np.testing.assert_allclose(got.anomaly_map, want.anomaly_map, rtol=1e-4, atol=1e-5)  # type: ignore[attr-defined]
    # One frame alone, then the four queued behind it as one batch (max_batch caps it at 4).
    assert batcher.stats.sizes == {1: 1, 4: 1}
    assert (batcher.stats.frames, batcher.stats.largest) == (5, 4)
    assert (batcher.model_id, batcher.digest, batcher.threshold) == (
        alone.model_id,
        alone.digest,
        alone.threshold,
    )


class _OneRowPerBatch:
    """The held real runner, returning one row for any batch (a graph with a fixed batch of 1)."""

    def __init__(self, inner: _HoldFirstBatch) -> None:
        self.inner = inner
        self.model_id, self.digest, self.threshold = inner.model_id, inner.digest, inner.threshold
        self.prepare, self.infer = inner.prepare, inner.infer

    def run_tensor(self, tensor):  # type: ignore[no-untyped-def]
        scores, maps = self.inner.run_tensor(tensor)
        return scores[:1], maps[:1]


def test_a_failed_batch_fails_every_frame_in_it_and_the_runner_goes_on(tiny_package: Path) -> None:
    holder = _HoldFirstBatch(tiny_package, others=3)
    batcher = BatchingRunner(_OneRowPerBatch(holder), max_batch=3)  # type: ignore[arg-type]
    holder.batcher = batcher

    results = _infer_concurrently(batcher, _frames(4), holder)

    assert not isinstance(results[0], Exception)  # alone: one row for one frame is right
    for got in results[1:]:  # the batch of three behind it
        assert isinstance(got, ModelError)
        assert "returned 1 scores for a batch of 3" in got.message
    later = batcher.infer(_frames(1)[0])  # nothing stays locked or queued
    assert np.isfinite(later.anomaly_score)
    assert batcher.stats.sizes == {1: 2, 3: 1}


def test_batching_wraps_only_a_shared_runner_that_can_score_batches(tiny_package: Path) -> None:
    onnx = OnnxModelRunner(tiny_package, threads=1)
    assert batching(onnx, cameras=1) is onnx
    static = StaticRunner()
    assert batching(static, cameras=4) is static  # no prepared-batch interface: left alone
    shared = batching(onnx, cameras=4, cores=2)
    assert isinstance(shared, BatchingRunner)
    assert (shared.max_batch, shared.max_in_flight) == (4, 2)  # both cores busy, never one batch at a time
    with pytest.raises(ConfigError, match="max_batch"):
        BatchingRunner(onnx, max_batch=0)
    with pytest.raises(ConfigError, match="max_in_flight"):
        BatchingRunner(onnx, max_batch=2, max_in_flight=0)


def test_with_two_batches_in_flight_every_frame_still_gets_its_own_scores(tiny_package: Path) -> None:
    alone = OnnxModelRunner(tiny_package, threads=1)
    batcher = BatchingRunner(OnnxModelRunner(tiny_package, threads=1), max_batch=3, max_in_flight=2)
    frames = _frames(8) * 3
    results: list[object] = [None] * len(frames)

    def work(i: int) -> None:
        results[i] = batcher.infer(frames[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(frames))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for frame, got in zip(frames, results, strict=True):
        assert got is not None
        assert got.anomaly_score == pytest.approx(alone.infer(frame).anomaly_score, rel=1e-4, abs=1e-5)  # type: ignore[attr-defined]
    assert batcher.stats.frames == len(frames)
    assert batcher.stats.largest <= 3


@pytest.mark.usefixtures("kek_env")
def test_a_node_batches_the_cameras_that_share_a_package_when_configured(
    tmp_path: Path, tiny_package: Path
) -> None:
    from lineguard.config.edge import SyntheticSource
    from lineguard.crypto import KdfParams
    from lineguard.edge.app import EdgeNode
    from lineguard.edge.capture import SyntheticLine
    from lineguard.edge.redact import FakeRedactor
    from tests.unit.edge.support import camera, edge_config

    def line(camera_id: str) -> SyntheticLine:
        cfg = SyntheticSource(type="synthetic", width=320, height=240, fps=60, seed=1)
        return SyntheticLine(camera_id, cfg, max_frames=40)

    cams = [camera(c, tiny_package) for c in ("cam-a", "cam-b", "cam-c")]
    for batch in (False, True):
        config = edge_config(tmp_path / f"data-{batch}", cams, inference={"batch_across_cameras": batch})
        node = EdgeNode(
            config,
            kdf=KdfParams.insecure_for_tests(),
            redactor=FakeRedactor(),
            sources={c["camera_id"]: line(c["camera_id"]) for c in cams},
        )
        node.start()
        try:

            def settled(stats: list[CameraStats]) -> bool:
                return all(
                    s.frames_captured == 40 and s.frames_inspected + s.frames_dropped == 40 for s in stats
                )

            stats = list(node.stats.values())
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not settled(stats):
                time.sleep(0.05)
            assert settled(stats), [(s.frames_captured, s.frames_inspected, s.frames_dropped) for s in stats]
            assert all(s.frames_inspected > 0 and s.model_errors == 0 for s in stats)
            inspected = sum(s.frames_inspected for s in stats)
            shared = list(node._batched.values())
            if batch:  # one batching runner for the three cameras, and every frame went through it
                assert len(shared) == 1
                assert isinstance(shared[0], BatchingRunner)
                assert shared[0].stats.frames == inspected
            else:
                assert shared == []
        finally:
            node.close()
