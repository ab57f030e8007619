"""``bench/bench_int8.py``: folding BatchNorm into the convolution before quantization
changes no output beyond float32 rounding, and leaves a BatchNorm whose convolution's
output is read elsewhere as it is."""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench_int8
from lineguard.vision.export import onnx_session

onnx = pytest.importorskip("onnx", reason="the ONNX exporter needs the onnx package")


class _ConvBn(nn.Module):
    """Conv + BN (foldable), conv + BN whose conv output is also read elsewhere (not foldable)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.bn2 = nn.BatchNorm2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        z = self.conv2(y)
        return self.bn2(z) + z


def _exported() -> bytes:
    torch.manual_seed(0)
    model = _ConvBn().eval()
    for bn in (model.bn1, model.bn2):  # statistics away from the identity, so a wrong fold shows
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, 16, 16),),
            buffer,
            dynamo=False,
            opset_version=17,
            input_names=["image"],
            output_names=["out"],
            do_constant_folding=False,
        )
    return buffer.getvalue()


def _run(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    return np.asarray(onnx_session(model_bytes).run(None, {"image": x})[0])  # type: ignore[attr-defined]


def test_folding_batch_norm_keeps_the_outputs_and_skips_a_shared_conv_output() -> None:
    original = _exported()
    model = onnx.load_from_string(original)
    assert sum(n.op_type == "BatchNormalization" for n in model.graph.node) == 2

    folded = bench_int8.fold_batch_norms(model)

    # bn1 folds; bn2's conv output also feeds the Add, so folding would change that branch
    assert folded == 1
    assert [n.op_type for n in model.graph.node].count("BatchNormalization") == 1
    x = np.random.default_rng(1).random((1, 3, 16, 16), dtype=np.float32)
    before, after = _run(original, x), _run(model.SerializeToString(), x)
    assert np.abs(before - after).max() < 1e-5 * (1 + np.abs(before).max())
