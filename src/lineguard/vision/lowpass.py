"""The global branch's own input: the image low-passed by a fixed Gaussian (torch).

Why: the global descriptor (``scoring.global_descriptor``) reads every stage's channel
statistics over the whole image, and on the original image they move further under a
1-px blur or sensor noise of sigma 5 than good parts differ from each other: such good
images were all flagged (magnetic tile, false-reject rate +1.00), and neither a
stronger covariance shrinkage nor dropping the fine stages helped
(``docs/detection.md``, fourth session). Taking those frequencies out of the image the
global branch sees makes the descriptor ignore them, while the local branch, which must
see small defects, keeps the original image. So with ``global_lowpass > 0`` the graph
runs the backbone twice: on the image (local branch) and on ``LowPass(image)`` (global
branch).

``step`` > 1 also subsamples the low-passed image (a Gaussian of sigma >= step / 2
leaves little to alias): the global pass then costs about ``1 / step**2`` of a full one.

How it is computed: a separable Gaussian with reflect padding is linear along each axis,
so each axis is one matrix (``blur_matrix``: the reflected taps folded in, the
subsampling taken as every ``step``-th column). In the exported graph only a band of each
matrix is multiplied: blocks of ~32 outputs, each from the inputs its band covers
(``_BLOCK``; plain ``Slice`` + ``MatMul``). Until #24's ninth session it was ``Pad`` + a
depthwise ``Conv`` of 1 x 21 taps on the 3 image channels, which onnxruntime runs outside
its blocked (NCHWc) kernels: 5-6 % of the shipped graph's kernel time. The banded products
compute the same sums (the image differs by at most 2.4e-7, float32 summation order) at
0.5-0.6x that low-pass's CPU. In torch (training's low-pass, run eagerly) the whole
matrices are faster still: one large product per axis, about a third of the depthwise
convolution's CPU, where the many small banded ones lose to threading overhead on 2
threads (``docs/detection.md``, ninth session). No parameters to fit; deterministic.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import torch
from torch import nn

from lineguard.contracts.errors import InputError

__all__ = ["LowPass", "blur_matrix", "gaussian_kernel"]

#: Outputs per block of the graph's banded products: ~32 measured fastest in onnxruntime
#: (8 blocks at 256 px: 0.50-0.63x the depthwise Conv's CPU; 4 blocks 0.62-0.77x, 16 as 8,
#: 2 blocks 1.3x, the whole matrix 1.9x).
_BLOCK = 32


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian taps, radius ``max(1, round(4 sigma))``."""
    radius = max(1, int(4 * sigma + 0.5))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def blur_matrix(n: int, sigma: float, step: int = 1) -> np.ndarray:
    """The Gaussian of ``sigma`` along one axis of ``n`` samples, reflect padding folded in,
    then every ``step``-th output, as a float64 ``[n, ceil(n / step)]`` matrix: ``x @ B``.

    Reflect padding mirrors about the edge sample without repeating it (``F.pad``'s
    ``"reflect"``), so it needs ``n`` greater than the kernel's radius.
    """
    taps = gaussian_kernel(sigma).double().numpy()
    r = len(taps) // 2
    if n <= r:
        msg = f"a low-pass of sigma {sigma} (radius {r} px) needs a side longer than {r} px, got {n}"
        raise InputError(msg)
    outputs = np.arange(0, n, step)
    matrix = np.zeros((n, len(outputs)))
    for col, centre in enumerate(outputs):
        for offset, weight in zip(range(-r, r + 1), taps, strict=True):
            i = centre + offset
            i = -i if i < 0 else (2 * (n - 1) - i if i >= n else i)
            matrix[i, col] += weight
    return matrix


Band = tuple[int, int, torch.Tensor, torch.Tensor]


def _bands(n: int, sigma: float, step: int, *, banded: bool) -> list[Band]:
    """``blur_matrix`` cut into column blocks of ~``_BLOCK`` outputs (or one, the whole matrix):
    (first input, end input, the block's non-zero rows ``[end - first, outputs]`` and its
    transpose, in float32)."""
    matrix = blur_matrix(n, sigma, step)
    cols = matrix.shape[1]
    count = max(1, round(cols / _BLOCK)) if banded else 1
    bounds = [round(b * cols / count) for b in range(count + 1)]
    bands = []
    for lo, hi in pairwise(bounds):
        rows = np.flatnonzero(np.abs(matrix[:, lo:hi]).sum(1))
        first, end = int(rows[0]), int(rows[-1]) + 1
        block = np.asarray(matrix[first:end, lo:hi], dtype=np.float32)
        as_tensor = torch.from_numpy
        bands.append(
            (first, end, as_tensor(np.ascontiguousarray(block)), as_tensor(np.ascontiguousarray(block.T)))
        )
    return bands


class LowPass(nn.Module):
    """``[N, C, H, W]`` → the same blurred by a Gaussian of ``sigma`` px, then taken every ``step`` px."""

    def __init__(self, sigma: float, step: int = 1, channels: int = 3) -> None:
        super().__init__()
        if not sigma > 0 or step < 1:
            msg = f"a low-pass needs sigma > 0 and step >= 1, got sigma {sigma}, step {step}"
            raise InputError(msg)
        self.sigma = float(sigma)
        self.step = int(step)
        self.channels = channels  # any number works (the matrices act per channel); kept for callers
        # Per side length: the matrices. Plain tensors, not buffers: they follow from
        # (sigma, step, side), so nothing is saved, and in a traced graph they are constants.
        self._bands: dict[tuple[int, torch.dtype, bool], list[Band]] = {}

    def bands(self, n: int, dtype: torch.dtype = torch.float32, *, banded: bool = True) -> list[Band]:
        """The matrices for a side of ``n`` samples, in bands or whole (built once per side)."""
        key = (n, dtype, banded)
        if key not in self._bands:
            made = _bands(n, self.sigma, self.step, banded=banded)
            self._bands[key] = [(lo, hi, m.to(dtype), mt.to(dtype)) for lo, hi, m, mt in made]
        return self._bands[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = int(x.shape[-2]), int(x.shape[-1])  # fixed when traced: the graph's batch alone is dynamic
        # Bands for the exported graph (onnxruntime), whole matrices in torch: each engine's
        # fastest form of the same sums (module docstring).
        banded = torch.onnx.is_in_onnx_export()
        # along x: [.., H, inputs] @ [inputs, outputs]; then along y: [outputs, inputs] @ [.., inputs, W']
        cols, rows = self.bands(w, x.dtype, banded=banded), self.bands(h, x.dtype, banded=banded)
        x = torch.cat([torch.matmul(x[..., lo:hi], m) for lo, hi, m, _ in cols], -1)
        return torch.cat([torch.matmul(mt, x[..., lo:hi, :]) for lo, hi, _, mt in rows], -2)
