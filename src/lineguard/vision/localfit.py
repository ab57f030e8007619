"""The local branch's fit: one Gaussian per position of the feature grid (training only).

``fit_local(embeddings)`` → :class:`~lineguard.vision.scoring.GaussianStats` with one mean
and one shrunk precision per position (row-major over the grid). Two settings
(``TrainConfig.local_neighbourhood``, ``local_shrink_floor``; ``docs/detection.md``):

* ``neighbourhood`` r > 0: each position's Gaussian is fitted on the embeddings of the
  (2r + 1)² positions around it (the grid's border repeated outside it), from every
  image. A part that sits a few pixels off, or a slightly rotated one, then shows each
  position the features its neighbours saw in training; and each fit has (2r + 1)² times
  the samples, which the covariance of a small fit (68 images, 128 channels) needs.
* ``pool="covariance"`` (with r > 0): only the covariance is pooled. Each position keeps
  the mean of its own embeddings, and each neighbour's embeddings are centred on *their*
  position's mean before they join the covariance: the pooled within-position
  covariance, with (2r + 1)² times the samples, and no neighbour's edge or texture shift
  taken into the mean as normal. ``pool="samples"`` (the first form) pools the raw
  embeddings, which also widens the covariance by how much the means differ across the
  neighbourhood.
* ``shrink_floor`` k > 0: the Ledoit–Wolf shrinkage of each position is at least
  ``k * channels / images`` (capped at 1): with fewer images than channels, Ledoit–Wolf's
  estimate (about 0.05 on every set of the suite) regularises less than a fixed
  ``covariance + 0.01 I`` does, which the synthetic sets prefer; with many images
  (magnetic tile: 580 for 128 channels) the floor is below the estimate and changes
  nothing.

* ``grid_ridge`` g > 0: every position's covariance gets ``g * channels / images * v̄ I``
  added, v̄ the mean per-channel variance over the whole grid — the same amount at every
  position, unlike Ledoit–Wolf's target (each position's own variance), so a flat,
  low-variance position is regularised as much in absolute terms as a busy one, as
  PaDiM's ``covariance + 0.01 I`` does; and its weight falls with the fit's size, as the
  floor's does (#24 ninth session: with 68 images it closes the synthetic low-res set's gap
  to PaDiM, with 580 it is a fifth of what costs magnetic tile recall at a fixed amount).

* ``position_standardiser`` (``TrainConfig.local_position_norm``, #24 tenth session): the
  per-position mean and standard deviation of the fit images' own distances, by which the
  head standardises each position's distance before the map is upsampled and its peak
  taken. Without it, a position whose good images' distances run high (the part's border,
  a busy texture) sets the peak of many good images, and a defect elsewhere must beat it.
  ``floor_quantile`` q > 0 (``TrainConfig.local_position_floor``, #24 eleventh session):
  each position's unit is at least the q-quantile of the grid's units, so a position whose
  goods spread little (a flat surface, a quiet belt) is not magnified into reading a small
  deviation as a large one, while the busy positions are still divided down.

All of them are closed form and deterministic; with their defaults of 0 the fit is the one
shipped before them, bit for bit. Packages store the fitted statistics, so a package
trained before scores as it did whatever these settings are now.
"""

from __future__ import annotations

import numpy as np

from lineguard.contracts.errors import InputError
from lineguard.vision.scoring import GaussianStats, ledoit_wolf

__all__ = ["MAX_GRID_RIDGE", "MAX_NEIGHBOURHOOD", "POOLS", "fit_local", "position_standardiser"]

#: Largest neighbourhood radius (in grid positions: 2 is ±16 px of a 256-px input).
MAX_NEIGHBOURHOOD = 2
#: Largest ``grid_ridge`` (x channels / images x the grid's mean variance): beyond it the
#: fit is close to a scaled Euclidean distance.
MAX_GRID_RIDGE = 1.0
#: What a neighbourhood fit pools: the raw embeddings, or only their deviations from each
#: position's own mean (the covariance).
POOLS = ("samples", "covariance")


