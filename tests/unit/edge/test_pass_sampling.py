"""Audit samples of passing parts: a handful per hour, spread out, none when switched off."""

from __future__ import annotations

import itertools
import random

import pytest

from lineguard.config.edge import CameraConfig
from lineguard.edge.evidence.sampling import PassSampler


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_30_fps_camera_keeps_a_handful_of_passes_per_hour_spread_over_the_hour() -> None:
    clock = Clock()
    sampler = PassSampler(0.05, 6.0, clock=clock, rng=random.Random(7))
    kept_at = []
    for frame in range(30 * 3600 * 4):  # four hours of passes at 30 fps
        clock.t = frame / 30
        if sampler.keep():
            kept_at.append(clock.t)
    per_hour = [sum(1 for t in kept_at if h * 3600 <= t < (h + 1) * 3600) for h in range(4)]
    assert all(4 <= n <= 9 for n in per_hour), per_hour
    gaps = [b - a for a, b in itertools.pairwise(kept_at)]
    assert min(gaps) >= 300 and max(gaps) <= 900 + 60  # 0.5x to 1.5x of 10 minutes (+ the draw)
    assert len({round(g) for g in gaps}) > 5  # not on a predictable beat
    assert sampler.kept == len(kept_at)


@pytest.mark.parametrize(("rate", "per_hour"), [(0.0, 6.0), (0.5, 0.0)])
def test_either_knob_at_zero_keeps_no_passes(rate: float, per_hour: float) -> None:
    clock = Clock()
    sampler = PassSampler(rate, per_hour, clock=clock, rng=random.Random(1))
    for frame in range(10_000):
        clock.t = frame * 10.0
        assert not sampler.keep()


def test_without_an_hourly_cap_the_rate_alone_decides() -> None:
    sampler = PassSampler(0.25, None, clock=Clock(), rng=random.Random(3))
    kept = sum(sampler.keep() for _ in range(4000))
    assert 850 <= kept <= 1150


def test_the_default_is_an_audit_handful_not_a_share_of_every_frame() -> None:
    camera = CameraConfig.model_validate(
        {
            "camera_id": "c",
            "station_id": "s",
            "model": "m",
            "source": {"type": "synthetic"},
            "roi": {"x": 0, "y": 0, "width": 64, "height": 64},
        }
    )
    assert camera.pass_samples_per_hour == 6.0 and 0 < camera.pass_sample_rate <= 0.1
