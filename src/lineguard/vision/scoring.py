"""The scoring head: backbone feature maps → pixel anomaly map and image score (torch).

Method ("local-global Gaussian", see ``docs/detection.md`` for the measurements):

* **Local branch** — at every position of a stride-8 grid, a Gaussian over the
  concatenated features of two backbone stages (the deeper one upsampled), with a
  Ledoit–Wolf shrunk covariance per position. The Mahalanobis distance map is
  upsampled to the input size and smoothed with a Gaussian. It finds *where* a part
  deviates from the good parts seen at that position (blowholes, chips, cracks).
* **Global branch** — one Gaussian over a per-image *spatial pyramid* descriptor of
  four stages: each channel's mean and standard deviation over the whole image plus
  its means over a 2x2 and a 4x4 grid of cells. Its covariance (Ledoit–Wolf, stored
  in low-rank form) couples all cells, so it scores *how typical the whole part's
  appearance and layout* are: texture or finish changes spread over a large area,
  and shifts of brightness between regions, which no single position shows clearly.
* Both distances are standardised on held-out good images (z-scores) and fused.
  ``fusion="sum"`` (the first round's rule): ``map = z_local(map) + z_global``.
  ``fusion="max"``: the image score is ``max(peak of z_local, z_global)`` — the
  generalisation suite scores images better with it on every set (``docs/detection.md``)
  — and the map is the local map lifted by how far the global z-score rises above its
  peak, ``map = z_local(map) + max(0, z_global - max z_local)``: its peak is that score,
  and every pixel keeps its local rank. (The third session's per-pixel
  ``max(z_local, z_global)`` had the same score but a map flat below the global floor:
  magnetic tile's mean per-type pixel AUROC 0.970 → 0.945, AUPRO 0.642 → 0.412.)
  Either way the score is the peak of the map, the map and the threshold share one
  scale, and the map differs from the sum's by one constant per image, which the
  map-relative regions (``regions``) do not see. One exception, chosen only by labelled
  defects (``fewshot``, ``score_weight``): the image score ``w · peak z_local + z_global``
  beside the maximum's lifted map (the weighted sum scores better at the operating point;
  the lifted map localises better than the sum's).

Every statistic is estimated in float64 with closed forms (no iterative training), so
fitting is deterministic and fast on a CPU; the whole head is plain tensor algebra and
exports to one ONNX graph with the backbone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal, get_args

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch idiom
from torch import nn

from lineguard.contracts.errors import InputError
from lineguard.vision.backbones import Backbone
from lineguard.vision.lowpass import LowPass, gaussian_kernel

__all__ = [
    "FUSIONS",
    "PYRAMID_GRIDS",
    "Detector",
    "Fusion",
    "GaussianStats",
    "LocalGlobalHead",
    "LowRankGaussian",
    "gaussian_kernel",
    "global_descriptor",
    "ledoit_wolf",
    "local_embedding",
    "pack_precision",
    "smoothing_matrix",
    "unpack_index",
]


#: How the two standardised branches make the map: their maximum (default) or their sum.
Fusion = Literal["max", "sum"]
FUSIONS: tuple[str, ...] = get_args(Fusion)


def ledoit_wolf(centered: np.ndarray, *, floor: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Shrunk covariance of centered samples ``[..., n, p]`` → (cov [..., p, p], shrinkage [...]).

    Ledoit & Wolf (2004): the shrinkage towards a scaled identity is estimated from the
    data, so it adapts to the sample count (heavy with 50 images, light with 5000)
    instead of being a constant tuned on one dataset. ``floor``: the least shrinkage
    (``localfit``: a floor for fits with fewer samples than dimensions).
    """
    x = centered.astype(np.float64, copy=False)
    n, p = x.shape[-2], x.shape[-1]
    s = np.swapaxes(x, -1, -2) @ x / n
    mu = np.trace(s, axis1=-2, axis2=-1) / p
    eye = np.eye(p)
    delta = ((s - mu[..., None, None] * eye) ** 2).sum((-2, -1)) / p
    x4 = ((x**2).sum(-1) ** 2).mean(-1)
    beta = (x4 - (s**2).sum((-2, -1))) / (n * p)
    beta = np.minimum(beta, delta)
    shrink = np.where(delta > 0, beta / np.where(delta > 0, delta, 1), 1.0)
    if floor > 0:
        shrink = np.maximum(shrink, floor)
    cov = (1 - shrink)[..., None, None] * s + (shrink * mu)[..., None, None] * eye
    # A constant channel (dead ReLU everywhere) would leave cov singular: add a floor.
    floor = 1e-6 * np.maximum(mu, 1e-12)[..., None, None] * eye
    return cov + floor, shrink


