"""Nearest labelled defect patch (``defectproto``): which cells become prototypes, the cell score
the head computes from them against the likelihood ratio it stands for, the leave-one-out
choice, and bad input refused with the head left as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lineguard.contracts.errors import InputError
from lineguard.vision.defectproto import choose_prototypes, defect_cells, prototype_cells
from lineguard.vision.fewshot import fused
from lineguard.vision.scoring import GaussianStats, LocalGlobalHead, LowRankGaussian

C, H, W = 6, 4, 4


def _head(rng: np.random.Generator) -> LocalGlobalHead:
    emb = rng.normal(size=(40, C, H, W))
    return LocalGlobalHead(
        local_layers=(0,),
        global_layers=(0,),
        local_stats=GaussianStats.fit(emb.reshape(40, C, H * W).transpose(2, 0, 1)),
        global_stats=LowRankGaussian.fit(rng.normal(size=(40, 5)), max_rank=4),
        grid=(H, W),
        output_size=(8, 8),
        sigma=0.5,
    )


def test_a_labelled_images_prototypes_are_its_most_anomalous_cells_inside_its_mask() -> None:
    resid = np.zeros((16, 3))
    resid[:, 0] = np.arange(16)  # |r| grows with the cell index
    assert defect_cells(resid, None, 2)[:, 0].tolist() == [15, 14]  # no mask: the whole grid
    cover = np.zeros(16)
    cover[[2, 5, 7]] = [0.3, 1.0, 0.1]  # 7 lies mostly outside the mask
    assert defect_cells(resid, cover, 4)[:, 0].tolist() == [5, 2]
    cover[:] = 0.0
    cover[3] = 0.2  # a thin mask: its best-covered cell still counts
    assert defect_cells(resid, cover, 4)[:, 0].tolist() == [3]
    assert defect_cells(resid, np.full(16, np.nan), 1)[:, 0].tolist() == [15]  # NaN: no mask


def test_prototypes_remember_their_image_and_leave_one_out_drops_only_its_cells() -> None:
    rng = np.random.default_rng(0)
    resid = rng.normal(size=(3, 16, C))
    protos = prototype_cells(resid, cap=2)
    assert protos.count == 6 and protos.source.tolist() == [0, 0, 1, 1, 2, 2]
    rest = protos.without(1)
    assert rest.source.tolist() == [0, 0, 2, 2]
    np.testing.assert_array_equal(rest.vectors, protos.vectors[[0, 1, 4, 5]])
    again = prototype_cells(resid, cap=2)  # deterministic
    np.testing.assert_array_equal(again.vectors, protos.vectors)


def test_the_heads_prototype_map_is_the_likelihood_ratio_of_the_nearest_prototype() -> None:
    """Each cell scores ``max_j (|r|² − |r − d_j|²)`` on the head's own whitened residual; the
    image evidence is the peak of that grid smoothed as the local map is."""
    rng = np.random.default_rng(1)
    head = _head(rng)
    protos = prototype_cells(rng.normal(size=(2, H * W, C)) * 3, cap=3)
    x = torch.from_numpy(rng.normal(size=(5, C, H, W)).astype(np.float32))
    with torch.no_grad():
        resid = head.local_residual(x)  # [P, N, C]
        peak = head.prototype_peak(resid, x, protos.tensors())
        r = resid.double().numpy()[:, :, None, :]
        d = protos.vectors[None, None]
        ratio = ((r**2).sum(-1) - ((r - d) ** 2).sum(-1)).max(-1)  # [P, N]
        grid = torch.from_numpy(ratio.T.reshape(5, H, W)).float()
        expected = head._smoothed(grid).flatten(1).amax(1)
        torch.testing.assert_close(resid.square().sum(-1).sqrt().T.reshape(5, H, W), head.local_distance(x))
    torch.testing.assert_close(peak, expected, rtol=1e-5, atol=1e-4)


def test_prototypes_change_the_score_and_never_the_map() -> None:
    rng = np.random.default_rng(2)
    head = _head(rng)
    x = torch.from_numpy(rng.normal(size=(4, C, H, W)).astype(np.float32))
    desc = torch.from_numpy(rng.normal(size=(4, 5)).astype(np.float32))
    with torch.no_grad():
        zero_score, zero_map = head.combine(*head.raw_from_parts(x, desc))
        head.set_prototypes(*prototype_cells(rng.normal(size=(2, H * W, C)), cap=2).tensors())
        head.set_prototype_score((1.0, 2.0), "sum", 0.5)
        local_map, gdist, peak = head.evidence(x, desc)
        assert peak is not None
        score, amap = head.combine(local_map, gdist, peak)
    torch.testing.assert_close(amap, zero_map, rtol=0, atol=0)
    torch.testing.assert_close(score, 0.5 * (peak - 1.0) / 2.0 + (gdist - head.norm[2]) / head.norm[3])
    assert not torch.allclose(score, zero_score)
    with pytest.raises(InputError, match="defect prototypes"):
        head.combine(local_map, gdist)  # the prototype peak is required once the head has them


@pytest.mark.parametrize(
    ("weights", "bias", "match"),
    [
        (torch.zeros(C + 1, 2), torch.zeros(2), "weights"),
        (torch.zeros(C, 2), torch.zeros(3), "weights"),
        (torch.zeros(C, 0), torch.zeros(0), "M >= 1"),
    ],
)
def test_bad_prototypes_are_refused_and_leave_the_head_alone(
    weights: torch.Tensor, bias: torch.Tensor, match: str
) -> None:
    head = _head(np.random.default_rng(3))
    with pytest.raises(InputError, match=match):
        head.set_prototypes(weights, bias)
    assert not head.prototypes and head.proto_weights.shape == (C, 1)
    with pytest.raises(InputError, match="needs prototypes"):
        head.set_prototype_score((0.0, 1.0), "sum", 1.0)


def test_a_bad_prototype_score_is_refused() -> None:
    head = _head(np.random.default_rng(4))
    head.set_prototypes(torch.ones(C, 1), torch.zeros(1))
    for norm, fusion, weight in (
        ((0.0, 0.0), "sum", 1.0),
        ((0.0, 1.0), "mean", 1.0),
        ((0.0, 1.0), "max", 0.0),
    ):
        with pytest.raises(InputError, match="prototype score"):
            head.set_prototype_score(norm, fusion, weight)  # type: ignore[arg-type]
    assert head.proto_norm.tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    ("resid", "covers", "match"),
    [
        (np.zeros((0, 16, C)), None, "images, positions, channels"),
        (np.zeros((16, C)), None, "images, positions, channels"),
        (np.full((1, 16, C), np.nan), None, "NaN"),
        (np.zeros((2, 16, C)), np.zeros((2, 15)), "mask cover"),
    ],
)
def test_bad_labelled_residuals_are_refused(resid: np.ndarray, covers: np.ndarray | None, match: str) -> None:
    with pytest.raises(InputError, match=match):
        prototype_cells(resid, covers)


def test_defects_of_a_kind_the_goods_never_show_choose_the_prototypes_read_leave_one_out() -> None:
    """Labelled defects share one pattern at a random cell; the local distance barely sees it
    (a small shift), the prototypes do, and each labelled defect's own evidence comes from the
    other images' prototypes only, so it stays below what its own cells would give."""
    rng = np.random.default_rng(5)
    head = _head(rng)
    pattern = np.zeros(C, np.float32)
    pattern[:2] = 1.5

    def planted(n: int) -> np.ndarray:
        emb = rng.normal(size=(n, C, H, W)).astype(np.float32)
        for i in range(n):
            emb[i, :, rng.integers(H), rng.integers(W)] += pattern
        return emb

    hold, defects = rng.normal(size=(30, C, H, W)).astype(np.float32), planted(8)
    z_global = (rng.normal(size=30), rng.normal(size=8))
    assert choose_prototypes(head, hold, defects[:1], None, (z_global[0], z_global[1][:1]), 0.0) is None
    choice = choose_prototypes(head, hold, defects, None, z_global, shipped_separation=0.0, cap=1)
    assert choice is not None and choice.prototypes.count == 8 and choice.weight.defect_count == 8
    assert choice.taken == (choice.weight.separation > 0.0)
    assert "nearest labelled defect patch (8 prototypes from 8 images)" in choice.note
    with torch.no_grad():
        x = torch.from_numpy(defects)
        own = head.prototype_peak(head.local_residual(x), x, choice.prototypes.tensors()).numpy()
    z_own = (own - choice.norm[0]) / choice.norm[1]
    w = choice.weight
    in_sample = fused(z_own, z_global[1], w.local, w.fusion)
    assert (choice.labelled_scores <= in_sample + 1e-4).all() and (choice.labelled_scores < in_sample).any()
