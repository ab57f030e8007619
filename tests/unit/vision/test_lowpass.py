"""The global branch's low-pass (``vision.lowpass``): what it keeps, what it removes, what it refuses."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch idiom

from lineguard.contracts.errors import InputError
from lineguard.vision.export import export_onnx, onnx_session
from lineguard.vision.lowpass import LowPass, blur_matrix, gaussian_kernel


def direct_convolution(x: torch.Tensor, sigma: float, step: int) -> torch.Tensor:
    """The low-pass as it was computed until #24's ninth session: reflect ``Pad`` + depthwise ``Conv``."""
    k = gaussian_kernel(sigma)
    c, r = int(x.shape[1]), len(k) // 2
    x = F.conv2d(
        F.pad(x, (r, r, 0, 0), mode="reflect"),
        k.view(1, 1, 1, -1).repeat(c, 1, 1, 1),
        stride=(1, step),
        groups=c,
    )
    return F.conv2d(
        F.pad(x, (0, 0, r, r), mode="reflect"),
        k.view(1, 1, -1, 1).repeat(c, 1, 1, 1),
        stride=(step, 1),
        groups=c,
    )


@pytest.mark.parametrize(
    ("shape", "sigma", "step"),
    [
        ((2, 3, 256, 256), 2.5, 1),  # the shipped default
        ((1, 3, 256, 256), 2.5, 2),
        ((1, 3, 128, 128), 1.25, 1),  # sigma scaled with a 128-px input
        ((1, 16, 128, 96), 1.25, 1),  # a feature map, not square (bench: shared_pass)
        ((1, 3, 100, 77), 3.0, 2),  # sides that no block size divides
        ((1, 3, 12, 12), 1.5, 1),  # one block
    ],
)
def test_banded_products_compute_the_direct_convolution(
    shape: tuple[int, ...], sigma: float, step: int
) -> None:
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(0))
    got, want = LowPass(sigma, step)(x), direct_convolution(x, sigma, step)
    assert got.shape == want.shape
    assert float((got - want).abs().max()) < 1e-6  # float32 summation order only


def test_blur_matrix_folds_the_reflected_taps_and_keeps_every_column_normalised() -> None:
    b = blur_matrix(40, 2.0, step=2)
    assert b.shape == (40, 20)
    assert np.allclose(b.sum(0), 1.0)  # a flat signal stays flat, borders included
    taps = gaussian_kernel(2.0).double().numpy()
    r = len(taps) // 2
    assert np.allclose(b[10 - r : 10 + r + 1, 5], taps)  # inside: the taps themselves
    # output 0 mirrors about sample 0: sample 1 gets the taps at -1 and +1
    assert b[1, 0] == pytest.approx(taps[r - 1] + taps[r + 1])
    assert b[0, 0] == pytest.approx(taps[r])


def test_a_side_shorter_than_the_radius_is_refused() -> None:
    with pytest.raises(InputError, match="needs a side longer than 10 px, got 8"):
        LowPass(2.5)(torch.rand(1, 3, 8, 64))


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


def test_the_graph_blurs_with_matrix_products_not_a_depthwise_convolution() -> None:
    """Why (latency): onnxruntime runs a depthwise Conv on 3 channels outside its blocked
    kernels; the banded MatMuls cost 0.50-0.63x of it (``docs/detection.md``, ninth session)."""

    class Wrap(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.low = LowPass(2.5)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            y = self.low(x)
            return y.mean((1, 2, 3)), y[:, 0]

    graph = onnx.load_from_string(export_onnx(Wrap().eval(), height=256, width=256))
    ops = {n.op_type for n in graph.graph.node}
    assert "MatMul" in ops
    assert not ops & {"Conv", "Pad"}
