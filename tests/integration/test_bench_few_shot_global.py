"""``bench/few_shot_global.py``: the energy groups add up to the global distance, the
defect-aware weights lift the groups labelled defects use, and unseen defects of the same
kind score higher than with the plain distance."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import few_shot_global as fsg
from lineguard.vision.scoring import LowRankGaussian

STAGES = (2, 3)  # a small descriptor: 22 columns per channel, 110 in all


def test_groups_follow_the_descriptor_layout() -> None:
    channel = fsg.descriptor_groups("channel", STAGES)
    part = fsg.descriptor_groups("part", STAGES)
    assert channel.size == part.size == 22 * sum(STAGES)
    assert np.bincount(channel).tolist() == [22] * 5  # every channel's 4 + 16 + 1 + 1 columns
    assert np.bincount(part).tolist() == [4 * 2, 16 * 2, 2, 2, 4 * 3, 16 * 3, 3, 3]
    assert channel[:4].tolist() == [0, 0, 0, 0] and channel[4:8].tolist() == [1, 1, 1, 1]
    assert fsg.descriptor_groups("channel").size == 22 * sum(fsg.STAGE_CHANNELS)
    with pytest.raises(ValueError, match="unknown descriptor grouping"):
        fsg.descriptor_groups("pixel", STAGES)


def _data(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Goods in a 110-column descriptor; defects add to the columns of channel 3 only."""
    groups = fsg.descriptor_groups("channel", STAGES)
    fit = rng.standard_normal((200, groups.size))
    model = LowRankGaussian.fit(fit, max_rank=8)
    desc = {g: rng.standard_normal((n, groups.size)) for g, n in (("hold", 60), ("test", 60), ("bad", 10))}
    desc["bad"][:, groups == 3] += 2.0 * rng.standard_normal((10, 22))
    energy = {g: fsg.group_energies(model, d, groups) for g, d in desc.items()}
    np.testing.assert_allclose(energy["test"].sum(1), model.distance(desc["test"]) ** 2, rtol=1e-9)
    return energy, groups


def test_weights_lift_the_defects_group_and_stay_capped() -> None:
    energy, _ = _data(np.random.default_rng(0))
    a = fsg.direction_weights(energy["hold"], energy["bad"], cap=4.0, alpha=0.2)
    assert int(np.argmax(a)) == 3
    assert a.max() <= 4.0 and a.min() >= 0.0
    assert fsg.direction_weights(energy["hold"], energy["bad"], cap=4.0, alpha=1.0) == pytest.approx(
        np.ones(a.size)
    )


def test_evidence_separates_unseen_defects_better_than_the_plain_distance() -> None:
    energy, _ = _data(np.random.default_rng(2))
    z, loo = fsg.global_evidence(energy, np.arange(5), cap=8.0, alpha=0.1)
    assert loo.shape == (5,)
    assert abs(float(z["hold"].mean())) < 1e-9

    def plain(g: str) -> np.ndarray:
        ref = np.sqrt(energy["hold"].sum(1))
        out: np.ndarray = (np.sqrt(energy[g].sum(1)) - ref.mean()) / ref.std()
        return out

    # the 5 defects the weights never saw stand further above the test goods than before
    gap_weighted = z["bad"][5:].min() - z["test"].max()
    gap_plain = plain("bad")[5:].min() - plain("test").max()
    assert gap_weighted > gap_plain
