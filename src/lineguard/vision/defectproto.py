"""Nearest labelled defect patch: few-shot evidence in the local branch's whitened space (#24 item 2).

The local branch whitens each grid cell's embedding by its position's good Gaussian,
``r = (x − μ_p) L_p`` (``scoring._whitened_residual``), and scores the cell by ``|r|``:
about ``N(0, I)`` for good cells at *every* position. Labelled defects add what a
distance to the goods cannot know: what defects look like. Each labelled image's ``cap``
most anomalous cells (largest ``|r|``; among those its mask covers, when it has one)
become prototypes ``d_j``, and a cell scores

    ``max_j (|r|² − |r − d_j|²) = max_j (2 r·d_j − |d_j|²)``,

how much nearer it lies to the nearest defect prototype than to the goods' centre (the
log-likelihood ratio of ``N(d_j, I)`` against ``N(0, I)``). Because the whitened space is
the same at every position, a prototype from one place finds its kind anywhere. In the
graph it is one product ``[P, N, C] × [C, M]`` on the residual the local branch already
forms, a maximum over the ``M`` prototypes, then the local branch's own upsampling and
smoothing; the image evidence is the peak of that map, standardised on the held-out goods
(``z_proto``). No good cell is fitted, so those goods are out of sample.

The evidence takes the local branch's place in the few-shot choice (``fewshot``): the fusion
of ``(z_proto, z_global)`` chosen on the held-out goods and each labelled defect's evidence
from the prototypes of the *other* labelled images (leave one image out, so the choice
sees held-out evidence), and only where it separates the labelled defects strictly better
than the shipped choice on ``(z_local, z_global)`` does. The anomaly map, its regions and
the region level stay the zero-shot ones. Measured (magnetic tile, ``bench/bench_few_shot.py
--patch proto:16:0``): docs/detection.md, few-shot detection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch idiom

from lineguard.contracts.errors import InputError
from lineguard.vision.evaluate import load_mask
from lineguard.vision.fewshot import BranchWeight, fit_local_weight, fused
from lineguard.vision.scoring import LocalGlobalHead

__all__ = [
    "DEFAULT_CAP",
    "MIN_COVER",
    "DefectPrototypes",
    "PrototypeChoice",
    "choose_prototypes",
    "defect_cells",
    "mask_covers",
    "prototype_cells",
]

#: Prototypes per labelled image: its most anomalous cells (#24 tenth session: 16).
DEFAULT_CAP = 16
#: A cell counts as inside a defect's mask from this share of its area (at least the best-covered cell).
MIN_COVER = 0.25


def defect_cells(resid: np.ndarray, cover: np.ndarray | None, cap: int) -> np.ndarray:
    """One labelled image's prototypes: of its cells ``resid`` [P, C] (whitened residuals) the
    ``cap`` with the largest ``|r|`` among those its mask covers (``cover`` [P], each cell's
    share inside the mask; None or an empty mask: the whole grid) → [min(cap, covered), C]."""
    r = np.asarray(resid, np.float64)
    if r.ndim != 2 or cap < 1:
        msg = f"one image's residuals [positions, channels] and cap >= 1, got shape {r.shape} and cap {cap}"
        raise InputError(msg)
    covered = np.arange(len(r))
    if cover is not None:
        c = np.asarray(cover, np.float64)
        if c.shape != (len(r),):
            msg = f"a mask cover per grid cell ({len(r)}), got shape {c.shape}"
            raise InputError(msg)
        if np.isfinite(c).all() and c.max() > 0:
            covered = np.flatnonzero(c >= min(MIN_COVER, float(c.max())))
    norms = (r[covered] ** 2).sum(1)
    return r[covered[np.argsort(-norms, kind="stable")[:cap]]]


@dataclass(frozen=True, slots=True)
class DefectPrototypes:
    """Prototype vectors [M, C] in the whitened space, and which labelled image each came from."""

    vectors: np.ndarray
    source: np.ndarray  # [M] index of the labelled image

    @property
    def count(self) -> int:
        return len(self.vectors)

    def without(self, image: int) -> DefectPrototypes:
        """The prototypes of every other labelled image (leave one image out)."""
        keep = self.source != image
        return DefectPrototypes(self.vectors[keep], self.source[keep])

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(2 · vectors [C, M], −|d_j|² [M]) in float32: what the graph multiplies and adds."""
        v = self.vectors.astype(np.float64)
        weights = torch.from_numpy(np.ascontiguousarray(2 * v.T, dtype=np.float32))
        bias = torch.from_numpy(-(v**2).sum(1).astype(np.float32))
        return weights, bias


