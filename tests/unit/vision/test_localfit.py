"""The local branch's fit (``localfit``): neighbourhood pooling and the shrinkage floor."""

from __future__ import annotations

import numpy as np
import pytest

from lineguard.contracts.errors import InputError
from lineguard.vision.localfit import fit_local, position_standardiser
from lineguard.vision.scoring import GaussianStats, ledoit_wolf


def _embs(n: int = 12, c: int = 6, h: int = 5, w: int = 7, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, c, h, w)).astype(np.float32)


def _mahalanobis(stats: GaussianStats, pos: int, x: np.ndarray) -> float:
    d = x.astype(np.float64) - stats.mean[pos]
    return float(np.sqrt(d @ stats.precision[pos] @ d))


def test_the_defaults_fit_each_position_on_its_own_samples_with_ledoit_wolf() -> None:
    embs = _embs()
    n, c, h, w = embs.shape
    got = fit_local(embs, chunk=4)  # chunks do not change the result
    flat = embs.reshape(n, c, h * w).transpose(2, 0, 1)
    ref = GaussianStats.fit(flat)
    assert np.array_equal(got.mean, ref.mean)
    assert np.array_equal(got.precision, ref.precision)
    assert np.array_equal(got.shrinkage, ref.shrinkage)


@pytest.mark.parametrize("pos", [(0, 0), (2, 3), (4, 6), (0, 5)])
def test_a_neighbourhood_fit_pools_the_surrounding_positions_with_the_border_repeated(
    pos: tuple[int, int],
) -> None:
    embs = _embs()
    _n, c, h, w = embs.shape
    got = fit_local(embs, neighbourhood=1)
    y, x = pos
    samples = [
        embs[:, :, min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1)]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    ]
    ref = GaussianStats.fit(np.concatenate(samples)[None])
    i = y * w + x
    np.testing.assert_allclose(got.mean[i], ref.mean[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got.precision[i], ref.precision[0], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got.shrinkage[i], ref.shrinkage[0], rtol=1e-9)
    assert got.mean.shape == (h * w, c) and got.precision.shape == (h * w, c, c)


def test_a_neighbourhood_fit_tolerates_a_part_one_position_off() -> None:
    # Good parts: an edge between columns 3 and 4 of the grid, with a little noise;
    # a good part placed one position to the right must not look like a defect there.
    rng = np.random.default_rng(1)
    n, c, h, w = 40, 4, 6, 9
    embs = rng.normal(0, 0.05, (n, c, h, w))
    embs[:, :, :, 4:] += 1.0
    embs[: n // 2, :, :, 3] += 1.0  # half the goods sit one position to the left
    shifted = rng.normal(0, 0.05, (c, h, w))
    shifted[:, :, 5:] += 1.0  # a good part one position to the right of most
    own, pooled = fit_local(embs), fit_local(embs, neighbourhood=1)
    pos = 2 * w + 4
    d_own = _mahalanobis(own, pos, shifted[:, 2, 4])
    d_pooled = _mahalanobis(pooled, pos, shifted[:, 2, 4])
    assert d_pooled < 0.2 * d_own, (d_pooled, d_own)
    # ... and a defect (a change no neighbour ever showed) still stands out
    defect = shifted[:, 2, 4] + np.array([0.5, -0.5, 0.5, -0.5])
    assert _mahalanobis(pooled, pos, defect) > 5 * _mahalanobis(pooled, pos, shifted[:, 2, 4])


@pytest.mark.parametrize("pos", [(0, 0), (2, 3), (4, 6)])
def test_a_covariance_pool_keeps_each_positions_mean_and_pools_the_deviations(pos: tuple[int, int]) -> None:
    embs = _embs()
    _n, _c, h, w = embs.shape
    got = fit_local(embs, neighbourhood=1, pool="covariance")
    own = embs.astype(np.float64) - embs.astype(np.float64).mean(0, keepdims=True)
    y, x = pos
    deviations = np.concatenate(
        [
            own[:, :, min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1)]
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        ]
    )
    cov, shrink = ledoit_wolf(deviations.astype(np.float32)[None])
    i = y * w + x
    np.testing.assert_allclose(got.mean[i], embs[:, :, y, x].astype(np.float64).mean(0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got.precision[i], np.linalg.inv(cov[0]), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got.shrinkage[i], shrink[0], rtol=1e-6)


def test_a_covariance_pool_does_not_take_a_neighbours_edge_as_normal() -> None:
    # Good parts with an edge between columns 3 and 4 at exactly the same place: the sample
    # pool widens column 4's Gaussian by column 3's level, so a part dented down to that
    # level there looks almost normal; the covariance pool keeps column 4's own mean and
    # spread and calls it what it is.
    rng = np.random.default_rng(2)
    n, c, h, w = 40, 4, 6, 9
    embs = rng.normal(0, 0.05, (n, c, h, w))
    embs[:, :, :, 4:] += 1.0
    dent = np.full(c, 0.5)  # half-way to the other side of the edge
    pos = 2 * w + 4
    d_samples = _mahalanobis(fit_local(embs, neighbourhood=1), pos, dent)
    d_cov = _mahalanobis(fit_local(embs, neighbourhood=1, pool="covariance"), pos, dent)
    d_own = _mahalanobis(fit_local(embs), pos, dent)
    assert d_cov > 3 * d_samples, (d_cov, d_samples)
    assert d_cov > 0.5 * d_own, (d_cov, d_own)  # about as sharp as the position's own fit


def test_the_shrink_floor_raises_only_the_fits_below_it() -> None:
    # channels of unequal spread, as a backbone's are: Ledoit–Wolf shrinks them little
    embs = _embs(n=12, c=6) * (2.0 ** np.arange(6))[None, :, None, None].astype(np.float32)
    plain = fit_local(embs)
    floor = float(np.median(plain.shrinkage))
    floored = fit_local(embs, shrink_floor=floor * 12 / 6)  # the floor is k * channels / images
    np.testing.assert_allclose(floored.shrinkage, np.maximum(plain.shrinkage, floor), rtol=1e-12)
    below = plain.shrinkage < floor
    assert below.any() and (~below).any()  # the test covers both cases
    assert np.array_equal(floored.precision[~below], plain.precision[~below])
    assert not np.allclose(floored.precision[below], plain.precision[below])
    # many images: the floor falls under Ledoit–Wolf's estimate and changes nothing
    many = _embs(n=2000, c=6, h=2, w=2) * (2.0 ** np.arange(6))[None, :, None, None].astype(np.float32)
    assert np.array_equal(fit_local(many, shrink_floor=0.05).precision, fit_local(many).precision)


def test_the_grid_ridge_adds_the_same_amount_at_every_position_and_fades_with_the_fit_size() -> None:
    # positions of very unequal spread: a flat one and a busy one, as a part's background and edge
    embs = _embs(n=12, c=6, h=1, w=2)
    embs[..., 0] *= 0.1
    embs[..., 1] *= 10.0
    plain = fit_local(embs)
    got = fit_local(embs, grid_ridge=0.5)
    cov_plain, cov_got = np.linalg.inv(plain.precision), np.linalg.inv(got.precision)
    v_bar = float(np.trace(cov_plain, axis1=-2, axis2=-1).mean()) / 6
    added = cov_got - cov_plain
    for pos in range(2):  # the same absolute amount at both, whatever their own spread
        np.testing.assert_allclose(added[pos], 0.5 * 6 / 12 * v_bar * np.eye(6), atol=1e-9 * v_bar)
    # relative to the flat position's own variance it is large, to the busy one's small
    # (Ledoit–Wolf's target would scale with each position's own variance)
    own = np.trace(cov_plain, axis1=-2, axis2=-1) / 6
    assert own[0] < added[0, 0, 0] < own[1]
    np.testing.assert_array_equal(got.mean, plain.mean)
    np.testing.assert_array_equal(got.shrinkage, plain.shrinkage)
    # ten times the images: a tenth of the ridge (relative to the grid's variance)
    many = np.concatenate([embs + 0.01 * i for i in range(10)])
    cov_many = np.linalg.inv(fit_local(many).precision)
    added_many = np.linalg.inv(fit_local(many, grid_ridge=0.5).precision) - cov_many
    v_many = float(np.trace(cov_many, axis1=-2, axis2=-1).mean()) / 6
    np.testing.assert_allclose(added_many[0], 0.5 * 6 / 120 * v_many * np.eye(6), atol=1e-9 * v_many)


def test_the_grid_ridge_works_with_a_neighbourhood_fit() -> None:
    embs = _embs()
    plain = fit_local(embs, neighbourhood=1, pool="covariance")
    got = fit_local(embs, neighbourhood=1, pool="covariance", grid_ridge=0.2)
    np.testing.assert_array_equal(got.mean, plain.mean)
    added = np.linalg.inv(got.precision) - np.linalg.inv(plain.precision)
    np.testing.assert_allclose(added, np.broadcast_to(added[0, 0, 0] * np.eye(6), added.shape), atol=1e-9)
    assert added[0, 0, 0] > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"neighbourhood": -1}, "neighbourhood"),
        ({"neighbourhood": 3}, "neighbourhood"),
        ({"shrink_floor": -0.1}, "shrink floor"),
        ({"shrink_floor": 1.5}, "shrink floor"),
        ({"shrink_floor": float("nan")}, "shrink floor"),
        ({"pool": "median"}, "pool"),
        ({"grid_ridge": -0.1}, "grid ridge"),
        ({"grid_ridge": 2.0}, "grid ridge"),
        ({"grid_ridge": float("inf")}, "grid ridge"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float | str], match: str) -> None:
    with pytest.raises(InputError, match=match):
        fit_local(_embs(), **kwargs)  # type: ignore[arg-type]


