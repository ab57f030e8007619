"""Commissioning: the part threshold from known-good parts, computed the way the node fuses parts."""

from __future__ import annotations

import pytest

from lineguard.config.edge import PartsConfig, Roi, SyntheticSource
from lineguard.contracts.errors import InputError
from lineguard.edge.calibrate import MIN_GOOD_PARTS, fused_part_scores, part_threshold
from lineguard.edge.capture import SyntheticLine
from lineguard.edge.infer import StaticRunner


def test_the_threshold_sits_a_quarter_of_the_spread_above_the_highest_good_part() -> None:
    good = [float(i) for i in range(21)]  # median 10, max 20
    assert part_threshold(good) == 20 + 0.25 * (20 - 10)
    shifted = [s - 100 for s in good]  # any score scale: only differences matter
    assert part_threshold(shifted) == part_threshold(good) - 100


def test_too_few_good_parts_is_refused() -> None:
    with pytest.raises(InputError, match=f"at least {MIN_GOOD_PARTS} good parts, got 3"):
        part_threshold([0.1, 0.2, 0.3])


def test_fused_scores_are_one_median_per_part_of_the_line() -> None:
    line = SyntheticLine("cam-1", SyntheticSource(type="synthetic", seed=7, person_rate=0.0), realtime=False)
    frames = list(line.frames_of_parts(1_000_000, 4))
    assert [f.part_id for f in frames[::6]] == [f"part-{1_000_000 + i:06d}" for i in range(4)]
    # A runner whose score is the frame's position within its part: median of 0..5 is 2.5.
    position = iter(range(10_000))
    runner = StaticRunner(score_fn=lambda _image: float(next(position) % 6))
    roi = line.part_roi()
    scores = fused_part_scores(
        runner,
        iter(frames),
        roi=Roi(x=roi.x, y=roi.y, width=roi.width, height=roi.height),
        parts=PartsConfig(),
    )
    assert scores == [2.5, 2.5, 2.5, 2.5]
