"""The scoring head: packed float16 local statistics against exact float64 (issue #24: package size),
how the two branches are fused into the map, and the faster forms of the local branch's
whitening and smoothing against the operations they replace (issue #24: latency)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from lineguard.contracts.errors import InputError
from lineguard.vision.scoring import (
    GaussianStats,
    LocalGlobalHead,
    LowRankGaussian,
    _whitened_distance,
    gaussian_kernel,
    local_embedding,
    pack_precision,
    smoothing_matrix,
    unpack_index,
)


def _precisions(rng: np.random.Generator, positions: int, channels: int, n: int) -> GaussianStats:
    scales = np.exp(rng.normal(0, 2, channels))  # channels spanning orders of magnitude
    samples = rng.normal(size=(positions, n, channels)) * scales
    samples[0, :, 0] = 1.0  # a dead channel: the covariance floor makes huge precisions
    return GaussianStats.fit(samples)


def test_packed_factors_reproduce_mahalanobis_distances() -> None:
    rng = np.random.default_rng(0)
    stats = _precisions(rng, positions=6, channels=24, n=60)
    packed, scale = pack_precision(stats.precision)
    assert packed.dtype == np.float16 and packed.shape == (6, 24 * 25 // 2)
    assert np.isfinite(packed).all() and np.abs(packed).max() <= 1.0  # no float16 overflow
    factors = np.concatenate([packed.astype(np.float64), np.zeros((6, 1))], 1)[:, unpack_index(24)]
    factors = factors.reshape(6, 24, 24) * scale[:, None, None]
    assert np.allclose(np.triu(factors, 1), 0)  # lower triangular
    d = rng.normal(size=(6, 50, 24)) * np.sqrt(np.diagonal(np.linalg.inv(stats.precision), 0, 1, 2))[:, None]
    exact = np.einsum("pnc,pcd,pnd->pn", d, stats.precision, d)
    packed_d2 = ((d @ factors) ** 2).sum(-1)
    assert np.abs(np.sqrt(packed_d2) / np.sqrt(exact) - 1).max() < 2e-3


def test_head_scores_with_the_packed_statistics() -> None:
    rng = np.random.default_rng(1)
    c, h, w = 8, 4, 4
    emb = rng.normal(size=(30, c, h, w)).astype(np.float32)
    local = GaussianStats.fit(emb.reshape(30, c, h * w).transpose(2, 0, 1))
    head = LocalGlobalHead(
        local_layers=(0,),
        global_layers=(0,),
        local_stats=local,
        global_stats=LowRankGaussian.fit(rng.normal(size=(30, 5)), max_rank=4),
        grid=(h, w),
        output_size=(h, w),
        sigma=0.5,
    )
    assert head.local_factor.dtype == torch.float16
    assert "local_precision" not in dict(head.named_buffers())
    x = rng.normal(size=(3, c, h, w)).astype(np.float32)
    d = x.reshape(3, c, h * w).transpose(2, 0, 1) - local.mean[:, None]  # [P, N, C]
    exact = np.sqrt(np.einsum("pnc,pcd,pnd->pn", d, local.precision, d)).T.reshape(3, h, w)
    with torch.no_grad():
        dist = torch.from_numpy(x).flatten(2).permute(2, 0, 1) - head.local_mean[:, None]
        got = (torch.matmul(dist, head.local_whitening()) ** 2).sum(-1).sqrt().T.reshape(3, h, w)
    assert np.abs(got.numpy() / exact - 1).max() < 2e-3


def _small_head(fusion: str) -> tuple[LocalGlobalHead, torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(2)
    c, h, w = 4, 4, 4
    emb = rng.normal(size=(20, c, h, w))
    head = LocalGlobalHead(
        local_layers=(0,),
        global_layers=(0,),
        local_stats=GaussianStats.fit(emb.reshape(20, c, h * w).transpose(2, 0, 1)),
        global_stats=LowRankGaussian.fit(rng.normal(size=(20, 5)), max_rank=4),
        grid=(h, w),
        output_size=(h, w),
        sigma=0.5,
        local_norm=(1.0, 2.0),
        global_norm=(3.0, 0.5),
        fusion=fusion,  # type: ignore[arg-type]
    )
    local_map = torch.from_numpy(rng.normal(3, 2, (2, h, w)).astype(np.float32))
    return head, local_map, torch.tensor([3.0, 5.0])  # z_global 0 and 4


def test_max_fusion_scores_the_larger_branch_and_lifts_the_local_map() -> None:
    head, local_map, gdist = _small_head("max")
    score, amap = head.combine(local_map, gdist)
    z_local = (local_map - 1.0) / 2.0
    peak = z_local.flatten(1).amax(1)
    assert float(peak[0]) > 0.0 and float(peak[1]) < 4.0  # one case of each below
    # image 0: z_global 0 lies below the local peak, so the map is the local map itself
    assert torch.allclose(amap[0], z_local[0])
    # image 1: z_global 4 lies above the local peak, so the whole local map rises by the gap
    assert torch.allclose(amap[1], z_local[1] + (4.0 - peak[1]))
    assert torch.allclose(score, torch.maximum(peak, torch.tensor([0.0, 4.0])))
    assert torch.allclose(score, amap.flatten(1).amax(1))  # the score is the map's peak
    # the local ranking survives: no pixel is flattened onto the global floor
    assert torch.equal(torch.argsort(amap[1].flatten()), torch.argsort(z_local[1].flatten()))


def test_sum_fusion_is_the_first_rounds_rule() -> None:
    head, local_map, gdist = _small_head("sum")
    score, amap = head.combine(local_map, gdist)
    assert torch.allclose(amap[1], (local_map[1] - 1.0) / 2.0 + 4.0)
    assert torch.allclose(score, amap.flatten(1).amax(1))


def test_a_few_shot_score_weight_changes_the_score_and_not_the_map() -> None:
    head, local_map, gdist = _small_head("max")
    _, zero_map = head.combine(local_map, gdist)
    head.score_weight = 0.5
    score, amap = head.combine(local_map, gdist)
    assert torch.equal(amap, zero_map)
    peak = ((local_map - 1.0) / 2.0).flatten(1).amax(1)
    assert torch.allclose(score, 0.5 * peak + torch.tensor([0.0, 4.0]))


def test_an_unknown_fusion_is_refused() -> None:
    with pytest.raises(InputError, match="fusion"):
        _small_head("mean")


@pytest.mark.parametrize(
    ("inner", "outer", "sigma"), [(32, 256, 4.0), (24, 192, 2.0), (4, 4, 0.5), (5, 40, 8.0)]
)
def test_smoothing_matrix_is_the_upsampling_and_blur_it_replaces(
    inner: int, outer: int, sigma: float
) -> None:
    """``A_y @ map @ A_xᵀ`` against the resize, reflect pads and separable convolutions the graph
    used to run (issue #24, latency): the same map up to float32 rounding."""
    rng = np.random.default_rng(3)
    dist = torch.from_numpy(rng.uniform(0, 20, (2, inner, inner + 3)).astype(np.float32))
    k = gaussian_kernel(sigma)
    r = int(k.shape[0]) // 2
    up = F.interpolate(dist[:, None], size=(outer, outer + 8), mode="bilinear", align_corners=False)
    up = F.conv2d(F.pad(up, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    reference = F.conv2d(F.pad(up, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))[:, 0]
    a_y, a_x = smoothing_matrix(inner, outer, sigma), smoothing_matrix(inner + 3, outer + 8, sigma)
    assert a_y.shape == (outer, inner) and a_x.shape == (outer + 8, inner + 3)
    got = a_y @ dist @ a_x.T
    assert float((got - reference).abs().max()) < 2e-6 * float(reference.abs().max())
    assert torch.allclose(a_y.sum(1), torch.ones(outer), atol=1e-6)  # a constant map stays constant


@pytest.mark.parametrize("blocks", [1, 2, 3, 4, 200])
def test_blocked_whitening_equals_the_one_product(blocks: int) -> None:
    """The triangle's column blocks skip only exact zeros: the distance of the full ``d L`` product."""
    rng = np.random.default_rng(4)
    p, c = 6, 10
    factor = torch.from_numpy(np.tril(rng.normal(size=(p, c, c))).astype(np.float32))
    mean = torch.from_numpy(rng.normal(size=(p, c)).astype(np.float32))
    x = torch.from_numpy(rng.normal(size=(2, c, 2, 3)).astype(np.float32))
    d = x.flatten(2).permute(2, 0, 1) - mean[:, None]
    full = (torch.matmul(d, factor) ** 2).sum(-1).sqrt().T.reshape(2, 2, 3)
    got = _whitened_distance(x, mean, factor, blocks=blocks)
    assert float((got - full).abs().max()) < 1e-5 * float(full.abs().max())


def test_a_pooled_local_grid_averages_the_finest_map_and_meets_the_deeper_one() -> None:
    # TrainConfig.local_pool = 2 (#24 tenth session, latency): the stride-8 map averaged 2 x 2
    # lands on the stride-16 map's grid, so the deeper map joins it without any resizing.
    rng = np.random.default_rng(5)
    fine = torch.from_numpy(rng.normal(size=(2, 3, 8, 8)).astype(np.float32))
    coarse = torch.from_numpy(rng.normal(size=(2, 5, 4, 4)).astype(np.float32))
    pooled = local_embedding([fine, coarse], (0, 1), pool=2)
    assert pooled.shape == (2, 8, 4, 4)
    cell = fine[:, :, 2:4, 4:6].mean((2, 3))  # the cell at grid row 1, column 2
    assert torch.allclose(pooled[:, :3, 1, 2], cell, atol=1e-6)
    assert torch.equal(pooled[:, 3:], coarse)
    assert local_embedding([fine, coarse], (0, 1)).shape == (2, 8, 8, 8)  # pool 1: as before


def test_a_position_norm_standardises_each_positions_distance_before_the_map() -> None:
    head, _, _ = _small_head("max")
    rng = np.random.default_rng(3)
    emb = torch.from_numpy(rng.normal(size=(3, 4, 4, 4)).astype(np.float32))
    with torch.no_grad():
        plain = head.local_distance(emb)
        offset = rng.uniform(0.5, 2.0, (4, 4))
        unit = rng.uniform(0.5, 3.0, (4, 4))
        head.set_position_norm(offset, unit)
        normed = head.local_distance(emb)
        up, _ = head.raw_from_parts(emb, torch.zeros(3, 5))
    expected = (plain - torch.from_numpy(offset).float()) / torch.from_numpy(unit).float()
    assert torch.allclose(normed, expected, atol=1e-6)
    # the map is the standardised grid, upsampled and smoothed as before
    assert torch.allclose(up, head.smooth_y @ normed @ head.smooth_xt, atol=1e-5)


@pytest.mark.parametrize(
    ("offset", "unit"),
    [
        (np.zeros((3, 4)), np.ones((4, 4))),  # not the grid's shape
        (np.zeros((4, 4)), np.zeros((4, 4))),  # a zero unit would divide by zero
        (np.zeros((4, 4)), np.full((4, 4), np.nan)),
    ],
)
def test_a_bad_position_norm_is_refused_and_leaves_the_head_alone(
    offset: np.ndarray, unit: np.ndarray
) -> None:
    head, _, _ = _small_head("max")
    with pytest.raises(InputError, match="position norm"):
        head.set_position_norm(offset, unit)
    assert not head.position_norm
    assert torch.equal(head.local_unit, torch.ones(4, 4))
