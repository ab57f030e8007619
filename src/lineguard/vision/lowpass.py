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

A depthwise, separable convolution with reflect padding: plain ONNX ``Pad`` + ``Conv``,
deterministic, no parameters to fit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch idiom
from torch import nn

from lineguard.contracts.errors import InputError

__all__ = ["LowPass", "gaussian_kernel"]


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian taps, radius ``max(1, round(4 sigma))``."""
    radius = max(1, int(4 * sigma + 0.5))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


class LowPass(nn.Module):
    """``[N, C, H, W]`` → the same blurred by a Gaussian of ``sigma`` px, then taken every ``step`` px."""

    kernel_x: torch.Tensor
    kernel_y: torch.Tensor

    def __init__(self, sigma: float, step: int = 1, channels: int = 3) -> None:
        super().__init__()
        if not sigma > 0 or step < 1:
            msg = f"a low-pass needs sigma > 0 and step >= 1, got sigma {sigma}, step {step}"
            raise InputError(msg)
        self.sigma = float(sigma)
        self.step = int(step)
        self.channels = channels
        k = gaussian_kernel(sigma)
        self.register_buffer("kernel_x", k.view(1, 1, 1, -1).repeat(channels, 1, 1, 1))
        self.register_buffer("kernel_y", k.view(1, 1, -1, 1).repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = int(self.kernel_x.shape[-1]) // 2
        x = F.conv2d(
            F.pad(x, (r, r, 0, 0), mode="reflect"), self.kernel_x, stride=(1, self.step), groups=self.channels
        )
        return F.conv2d(
            F.pad(x, (0, 0, r, r), mode="reflect"), self.kernel_y, stride=(self.step, 1), groups=self.channels
        )