@dataclass(frozen=True, slots=True)
class GaussianStats:
    mean: np.ndarray  # [..., p]
    precision: np.ndarray  # [..., p, p]
    shrinkage: np.ndarray  # [...]

    @classmethod
    def fit(cls, samples: np.ndarray, *, shrink_floor: float = 0.0) -> GaussianStats:
        """Samples ``[..., n, p]`` (batched over leading axes) → mean, shrunk precision."""
        x = samples.astype(np.float64, copy=False)
        mean = x.mean(-2, keepdims=True)
        cov, shrink = ledoit_wolf(x - mean, floor=shrink_floor)
        return cls(mean[..., 0, :], np.linalg.inv(cov), shrink)


@dataclass(frozen=True, slots=True)
class LowRankGaussian:
    """Ledoit–Wolf Gaussian for descriptors with more dimensions than samples.

    The shrunk covariance ``(1 - s) S + s m I`` is kept as its top ``rank`` eigenvectors
    of ``S`` (``basis`` [p, r], with inverse variances ``inv_var`` [r]) plus the isotropic
    part ``1 / (s m)`` (``inv_iso``), so the squared distance is
    ``sum_j (v_j . d)^2 inv_var_j + |d - V V^T d|^2 inv_iso`` and nothing p x p is stored.
    The residual is formed explicitly, not as ``|d|^2 - |V^T d|^2``: in float32 that
    difference of two large numbers loses the digits that matter (it made ONNX and
    torch scores differ by 1.5e-4; with the residual, by under 1e-5). Everything is
    computed from the n x n Gram matrix.
    """

    mean: np.ndarray  # [p]
    basis: np.ndarray  # [p, r]
    inv_var: np.ndarray  # [r]
    inv_iso: float
    shrinkage: float

    @classmethod
    def fit(cls, samples: np.ndarray, *, max_rank: int = 256) -> LowRankGaussian:
        x = samples.astype(np.float64, copy=False)
        n, p = x.shape
        mean = x.mean(0)
        xc = x - mean
        gram = xc @ xc.T  # n x n
        mu = max(float(np.trace(gram)) / (n * p), 1e-12)
        s_fro2 = float((gram**2).sum()) / n**2
        delta = (s_fro2 - p * mu * mu) / p
        x4 = float((np.diag(gram) ** 2).mean())
        beta = min((x4 - s_fro2) / (n * p), delta)
        shrink = float(beta / delta) if delta > 0 else 1.0
        shrink = min(max(shrink, 1e-3), 1.0)  # never a singular covariance
        # Eigenvectors of S = xcᵀ xc / n from the n x n Gram matrix (eigh), mapped back to
        # the p dimensions: the same basis as an SVD of xc, at a seventh of its cost
        # (15 s of CPU for 580 x 6,864 descriptors). Eigenvalues below 1e-12 of the
        # largest (singular values below 1e-6) carry only rounding: the centred samples
        # always leave one such direction, and the isotropic part covers the rest.
        eigval, eigvec = np.linalg.eigh(gram / n)
        order = np.argsort(eigval)[::-1]
        eigval, eigvec = eigval[order], eigvec[:, order]
        top = max(float(eigval[0]), 1e-30)
        # At least one component: a zero-width basis would not survive ONNX broadcasting.
        rank = max(1, int(min(max_rank, int((eigval > 1e-12 * top).sum()))))
        lam = np.maximum(eigval[:rank], 1e-12 * top)
        basis = xc.T @ eigvec[:, :rank] / np.sqrt(n * lam)
        iso = shrink * mu
        return cls(mean, basis, 1.0 / ((1 - shrink) * lam + iso), 1.0 / iso, shrink)

    def distance(self, x: np.ndarray) -> np.ndarray:
        d = x.astype(np.float64) - self.mean
        proj = d @ self.basis
        resid = d - proj @ self.basis.T
        d2 = (proj * proj * self.inv_var).sum(-1) + (resid * resid).sum(-1) * self.inv_iso
        out: np.ndarray = np.sqrt(np.maximum(d2, 0.0))
        return out


