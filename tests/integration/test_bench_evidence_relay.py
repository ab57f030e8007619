"""``bench/bench_evidence_relay.py`` once per path on a real PostgreSQL with two real replicas:
each hand-off delivers the node's exact image (the bench raises otherwise), both paths are
measured in the same run, and the largest image stays within what a node may send.
No timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lineguard.contracts.evidence_view import MAX_EVIDENCE_JPEG_BYTES
from lineguard.edge.evidence.store import DEFAULT_JPEG_QUALITY

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench_evidence_relay as bench

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_the_largest_bench_image_is_just_within_the_limit() -> None:
    image = bench.noise_image(MAX_EVIDENCE_JPEG_BYTES, DEFAULT_JPEG_QUALITY, MAX_EVIDENCE_JPEG_BYTES)
    size = len(bench.cv2.imencode(".jpg", image, [bench.cv2.IMWRITE_JPEG_QUALITY, DEFAULT_JPEG_QUALITY])[1])
    assert 0.9 * MAX_EVIDENCE_JPEG_BYTES <= size <= MAX_EVIDENCE_JPEG_BYTES


def test_one_hand_off_per_path_between_two_replicas(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in bench.ENV.items():
        monkeypatch.setenv(name, value)
    results = bench.run(postgres_url, tmp_path, ["100k"], views=1, max_seconds=240)
    assert [(r.size, r.path) for r in results] == [("100k", "same"), ("100k", "relayed")]
    assert all(90_000 <= r.image_bytes <= 110_000 for r in results)
    rows = bench.summary(results)
    assert [(row["path"], row["n"]) for row in rows] == [("same", 1), ("relayed", 1)]
    assert all(row["server_cpu_ms_per_handoff"] >= 0 for row in rows)