def test_the_position_standardiser_is_each_positions_mean_and_spread() -> None:
    rng = np.random.default_rng(4)
    level = rng.uniform(1, 5, (5, 7))
    spread = rng.uniform(0.1, 2, (5, 7))
    dist = level + spread * rng.normal(size=(400, 5, 7))
    mean, unit = position_standardiser(dist)
    assert mean.shape == unit.shape == (5, 7)
    assert np.allclose(mean, dist.mean(0)) and np.allclose(unit, dist.std(0))
    z = (dist - mean) / unit  # every position now has mean 0 and sd 1 over the fit images
    assert np.allclose(z.mean(0), 0, atol=1e-9) and np.allclose(z.std(0), 1)
    flat = np.ones((10, 2, 2))
    flat[:, 0, 0] += np.arange(10)  # one busy position, three where every image scores alike
    _, unit = position_standardiser(flat)
    assert (unit > 0).all() and unit[0, 0] == pytest.approx(np.arange(10).std())


def test_the_floored_unit_stops_a_quiet_position_from_being_magnified() -> None:
    rng = np.random.default_rng(6)
    spread = np.linspace(0.1, 2.0, 16).reshape(4, 4)  # every position its own spread
    dist = 3.0 + spread * rng.normal(size=(500, 4, 4))
    mean, plain = position_standardiser(dist)
    floored_mean, floored = position_standardiser(dist, floor_quantile=0.5)
    median = float(np.median(dist.std(0)))
    assert np.array_equal(floored_mean, mean)  # the offset is the same
    busy = plain >= median
    assert busy.sum() == 8
    assert np.allclose(floored[busy], plain[busy])  # busy positions are divided down as before
    assert np.allclose(floored[~busy], median)  # quiet ones by the grid's median, not their own
    # a quiet position's spread now reads below 1 instead of being stretched to 1
    z = (dist - floored_mean) / floored
    assert (z.std(0)[~busy] < 0.99).all() and np.allclose(z.std(0)[busy], 1.0)


@pytest.mark.parametrize("quantile", [-0.1, 1.0, 1.5])
def test_the_floor_quantile_is_checked(quantile: float) -> None:
    with pytest.raises(InputError, match=r"floor quantile must be in \[0, 1\)"):
        position_standardiser(np.ones((5, 2, 2)), floor_quantile=quantile)


@pytest.mark.parametrize(
    "dist",
    [np.ones((1, 2, 2)), np.ones((5, 4)), np.full((5, 2, 2), np.nan)],
    ids=["one image", "not a grid", "not finite"],
)
def test_the_position_standardiser_refuses_what_it_cannot_standardise(dist: np.ndarray) -> None:
    with pytest.raises(InputError, match="position standardiser"):
        position_standardiser(dist)