def prototype_cells(
    resid: np.ndarray, covers: np.ndarray | None = None, cap: int = DEFAULT_CAP
) -> DefectPrototypes:
    """Prototypes of every labelled image: ``resid`` [n, P, C], ``covers`` [n, P] (NaN rows:
    no mask) → :class:`DefectPrototypes`. Deterministic: ties go to the earlier cell."""
    r = np.asarray(resid)
    if r.ndim != 3 or len(r) == 0:
        msg = f"labelled images' residuals [images, positions, channels], got shape {r.shape}"
        raise InputError(msg)
    if not np.isfinite(r).all():
        msg = "the labelled images' residuals contain NaN or infinity"
        raise InputError(msg)
    if covers is not None and np.shape(covers) != r.shape[:2]:
        msg = f"one mask cover per image and grid cell {r.shape[:2]}, got shape {np.shape(covers)}"
        raise InputError(msg)
    parts = [defect_cells(r[i], None if covers is None else covers[i], cap) for i in range(len(r))]
    return DefectPrototypes(
        np.concatenate(parts), np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)])
    )


def mask_covers(masks: Sequence[Path | None], grid: tuple[int, int], size: int) -> np.ndarray:
    """Each labelled image's mask as the share of each grid cell it covers [n, P] (NaN rows: no mask)."""
    out = np.full((len(masks), grid[0] * grid[1]), np.nan)
    for i, path in enumerate(masks):
        if path is not None:
            m = torch.from_numpy(load_mask(path, size, size).astype(np.float32))[None, None]
            out[i] = F.adaptive_avg_pool2d(m, grid).flatten().numpy()
    return out


@dataclass(frozen=True, slots=True)
class PrototypeChoice:
    """The prototypes, the fusion of ``(z_proto, z_global)`` chosen for them, and the evidence.

    ``taken``: the fusion separates the labelled defects (their evidence read leave-one-out)
    from the held-out goods strictly better than the shipped choice on ``(z_local, z_global)``.
    """

    prototypes: DefectPrototypes
    weight: BranchWeight
    norm: tuple[float, float]
    hold_peaks: np.ndarray  # [n_hold] raw peaks of the held-out goods
    #: [n_labelled] each labelled defect's image score from the *other* images' prototypes
    labelled_scores: np.ndarray
    shipped_separation: float
    taken: bool

    @property
    def note(self) -> str:
        w = self.weight
        rule = f"{w.local:g} * z_proto + z_global"
        if w.fusion == "max":
            rule = f"max({w.local:g} * z_proto, z_global)"
        verdict = "chosen" if self.taken else "not chosen"
        return (
            f"nearest labelled defect patch ({self.prototypes.count} prototypes from "
            f"{w.defect_count} images) {verdict}: {rule}, partial AUROC to {w.max_frr:.0%} false rejects "
            f"{w.separation:.3f} "
            f"(each labelled defect read without its own prototypes) against {self.shipped_separation:.3f}"
        )


def choose_prototypes(
    head: LocalGlobalHead,
    hold_emb: np.ndarray,
    defect_emb: np.ndarray,
    covers: np.ndarray | None,
    z_global: tuple[np.ndarray, np.ndarray],
    shipped_separation: float,
    *,
    cap: int = DEFAULT_CAP,
    batch: int = 32,
) -> PrototypeChoice | None:
    """Prototypes of the labelled defects (``defect_emb`` [n, C, h, w], masks as ``covers``),
    their evidence on the held-out goods (``hold_emb``) and, leave one image out, on each
    labelled defect, and the fusion with ``z_global`` (held-out goods, labelled defects)
    ``fewshot.fit_local_weight`` chooses for it. None with fewer than two labelled images
    (one leaves no prototypes to read it against)."""
    if len(defect_emb) < 2:
        return None
    with torch.no_grad():
        d_emb = torch.from_numpy(defect_emb)
        resid = torch.cat([head.local_residual(d_emb[i : i + batch]) for i in range(0, len(d_emb), batch)], 1)
        protos = prototype_cells(resid.permute(1, 0, 2).numpy(), covers, cap)
        full = protos.tensors()
        h_emb = torch.from_numpy(hold_emb)
        hold = torch.cat(
            [
                head.prototype_peak(head.local_residual(h_emb[i : i + batch]), h_emb[i : i + batch], full)
                for i in range(0, len(h_emb), batch)
            ]
        ).numpy()
        loo = np.array(  # each labelled image against the other images' prototypes only
            [
                float(head.prototype_peak(resid[:, i : i + 1], d_emb[i : i + 1], protos.without(i).tensors()))
                for i in range(len(d_emb))
            ]
        )
    hold, loo = hold.astype(np.float64), loo.astype(np.float64)
    # standardised as every branch is (``train._standardiser``): a floor keeps a flat map finite
    mean = float(hold.mean())
    norm = (mean, max(float(hold.std()), 1e-3 * abs(mean), 1e-6))
    z_hold, z_loo = (hold - norm[0]) / norm[1], (loo - norm[0]) / norm[1]
    weight = fit_local_weight(z_hold, z_global[0], z_loo, z_global[1])
    return PrototypeChoice(
        prototypes=protos,
        weight=weight,
        norm=norm,
        hold_peaks=hold,
        labelled_scores=fused(z_loo, z_global[1], weight.local, weight.fusion),
        shipped_separation=shipped_separation,
        taken=weight.separation > shipped_separation + 1e-12,
    )
