"""A plant's own ONNX feature extractor: trained on, stitched into one graph, parity-checked."""

from __future__ import annotations

import io
import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lineguard.contracts.errors import InputError, ModelError
from lineguard.vision.backbones import build_backbone
from lineguard.vision.evaluate import evaluate_package
from lineguard.vision.package import load_package
from lineguard.vision.train import train_package
from tests.unit.vision.conftest import FAST

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


class _Raw(torch.nn.Module):
    """MobileNetV2's first stages without LineGuard's normalisation: what a user would export."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = build_backbone("mobilenet-v2", layers=(2, 5), image_size=128)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.inner.stem(x)
        outs = []
        for i, block in enumerate(self.inner.blocks):
            x = block(x)
            if i in (2, 5):
                outs.append(x)
        return outs[0], outs[1]


def _export(path: Path, *, dynamic: bool = True, opset: int = 17) -> Path:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Raw().eval(),
            (torch.zeros(1, 3, 128, 128),),
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=["pixels"],
            output_names=["stride4", "stride8"],
            dynamic_axes={"pixels": {0: "batch"}} if dynamic else None,
        )
    path.write_bytes(buffer.getvalue())
    return path


def test_user_backbone_trains_into_one_graph(synthetic_dataset: Path, tmp_path: Path) -> None:
    backbone = _export(tmp_path / "my-backbone.onnx", opset=16)
    result = train_package(synthetic_dataset, tmp_path / "pkg", config=replace(FAST, backbone=str(backbone)))
    meta = load_package(result.package.path).metadata
    assert meta.backbone == "onnx:my-backbone.onnx"
    assert meta.evaluation.parity_max_abs_diff is not None and meta.evaluation.parity_max_abs_diff <= 1e-4
    report = evaluate_package(result.package.path, synthetic_dataset, threads=1)
    assert report.image_auroc >= 0.9
    assert np.isfinite(report.threshold)


def test_missing_or_mismatched_backbone_is_refused(synthetic_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        train_package(
            synthetic_dataset, tmp_path / "a", config=replace(FAST, backbone=str(tmp_path / "x.onnx"))
        )
    fixed = _export(tmp_path / "fixed.onnx", dynamic=False)
    with pytest.raises(InputError, match="image_size is 256"):
        train_package(
            synthetic_dataset, tmp_path / "b", config=replace(FAST, backbone=str(fixed), image_size=256)
        )


def test_labelled_defect_folders_with_a_user_backbone_are_refused_before_fitting(
    synthetic_dataset: Path, tmp_path: Path
) -> None:
    root = tmp_path / "parts"
    shutil.copytree(synthetic_dataset, root)
    shutil.copytree(synthetic_dataset / "test" / "hole", root / "train" / "hole")
    backbone = _export(tmp_path / "my-backbone.onnx")
    with pytest.raises(InputError, match=r"train holds labelled defects \(hole\).*built-in backbone"):
        train_package(root, tmp_path / "pkg", config=replace(FAST, backbone=str(backbone)))
    assert not (tmp_path / "pkg").exists()