def fit_local(
    embs: np.ndarray,
    *,
    neighbourhood: int = 0,
    shrink_floor: float = 0.0,
    grid_ridge: float = 0.0,
    pool: str = "samples",
    chunk: int = 64,
) -> GaussianStats:
    """Embeddings ``[n, c, h, w]`` → per-position (mean ``[h*w, c]``, precision, shrinkage)."""
    if not (np.isfinite(grid_ridge) and 0.0 <= grid_ridge <= MAX_GRID_RIDGE):
        msg = f"local grid ridge must be in [0, {MAX_GRID_RIDGE}], got {grid_ridge}"
        raise InputError(msg)
    if grid_ridge > 0:
        return _fit_with_grid_ridge(
            embs, neighbourhood=neighbourhood, shrink_floor=shrink_floor, grid_ridge=grid_ridge, pool=pool
        )
    if not 0 <= neighbourhood <= MAX_NEIGHBOURHOOD:
        msg = f"local neighbourhood must be 0..{MAX_NEIGHBOURHOOD} grid positions, got {neighbourhood}"
        raise InputError(msg)
    if not (np.isfinite(shrink_floor) and 0.0 <= shrink_floor <= 1.0):
        msg = f"local shrink floor must be in [0, 1], got {shrink_floor}"
        raise InputError(msg)
    if pool not in POOLS:
        msg = f"local pool must be one of {', '.join(POOLS)}, got {pool!r}"
        raise InputError(msg)
    n, c, h, w = embs.shape
    floor = min(1.0, shrink_floor * c / n)
    means, precisions, shrinks = [], [], []
    if neighbourhood == 0:
        flat = embs.reshape(n, c, h * w)
        for a in range(0, h * w, chunk):
            stats = GaussianStats.fit(flat[:, :, a : a + chunk].transpose(2, 0, 1), shrink_floor=floor)
            means.append(stats.mean)
            precisions.append(stats.precision)
            shrinks.append(stats.shrinkage)
    else:
        r = neighbourhood
        offsets = np.arange(-r, r + 1)
        cols = np.clip(np.arange(w)[:, None] + offsets[None, :], 0, w - 1)  # [w, 2r+1]
        source = embs
        if pool == "covariance":  # each embedding centred on its own position's mean
            own_mean = embs.astype(np.float64).mean(0, keepdims=True)
            source = (embs - own_mean).astype(np.float32)
        for y in range(h):  # one grid row at a time: [w, n (2r+1)², c] samples
            rows = np.clip(y + offsets, 0, h - 1)
            block = source[:, :, rows][..., cols]  # [n, c, 2r+1, w, 2r+1]
            samples = block.transpose(3, 0, 2, 4, 1).reshape(w, -1, c)
            if pool == "covariance":
                # already centred (mean exactly 0 over the pooled samples up to rounding):
                # the covariance of the deviations, and the position's own mean
                cov, shrink = ledoit_wolf(samples, floor=floor)
                means.append(own_mean[0, :, y, :].T)
                precisions.append(np.linalg.inv(cov))
                shrinks.append(shrink)
                continue
            stats = GaussianStats.fit(samples, shrink_floor=floor)
            means.append(stats.mean)
            precisions.append(stats.precision)
            shrinks.append(stats.shrinkage)
    return GaussianStats(np.concatenate(means), np.concatenate(precisions), np.concatenate(shrinks))


def _fit_with_grid_ridge(
    embs: np.ndarray, *, neighbourhood: int, shrink_floor: float, grid_ridge: float, pool: str
) -> GaussianStats:
    """The fit above, then ``grid_ridge * c / n * v̄ I`` added to every position's covariance.

    The covariances are recovered from the fit's precisions rather than kept beside them:
    one code path for both pools, and the shipped fit (``grid_ridge`` 0) stays untouched.
    """
    base = fit_local(embs, neighbourhood=neighbourhood, shrink_floor=shrink_floor, pool=pool)
    n, c = embs.shape[:2]
    cov = np.linalg.inv(base.precision)
    ridge = grid_ridge * c / n * float(np.trace(cov, axis1=-2, axis2=-1).mean()) / c
    precision = np.linalg.inv(cov + ridge * np.eye(c))
    return GaussianStats(base.mean, precision, base.shrinkage)


def position_standardiser(
    distances: np.ndarray, floor_quantile: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The fit images' own local distances ``[n, h, w]`` → per position (mean, unit) ``[h, w]``.

    The unit is the standard deviation, floored at a millionth of the grid's mean one so
    that a position where every image scores alike cannot divide by zero, and with
    ``floor_quantile`` q > 0 at the q-quantile of the grid's standard deviations (0.5: the
    median; on the suite it keeps magnetic tile's recall gain without the dim, noisy set's
    loss, docs/detection.md eleventh session). In-sample
    distances, not held-out ones: the held-out goods also standardise the branches and set
    the threshold, and a per-position scale read from them makes their own maxima low (on
    magnetic tile's fixed split the held-out rule's recall at 1 % false rejects was 0.74
    against 0.90 for this one, docs/detection.md).
    """
    if distances.ndim != 3 or len(distances) < 2 or not np.isfinite(distances).all():
        msg = f"a position standardiser needs finite distances [n >= 2, h, w], got shape {distances.shape}"
        raise InputError(msg)
    if not 0 <= floor_quantile < 1:
        msg = f"the position standardiser's floor quantile must be in [0, 1), got {floor_quantile}"
        raise InputError(msg)
    d = distances.astype(np.float64)
    mean, sd = d.mean(0), d.std(0)
    unit = np.maximum(sd, 1e-6 * max(float(sd.mean()), 1e-12))
    if floor_quantile > 0:
        unit = np.maximum(unit, float(np.quantile(sd, floor_quantile)))
    return mean, unit
