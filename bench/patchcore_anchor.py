"""PatchCore (Roth et al., CVPR 2022) on the suite's features: the second anchor of issue #24.

A re-implementation of the published method on the same backbone as the engine and the
PaDiM recipe (anomalib is not a dependency), used by ``bench_generalisation.py``:

* **patch features** — ``features.6`` (stride 8, 32 ch) and ``features.13`` (stride 16,
  96 ch), each averaged over its 3x3 neighbourhood (the paper's local aggregation), the
  deeper one upsampled to the stride-8 grid, concatenated: 128 values per patch;
* **memory bank** — every patch of every fitted good image, subsampled by greedy
  k-centre coreset selection (the paper's Algorithm 1) on a seeded Gaussian random
  projection to ``PROJECTION_DIM`` values, keeping ``CORESET_RATIO`` of the patches (the
  paper's PatchCore-10 %), at most ``CORESET_MAX`` (PatchCore-1 % on magnetic tile's
  594,000 patches: a 2-core machine cannot run the 59,000 greedy steps of 10 % there);
* **scores** — each test patch's distance to its nearest bank patch; the image score is
  the largest, re-weighted as in the paper (eq. 7, anomalib's ``num_neighbors=9``) by how
  isolated that bank patch is among its 9 nearest bank neighbours.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

CORESET_RATIO = 0.1
CORESET_MAX = 6000
PROJECTION_DIM = 32
NEIGHBOURS = 9


def patch_features(s8: np.ndarray, s16: np.ndarray) -> torch.Tensor:
    """[N, 128, h, w]: 3x3-averaged stride-8 and (upsampled) stride-16 maps, concatenated."""
    a = F.avg_pool2d(torch.from_numpy(s8), 3, 1, 1)
    b = F.avg_pool2d(torch.from_numpy(s16), 3, 1, 1)
    b = F.interpolate(b, size=a.shape[-2:], mode="bilinear", align_corners=False)
    return torch.cat([a, b], 1)


def _flat(feats: torch.Tensor) -> torch.Tensor:
    return feats.permute(0, 2, 3, 1).reshape(-1, feats.shape[1]).contiguous()


def coreset(patches: torch.Tensor, n_keep: int, seed: int = 0) -> torch.Tensor:
    """Indices of a greedy k-centre coreset (Algorithm 1) on a random projection of ``patches``."""
    g = torch.Generator().manual_seed(seed)
    proj = torch.randn(patches.shape[1], PROJECTION_DIM, generator=g) / PROJECTION_DIM**0.5
    x = patches @ proj
    sq = (x * x).sum(1)
    chosen = torch.empty(n_keep, dtype=torch.int64)
    idx = int(torch.randint(len(x), (1,), generator=g))
    min_d = torch.full((len(x),), float("inf"))
    for k in range(n_keep):
        chosen[k] = idx
        c = x[idx]
        d = sq - 2 * (x @ c) + float(c @ c)
        torch.minimum(min_d, d, out=min_d)
        idx = int(torch.argmax(min_d))
    return chosen


class PatchCore:
    """Memory bank of good patches; scores (image score, patch distance map) of new images."""

    def __init__(self, s8: np.ndarray, s16: np.ndarray) -> None:
        patches = _flat(patch_features(s8, s16))
        n_keep = min(CORESET_MAX, max(1, round(CORESET_RATIO * len(patches))))
        self.bank = patches[coreset(patches, n_keep)].contiguous()
        self.bank_sq = (self.bank * self.bank).sum(1)

    def _nearest(self, q: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        d2 = (q * q).sum(1, keepdim=True) - 2 * q @ self.bank.T + self.bank_sq[None]
        d, i = torch.topk(d2, k, dim=1, largest=False)
        return d.clamp_min(0).sqrt(), i

    def score(self, s8: np.ndarray, s16: np.ndarray, batch: int = 8) -> tuple[np.ndarray, torch.Tensor]:
        """Image scores [N] (re-weighted maximum) and patch distance maps [N, h, w]."""
        scores, maps = [], []
        for a in range(0, len(s8), batch):
            feats = patch_features(s8[a : a + batch], s16[a : a + batch])
            n, _, h, w = feats.shape
            q = _flat(feats)
            dist, nn_idx = self._nearest(q)
            dist, nn_idx = dist[:, 0].reshape(n, h * w), nn_idx[:, 0].reshape(n, h * w)
            maps.append(dist.reshape(n, h, w))
            top = dist.argmax(1)
            for j in range(n):
                s_star = dist[j, top[j]]
                m_test = q[j * h * w + int(top[j])]
                m_star = self.bank[nn_idx[j, top[j]]]
                # eq. 7: the bank patch's own neighbours N_b(m*), then the test patch's distances to them
                _, neigh = self._nearest(m_star[None], NEIGHBOURS)
                d_neigh = (self.bank[neigh[0]] - m_test[None]).norm(dim=1)
                top_d = torch.maximum(d_neigh.max(), s_star)  # a stable softmax: distances reach 30+
                weight = 1 - torch.exp(s_star - top_d) / torch.exp(d_neigh - top_d).sum()
                scores.append(float(weight * s_star))
        return np.asarray(scores, np.float64), torch.cat(maps)
