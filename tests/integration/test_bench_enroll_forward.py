"""``bench/bench_enroll_forward.py`` for one round on a real PostgreSQL: a node enrolled and
renewed by each path (the edge's own calls raise on any refusal), both measured in the same
run, the forwarded rows carrying their ratios to direct. No timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench_enroll_forward as bench

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_one_round_enrolls_and_renews_a_node_by_each_path(tmp_path: Path, postgres_url: str) -> None:
    samples = bench.run(postgres_url, tmp_path, rounds=1, max_seconds=240)
    assert [(s.path, s.op) for s in samples] == [
        ("direct", "enroll"),
        ("direct", "renew"),
        ("forwarded", "enroll"),
        ("forwarded", "renew"),
    ]
    assert all(s.wall_s > 0 and s.cpu_s >= 0 for s in samples)
    rows = bench.summary(samples)
    assert [(r["op"], r["path"], r["n"]) for r in rows] == [
        ("enroll", "direct", 1),
        ("enroll", "forwarded", 1),
        ("renew", "direct", 1),
        ("renew", "forwarded", 1),
    ]
    assert all(("wall_ratio" in r) == (r["path"] == "forwarded") for r in rows)
