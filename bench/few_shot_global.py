"""Defect-aware weighting of the global branch's Mahalanobis distance (#24, tenth session).

The global branch alone is the stronger one at the operating point on magnetic tile (recall
0.929 at 1 % false rejects on the fixed split against the local branch's 0.58:
docs/detection.md, few-shot detection), and its squared distance is a sum of energies,
``d² = Σ_i (v_i·x)² / λ_i + |x − V Vᵀ x|² / σ²`` (``scoring.LowRankGaussian``). Labelled
defects show where they add energy. The distance is split into **groups** of energy
(:func:`group_energies`): the fitted basis's part, and the isotropic rest outside it per
descriptor group — ``channel`` (each backbone channel of each stage: its pyramid means,
mean and std; 312 groups on MobileNetV2) or ``part`` (each stage's 2×2 means, 4×4 means,
means, stds: 16 groups). Each group is weighted by the labelled defects' mean energy in it
over the held-out goods' (``E_d[e_g] / E_g[e_g]``), shrunk towards 1 by ``alpha`` and capped
at ``cap`` (:func:`direction_weights`): groups the defects do not use are damped rather
than dropped, so an unseen defect type moving them still scores (``few_shot_patch``'s
subspace, which dropped them, lost exactly that).

Why the rest and not the basis: on magnetic tile 99 % of a good image's squared distance,
and 99.7 % of a defect's, lies outside the 256 fitted directions (fixed split: 29,300 of
29,500 and 103,000 of 103,300), so weighting only the basis's directions (the first try,
``Branches.white``) changed no image's rank.

The weighted distance replaces the global branch's in the shipped few-shot choice
(``vision.fewshot.fit_local_weight``) only if the choice separates the held-out goods from
the labelled defects strictly better with it, each labelled defect scored by weights fitted
without it (leave one image out), so the choice sees held-out evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench_generalisation import splits
from generalisation_data import ImageSet, extract
from lineguard.vision.scoring import PYRAMID_GRIDS, LowRankGaussian

#: Channels of MobileNetV2's four stages in the descriptor (strides 4, 8, 16, 32).
STAGE_CHANNELS = (24, 32, 96, 160)


def descriptor_groups(grouping: str, stage_channels: tuple[int, ...] = STAGE_CHANNELS) -> np.ndarray:
    """Group id of every descriptor column (``scoring.global_descriptor``'s order: per stage the
    2×2 means, the 4×4 means, channel-major, then the means and the stds)."""
    ids: list[np.ndarray] = []
    base = 0
    for c in stage_channels:
        per_part = [np.repeat(np.arange(c), g * g) for g in PYRAMID_GRIDS] + [np.arange(c), np.arange(c)]
        for part, channel in enumerate(per_part):
            ids.append(base + (channel if grouping == "channel" else np.zeros_like(channel) + part))
        base += c if grouping == "channel" else len(per_part)
    if grouping not in ("channel", "part"):
        msg = f"unknown descriptor grouping {grouping!r} (channel or part)"
        raise ValueError(msg)
    return np.concatenate(ids)


def group_energies(model: LowRankGaussian, desc: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """[N, G + 1]: the isotropic rest's energy per descriptor group, then the basis's; their
    sum is ``model.distance(desc)²``."""
    d = desc.astype(np.float64) - model.mean
    proj = d @ model.basis
    rest = (d - proj @ model.basis.T) ** 2 * model.inv_iso
    out = np.zeros((len(d), int(groups.max()) + 2))
    np.add.at(out.T, groups, rest.T)
    out[:, -1] = (proj * proj * model.inv_var).sum(1)
    return out


def direction_weights(
    good_energy: np.ndarray, defect_energy: np.ndarray, cap: float, alpha: float
) -> np.ndarray:
    """Per energy column, the labelled defects' mean over the goods', shrunk towards 1 and capped."""
    good = np.maximum(good_energy.mean(0), 1e-12)
    ratio = defect_energy.mean(0) / good
    out: np.ndarray = np.clip((1 - alpha) * ratio + alpha, 0.0, cap)
    return out


def weighted_distance(energy: np.ndarray, weights: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.sqrt(np.maximum(energy @ weights, 0.0))
    return out


def global_evidence(
    energy: dict[str, np.ndarray], labelled: np.ndarray, cap: float, alpha: float
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The weighted global distance standardised on the held-out goods (``hold``, ``test``,
    ``bad``), and each labelled defect's from weights fitted without it (leave one out)."""
    a = direction_weights(energy["hold"], energy["bad"][labelled], cap, alpha)
    raw = {g: weighted_distance(e, a) for g, e in energy.items()}
    mu, sd = float(raw["hold"].mean()), max(float(raw["hold"].std()), 1e-6)
    z = {g: (v - mu) / sd for g, v in raw.items()}
    loo = np.empty(len(labelled))
    for j, i in enumerate(labelled):
        aj = direction_weights(energy["hold"], energy["bad"][np.delete(labelled, j)], cap, alpha)
        loo[j] = (weighted_distance(energy["bad"][i : i + 1], aj)[0] - mu) / sd
    return z, loo


def split_energies(
    s: ImageSet,
    n_random: int,
    feature_cache: Path,
    threads: int,
    log: Callable[[str], None],
    lowpass: tuple[float, int] | None,
    grouping: str,
) -> list[dict[str, np.ndarray]]:
    """Per split (``bench_generalisation.splits``, as ``few_shot_data.set_branches``) the
    global branch (``LowRankGaussian``, rank 256, fitted on the split's fit goods as the
    shipped one) and its energies of the held-out goods, test goods and every defect."""

    def desc(paths: list[Path], what: str) -> np.ndarray:
        feats = extract(
            paths,
            cache=feature_cache,
            tag=f"{s.name} {what}",
            transform=s.condition,
            threads=threads,
            log=log,
            lowpass=lowpass,
        )
        return feats.desc

    goods, bad = desc(s.goods, "goods"), desc(s.defects, "defects")
    groups = descriptor_groups(grouping)
    if groups.size != goods.shape[1]:
        msg = f"descriptor of {goods.shape[1]} columns, grouping expects {groups.size}"
        raise ValueError(msg)
    out = []
    for sp in splits(s, n_random):
        model = LowRankGaussian.fit(goods[sp.fit], max_rank=256)
        out.append(
            {
                "hold": group_energies(model, goods[sp.hold], groups),
                "test": group_energies(model, goods[sp.test], groups),
                "bad": group_energies(model, bad, groups),
            }
        )
    return out