def local_embedding(feats: Sequence[torch.Tensor], layers: Sequence[int], pool: int = 1) -> torch.Tensor:
    """Concatenate the chosen stages at the resolution of the first (finest) one, that one
    average-pooled ``pool`` x ``pool`` first (``TrainConfig.local_pool``: with 2, MobileNetV2's
    grid is stride 16, a quarter of the positions whose matrices every frame reads)."""
    chosen = [feats[i] for i in layers]
    if pool > 1:
        chosen[0] = F.avg_pool2d(chosen[0], pool)
    size = chosen[0].shape[-2:]
    ups = [
        f if f.shape[-2:] == size else F.interpolate(f, size=size, mode="bilinear", align_corners=False)
        for f in chosen
    ]
    return torch.cat(ups, 1)


#: Grid sizes of the pyramid's cell means (besides the whole-image mean and std).
PYRAMID_GRIDS = (2, 4)


def global_descriptor(feats: Sequence[torch.Tensor], layers: Sequence[int]) -> torch.Tensor:
    """Per image, for every channel of the chosen stages: mean and std over the whole map,
    and the means of a 2x2 and a 4x4 grid of cells → [N, 22 * sum(C)].

    Feature-map sides must be divisible by 4 (inputs a multiple of 128 px).
    """
    parts: list[torch.Tensor] = []
    for i in layers:
        f = feats[i]
        h, w = int(f.shape[-2]), int(f.shape[-1])
        for g in PYRAMID_GRIDS:
            parts.append(F.avg_pool2d(f, (h // g, w // g)).flatten(1))
        mean = f.mean((2, 3))
        var = (f * f).mean((2, 3)) - mean * mean
        parts += [mean, var.clamp_min(0).sqrt()]
    return torch.cat(parts, 1)


def pack_precision(precision: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-position precisions ``[P, C, C]`` → (packed float16 factors ``[P, C(C+1)/2]``, scales ``[P]``).

    ``precision = L Lᵀ`` (Cholesky, L lower triangular), so ``dᵀ precision d = |d L|²``: a
    sum of squares, which float16 rounding of L cannot make negative or cancel. Only the
    lower triangle is kept, scaled per position to its largest entry (float16 tops out
    at 65504; a near-constant channel makes entries of 1e3 and more), and rounded to
    float16: a quarter of the float32 matrices that made most of an 87 MB package.
    The scores move by about 1e-4 of their value (measured in
    ``bench/bench_generalisation.py``, config "float16 local stats").
    """
    lower = np.linalg.cholesky(precision.astype(np.float64))
    scale = np.abs(lower).max((-2, -1))
    rows, cols = np.tril_indices(precision.shape[-1])
    packed = (lower[:, rows, cols] / scale[:, None]).astype(np.float16)
    return packed, scale.astype(np.float32)


def unpack_index(channels: int) -> np.ndarray:
    """For each entry of a ``[C, C]`` matrix (row-major), its index in the packed lower
    triangle, or ``C(C+1)/2`` (a zero appended to the packed row) above the diagonal."""
    rows, cols = np.tril_indices(channels)
    index = np.full((channels, channels), len(rows), dtype=np.int64)
    index[rows, cols] = np.arange(len(rows))
    return index.reshape(-1)


#: Column blocks of the whitening product (``_whitened_distance``): a latency choice.
WHITENING_BLOCKS = 4


def _whitened_distance(
    x: torch.Tensor, mean: torch.Tensor, factor: torch.Tensor, *, blocks: int = WHITENING_BLOCKS
) -> torch.Tensor:
    """x [N, C, h, w] against per-position (mean [P, C], factor L [P, C, C]) → |(x - mean) L| [N, h, w]."""
    return _residual_norm(_whitened_residual(x, mean, factor, blocks=blocks), x)


def _residual_norm(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The whitened residual [P, N, C] of ``x`` [N, C, h, w] → its length per cell [N, h, w]."""
    n, _c, h, w = x.shape  # n stays symbolic when traced: the graph's batch is dynamic
    return (y * y).sum(-1).sqrt().permute(1, 0).reshape(n, h, w)


def _whitened_residual(
    x: torch.Tensor, mean: torch.Tensor, factor: torch.Tensor, *, blocks: int = WHITENING_BLOCKS
) -> torch.Tensor:
    """x [N, C, h, w] against per-position (mean [P, C], factor L [P, C, C]) → (x - mean) L [P, N, C].

    L is lower triangular, so column ``j`` of ``d L`` only reads rows ``i >= j``: the product
    is taken in ``blocks`` column blocks, each from the first row of its block down. Every
    term that is skipped is an exact zero, so the result is the one product's up to float32
    summation order; the graph reads (1 + 1/blocks) / 2 of the factors (40 of 64 MiB at
    1,024 positions x 128 channels, 4 blocks), and onnxruntime's batched MatMul runs these
    narrower products faster per byte as well: at batch 1, 0.3x the CPU of the one
    [P, 1, C] x [P, C, C] product it replaces (``docs/detection.md``, latency).
    """
    c = int(x.shape[1])
    d = x.flatten(2).permute(2, 0, 1) - mean[:, None, :]  # [P, N, C]
    count = max(1, min(blocks, c))
    bounds = [round(b * c / count) for b in range(count + 1)]
    parts = [torch.matmul(d[:, :, lo:], factor[:, lo:, lo:hi]) for lo, hi in pairwise(bounds)]
    return parts[0] if len(parts) == 1 else torch.cat(parts, -1)  # [P, N, C]


def smoothing_matrix(inner: int, outer: int, sigma: float) -> torch.Tensor:
    """Bilinear upsampling (``align_corners=False``) from ``inner`` to ``outer`` samples, then a
    Gaussian of ``sigma`` with reflected borders, along one axis, as one [outer, inner] matrix.

    Both steps are linear and act on each axis separately, so the graph's smoothed map is
    ``A_y @ map @ A_xᵀ``: two small matrix products in place of a resize, two reflect pads
    and two 33-tap convolutions over the full-size map (the same values up to float32
    rounding, in a tenth of the time). Built by sending the identity through exactly those
    operations, in float64.
    """
    k = gaussian_kernel(sigma).double()
    r = int(k.shape[0]) // 2
    eye = torch.eye(inner, dtype=torch.float64)[:, None, None, :]  # [inner, 1, 1, inner]
    up = F.interpolate(eye, size=(1, outer), mode="bilinear", align_corners=False)
    blurred = F.conv2d(F.pad(up, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    return blurred[:, 0, 0, :].transpose(0, 1).float()  # [outer, inner]


class LocalGlobalHead(nn.Module):
    """Fitted statistics as buffers; forward(feature maps) → (score [N], map [N, H, W])."""

    local_mean: torch.Tensor
    local_factor: torch.Tensor
    local_scale: torch.Tensor
    local_index: torch.Tensor
    global_mean: torch.Tensor
    global_basis: torch.Tensor
    global_inv_var: torch.Tensor
    global_inv_iso: torch.Tensor
    smooth_y: torch.Tensor
    smooth_xt: torch.Tensor
    norm: torch.Tensor
    local_offset: torch.Tensor
    local_unit: torch.Tensor
    proto_weights: torch.Tensor
    proto_bias: torch.Tensor
    proto_norm: torch.Tensor

    def __init__(
        self,
        *,
        local_layers: Sequence[int],
        global_layers: Sequence[int],
        local_stats: GaussianStats,
        global_stats: LowRankGaussian,
        grid: tuple[int, int],
        output_size: tuple[int, int],
        sigma: float,
        local_norm: tuple[float, float] = (0.0, 1.0),
        global_norm: tuple[float, float] = (0.0, 1.0),
        fusion: Fusion = "max",
        global_lowpass: float = 0.0,
        global_step: int = 1,
        local_pool: int = 1,
    ) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            msg = f"fusion must be one of {FUSIONS}, got {fusion!r}"
            raise InputError(msg)
        self.fusion: Fusion = fusion
        self.local_layers = tuple(local_layers)
        #: The finest local map is average-pooled this many cells a side (``local_embedding``).
        self.local_pool = local_pool
        self.global_layers = tuple(global_layers)
        self.grid = grid
        self.output_size = output_size
        self.sigma = sigma
        #: The global branch's input (``lowpass``): None = the local branch's backbone pass.
        self.global_input = LowPass(global_lowpass, global_step) if global_lowpass > 0 else None
        #: Chosen by labelled defects (``fewshot``): image score ``w · peak z_local + z_global``,
        #: the map unchanged; None: the score is the map's peak.
        self.score_weight: float | None = None

        def f32(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

        self.register_buffer("local_mean", f32(local_stats.mean))
        packed, scale = pack_precision(local_stats.precision)
        self.register_buffer("local_factor", torch.from_numpy(np.ascontiguousarray(packed)))
        self.register_buffer("local_scale", f32(scale[:, None, None]))
        self.register_buffer("local_index", torch.from_numpy(unpack_index(local_stats.mean.shape[-1])))
        self.register_buffer("global_mean", f32(global_stats.mean))
        self.register_buffer("global_basis", f32(global_stats.basis))
        self.register_buffer("global_inv_var", f32(global_stats.inv_var))
        self.register_buffer("global_inv_iso", torch.tensor(global_stats.inv_iso, dtype=torch.float32))
        self.register_buffer("smooth_y", smoothing_matrix(grid[0], output_size[0], sigma))
        self.register_buffer("smooth_xt", smoothing_matrix(grid[1], output_size[1], sigma).T.contiguous())
        self.register_buffer("norm", torch.tensor([*local_norm, *global_norm], dtype=torch.float32))
        #: Per grid position, the local distance becomes ``(d - offset) / unit`` before it is
        #: upsampled (``set_position_norm``; #24 tenth session); False: the distance as it is,
        #: and the graph has no such step (packages trained without it are unchanged).
        self.position_norm = False
        self.register_buffer("local_offset", torch.zeros(grid, dtype=torch.float32))
        self.register_buffer("local_unit", torch.ones(grid, dtype=torch.float32))
        #: Labelled defects' prototypes in the local whitened space (``set_prototypes``,
        #: ``defectproto``): when set, the image score is ``proto_fusion`` of ``proto_weight ·
        #: z_proto`` and ``z_global``, the map unchanged; the graph has no such step otherwise.
        self.prototypes = False
        self.proto_fusion: Fusion = "max"
        self.proto_weight = 1.0
        self.register_buffer("proto_weights", torch.zeros(int(local_stats.mean.shape[-1]), 1))
        self.register_buffer("proto_bias", torch.zeros(1))
        self.register_buffer("proto_norm", torch.tensor([0.0, 1.0]))

    def set_prototypes(self, weights: torch.Tensor, bias: torch.Tensor) -> None:
        """Score cells by their nearest labelled defect prototype (``DefectPrototypes.tensors``:
        ``2 d`` [C, M], ``−|d|²`` [M]); standardise and fuse with :meth:`set_prototype_score`."""
        c = int(self.local_mean.shape[-1])
        shape_ok = weights.ndim == 2 and weights.shape[0] == c and bias.shape == (weights.shape[1],)
        if not shape_ok or bias.numel() == 0:
            msg = (
                f"prototypes need weights [{c}, M] and a bias [M], M >= 1, "
                f"got {tuple(weights.shape)} and {tuple(bias.shape)}"
            )
            raise InputError(msg)
        self.proto_weights = weights.float().contiguous()
        self.proto_bias = bias.float().contiguous()
        self.prototypes = True

    def set_prototype_score(self, norm: tuple[float, float], fusion: Fusion, weight: float) -> None:
        """The image score ``fusion(weight · (peak − norm[0]) / norm[1], z_global)`` of the prototype map."""
        if not self.prototypes or fusion not in FUSIONS or not weight > 0 or not norm[1] > 0:
            msg = (
                f"a prototype score needs prototypes, a fusion in {FUSIONS}, a positive weight and scale, "
                f"got prototypes={self.prototypes}, {fusion!r}, {weight}, {norm[1]}"
            )
            raise InputError(msg)
        self.proto_norm.copy_(torch.tensor(norm, dtype=torch.float32))
        self.proto_fusion, self.proto_weight = fusion, float(weight)

    def set_position_norm(self, offset: np.ndarray, unit: np.ndarray) -> None:
        """Standardise the local distance per grid position (``localfit.position_standardiser``)."""
        if (
            offset.shape != self.grid
            or unit.shape != self.grid
            or not (np.isfinite(unit).all() and (unit > 0).all())
        ):
            msg = (
                f"a position norm needs a finite offset and a positive unit of the grid's shape {self.grid}, "
                f"got {offset.shape} and {unit.shape}"
            )
            raise InputError(msg)
        self.local_offset.copy_(torch.from_numpy(np.asarray(offset, dtype=np.float32)))
        self.local_unit.copy_(torch.from_numpy(np.asarray(unit, dtype=np.float32)))
        self.position_norm = True

    def local_distance(self, emb: torch.Tensor) -> torch.Tensor:
        """The local branch's distance grid [N, h, w], standardised per position when the head is."""
        return self._distance_grid(self.local_residual(emb), emb)

    def local_residual(self, emb: torch.Tensor) -> torch.Tensor:
        """The whitened residual ``(x − μ_p) L_p`` of every cell [P, N, C] (its length: the distance)."""
        return _whitened_residual(emb, self.local_mean, self.local_whitening())

    def _distance_grid(self, resid: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        dist = _residual_norm(resid, emb)
        if self.position_norm:
            dist = (dist - self.local_offset) / self.local_unit
        return dist

    def _smoothed(self, grid: torch.Tensor) -> torch.Tensor:
        # upsampled to the input size and smoothed: [H, h] @ [N, h, w] @ [w, W] (``smoothing_matrix``)
        return torch.matmul(torch.matmul(self.smooth_y, grid), self.smooth_xt)

    def prototype_peak(
        self,
        resid: torch.Tensor,
        emb: torch.Tensor,
        prototypes: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Peak [N] of the smoothed map of ``max_j (2 r·d_j − |d_j|²)`` (``defectproto``) for the
        head's prototypes, or for ``prototypes`` (weights, bias) while training chooses them."""
        n, _c, h, w = emb.shape
        weights, bias = prototypes or (self.proto_weights, self.proto_bias)
        cell = (torch.matmul(resid, weights) + bias).amax(-1)  # [P, N]
        return self._smoothed(cell.permute(1, 0).reshape(n, h, w)).flatten(1).amax(1)

    def set_normalisation(self, local_norm: tuple[float, float], global_norm: tuple[float, float]) -> None:
        self.norm.copy_(torch.tensor([*local_norm, *global_norm], dtype=torch.float32))

    def parts(
        self, feats: Sequence[torch.Tensor], global_feats: Sequence[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """What the statistics are fitted on: (local embedding [N, C, h, w], global descriptor [N, D]).

        ``global_feats``: the backbone's maps of :attr:`global_input` (image), when the head has one.
        """
        glob = feats if global_feats is None else global_feats
        emb = local_embedding(feats, self.local_layers, self.local_pool)
        return emb, global_descriptor(glob, self.global_layers)

    def image_parts(
        self, backbone: Callable[[torch.Tensor], list[torch.Tensor]], image: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`parts` straight from the image: one backbone pass, or two with a low-passed global input.

        With two, the pass on the image stops at the deepest stage the local branch reads
        (MobileNetV2: ``features.13``; the trunk's last blocks then run on the low-passed
        image only): the same maps, less work per frame.
        """
        if self.global_input is None:
            return self.parts(backbone(image))
        if isinstance(backbone, Backbone):
            feats = backbone.features(image, max(self.local_layers) + 1)
        else:
            feats = backbone(image)
        return self.parts(feats, backbone(self.global_input(image)))

    def raw(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Unstandardised (smoothed local map [N, H, W], global distance [N]) from ONE backbone pass:
        only for a head without a :attr:`global_input` (whose global branch needs its own pass)."""
        if self.global_input is not None:
            msg = "this head's global branch reads a low-passed image: score images with Detector"
            raise InputError(msg)
        return self.raw_from_parts(*self.parts(feats))

    def local_whitening(self) -> torch.Tensor:
        """The per-position factors L [P, C, C] (precision = L Lᵀ) from their packed float16 form.

        In the exported graph these are operations on constants, which onnxruntime folds
        once when the session is created: the file keeps the float16 triangles, inference
        multiplies by the same float32 matrices torch uses here.
        """
        p, c = int(self.local_mean.shape[0]), int(self.local_mean.shape[1])
        padded = torch.cat([self.local_factor.float(), torch.zeros(p, 1, dtype=torch.float32)], 1)
        return torch.index_select(padded, 1, self.local_index).reshape(p, c, c) * self.local_scale

    def raw_from_parts(self, emb: torch.Tensor, desc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unstandardised (smoothed local map [N, H, W], global distance [N])."""
        return self._smoothed(self.local_distance(emb)), self.global_distance(desc)

    def evidence(
        self, emb: torch.Tensor, desc: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """:meth:`raw_from_parts` and, with prototypes, the prototype map's peak [N] (else None),
        both read from one whitened residual."""
        resid = self.local_residual(emb)
        up = self._smoothed(self._distance_grid(resid, emb))
        proto = self.prototype_peak(resid, emb) if self.prototypes else None
        return up, self.global_distance(desc), proto

    def global_distance(self, desc: torch.Tensor) -> torch.Tensor:
        g = desc - self.global_mean
        proj = torch.matmul(g, self.global_basis)
        resid = g - torch.matmul(proj, self.global_basis.transpose(0, 1))
        d2 = (proj * proj * self.global_inv_var).sum(-1) + (resid * resid).sum(-1) * self.global_inv_iso
        return d2.clamp_min(0).sqrt()

    def forward(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(score, map) from ONE backbone pass (a plant's ONNX backbone: ``onnx_backbone``)."""
        if self.global_input is not None:
            return self.combine(*self.raw(feats))  # refused there, with the reason
        return self.combine(*self.evidence(*self.parts(feats)))

    def deviation(self, emb: torch.Tensor) -> torch.Tensor:
        """Local embedding minus the good mean at each position [N, C, h, w]: what region classes read."""
        _, c, h, w = emb.shape
        return emb - self.local_mean.transpose(0, 1).reshape(1, c, h, w)

    def combine(
        self, local_map: torch.Tensor, gdist: torch.Tensor, proto_peak: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardise both branches and fuse (``fusion``): (score [N], map [N, H, W]).

        With prototypes the score is theirs (``proto_peak`` from :meth:`evidence`, required)."""
        z_local = (local_map - self.norm[0]) / self.norm[1]
        z_global = (gdist - self.norm[2]) / self.norm[3]
        if self.fusion == "max":
            lift = (z_global - z_local.flatten(1).amax(1)).clamp_min(0.0)
            amap = z_local + lift[:, None, None]
        else:
            amap = z_local + z_global[:, None, None]
        score = amap.flatten(1).amax(1)
        if self.score_weight is not None:
            score = self.score_weight * z_local.flatten(1).amax(1) + z_global
        if self.prototypes:
            if proto_peak is None:
                msg = "this head scores images by its defect prototypes: pass their peak (evidence())"
                raise InputError(msg)
            z_proto = self.proto_weight * (proto_peak - self.proto_norm[0]) / self.proto_norm[1]
            score = z_proto + z_global if self.proto_fusion == "sum" else torch.maximum(z_proto, z_global)
        return score, amap


class Detector(nn.Module):
    """Backbone + head: the exact module exported to ONNX (image [N,3,H,W] in [0,1] → score, map).

    With ``region_features`` (a package with named defect classes) a third output is the
    head's :meth:`~LocalGlobalHead.deviation` grid, which the edge pools per region.
    """

    def __init__(self, backbone: nn.Module, head: LocalGlobalHead, *, region_features: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.region_features = region_features

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        emb, desc = self.head.image_parts(self.backbone, image)
        score, amap = self.head.combine(*self.head.evidence(emb, desc))
        if self.region_features:
            return score, amap, self.head.deviation(emb)
        return score, amap
