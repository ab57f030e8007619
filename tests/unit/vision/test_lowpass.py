"""The global branch's low-pass (``vision.lowpass``): what it keeps, what it removes, what it refuses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lineguard.contracts.errors import InputError
from lineguard.vision.export import export_onnx, onnx_session
from lineguard.vision.lowpass import LowPass, gaussian_kernel


def test_kernel_is_normalised_and_symmetric() -> None:
    k = gaussian_kernel(1.5)
    assert len(k) == 2 * 6 + 1  # radius round(4 sigma)
    assert abs(float(k.sum()) - 1) < 1e-6
    assert torch.equal(k, k.flip(0))


def test_flat_image_is_kept_and_fine_texture_removed() -> None:
    flat = torch.full((2, 3, 64, 64), 0.4)
    assert torch.allclose(LowPass(1.5)(flat), flat, atol=1e-6)  # reflect padding: no dark border
    checker = (torch.arange(64)[:, None] + torch.arange(64)[None, :]) % 2
    image = (0.5 + 0.2 * checker.float()).expand(1, 3, 64, 64)
    out = LowPass(1.5)(image)
    assert float(out.std()) < 1e-3 * float(image.std())  # one-pixel detail is gone
    assert abs(float(out.mean()) - float(image.mean())) < 1e-4
    # a slow ramp (what the global branch should still read) passes almost unchanged inside
    ramp = torch.linspace(0, 1, 64).expand(1, 3, 64, 64)
    assert float((LowPass(1.5)(ramp) - ramp)[..., 8:-8].abs().max()) < 1e-5


def test_step_subsamples_after_the_blur() -> None:
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    half = LowPass(2.0, step=2)(image)
    assert half.shape == (1, 3, 32, 32)
    assert torch.allclose(half, LowPass(2.0)(image)[..., ::2, ::2], atol=1e-6)


@pytest.mark.parametrize(("sigma", "step"), [(0.0, 1), (-1.0, 1), (1.5, 0)])
def test_bad_settings_are_refused(sigma: float, step: int) -> None:
    with pytest.raises(InputError, match="sigma > 0 and step >= 1"):
        LowPass(sigma, step)


def test_onnx_computes_what_torch_computes() -> None:
    class Wrap(torch.nn.Module):  # export_onnx expects (score, map) outputs
        def __init__(self) -> None:
            super().__init__()
            self.low = LowPass(2.5, step=2)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            y = self.low(x)
            return y.mean((1, 2, 3)), y[:, 0]

    module = Wrap().eval()
    image = np.random.default_rng(1).random((2, 3, 128, 128), dtype=np.float32)
    session = onnx_session(export_onnx(module, height=128, width=128))
    got = session.run(None, {"image": image})  # type: ignore[attr-defined]
    with torch.no_grad():
        want = module(torch.from_numpy(image))
    assert np.abs(got[1] - want[1].numpy()).max() < 1e-5
