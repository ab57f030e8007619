"""A plant's own feature extractor, supplied as an ONNX file.

Contract for the file: one float32 input ``[N, 3, H, W]`` (RGB, normalised with the
``mean`` / ``std`` given in the config, default ImageNet's), and one or more 4-D feature
map outputs ``[N, C, h, w]``, **ordered shallow to deep**; the sides of every map must be
divisible by 4 at the chosen input size (the global descriptor's 4x4 grid).

Training runs the file with onnxruntime to get features and fits the same head as for
the built-in backbones. Export then stitches three graphs into ONE package graph:
``image → (x - mean) / std → your backbone → LineGuard head``. The in-process pipeline
the package is checked against is "onnxruntime backbone + torch head", so the parity
check still proves that the exported head and the stitching are right.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lineguard.contracts.errors import InputError, ModelError
from lineguard.vision.backbones import BackboneSpec
from lineguard.vision.export import EXPORT_OPSET, MAX_IR_VERSION
from lineguard.vision.ort import import_onnxruntime, session_options

__all__ = ["OnnxBackbone", "export_with_onnx_backbone", "is_onnx_backbone"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def is_onnx_backbone(name: str) -> bool:
    return name.lower().endswith(".onnx")


class OnnxBackbone(nn.Module):
    """Callable like :class:`~lineguard.vision.backbones.Backbone`, running the file in onnxruntime."""

    def __init__(
        self,
        path: Path | str,
        *,
        image_size: int,
        mean: tuple[float, float, float] = IMAGENET_MEAN,
        std: tuple[float, float, float] = IMAGENET_STD,
        threads: int | None = None,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        if not self.path.is_file():
            msg = f"backbone file {self.path} does not exist"
            raise ModelError(msg)
        self.model_bytes = self.path.read_bytes()
        self.spec = BackboneSpec(f"onnx:{self.path.name}", mean, std, "RGB", ())
        ort = import_onnxruntime()
        options = session_options(intra_op_threads=threads or None, inter_op_threads=None)
        try:
            self.session = ort.InferenceSession(self.model_bytes, options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            msg = f"{self.path}: onnxruntime cannot load this backbone: {exc}"
            raise ModelError(msg) from exc
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            msg = f"{self.path}: a backbone needs exactly one [N, 3, H, W] input, has {len(inputs)}"
            raise ModelError(msg)
        self.input_name = inputs[0].name
        static = [d for d in inputs[0].shape[2:] if isinstance(d, int)]
        if static and any(d != image_size for d in static):
            msg = f"{self.path}: backbone input is fixed at {inputs[0].shape}, but image_size is {image_size}"
            raise InputError(msg)
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.mean = np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        normed = ((x.detach().numpy() - self.mean) / self.std).astype(np.float32)
        outs = self.session.run(self.output_names, {self.input_name: normed})
        feats = [torch.from_numpy(np.asarray(o, dtype=np.float32)) for o in outs]
        for name, f in zip(self.output_names, feats, strict=True):
            if f.ndim != 4 or f.shape[-1] % 4 or f.shape[-2] % 4:
                msg = f"{self.path}: output {name!r} is {tuple(f.shape)}; need [N, C, h, w], h and w % 4 == 0"
                raise ModelError(msg)
        return feats


class _HeadOnly(nn.Module):
    def __init__(self, head: nn.Module, count: int) -> None:
        super().__init__()
        self.head = head
        self.count = count

    def forward(self, *feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(list(feats))  # type: ignore[no-any-return]


def _normaliser(mean: np.ndarray, std: np.ndarray, out_name: str) -> Any:
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("Sub", ["image", "lg_mean"], ["lg_centered"]),
            helper.make_node("Div", ["lg_centered", "lg_std"], [out_name]),
        ],
        "lineguard_normalise",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", 3, "H", "W"])],
        initializer=[numpy_helper.from_array(mean, "lg_mean"), numpy_helper.from_array(std, "lg_std")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", EXPORT_OPSET)])


def export_with_onnx_backbone(backbone: OnnxBackbone, head: nn.Module, *, size: int) -> bytes:
    """One graph: normalisation + the user's backbone + the exported head."""
    import onnx
    from onnx import compose, version_converter

    with torch.no_grad():
        feats = backbone(torch.zeros(1, 3, size, size))
    names = [f"lg_feat_{i}" for i in range(len(feats))]
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _HeadOnly(head, len(feats)),
            tuple(feats),
            buffer,  # type: ignore[arg-type]  # file-like objects are accepted
            dynamo=False,
            opset_version=EXPORT_OPSET,
            input_names=names,
            output_names=["anomaly_score", "anomaly_map"],
            dynamic_axes={**{n: {0: "N"} for n in names}, "anomaly_score": {0: "N"}, "anomaly_map": {0: "N"}},
            do_constant_folding=False,  # keep the packed statistics packed (see export.export_onnx)
        )
    head_model = onnx.load_from_string(buffer.getvalue())
    user = onnx.load_from_string(backbone.model_bytes)
    user_opset = next((o.version for o in user.opset_import if o.domain in {"", "ai.onnx"}), EXPORT_OPSET)
    if user_opset != EXPORT_OPSET:
        try:
            user = version_converter.convert_version(user, EXPORT_OPSET)
        except Exception as exc:
            msg = f"{backbone.path}: cannot convert the backbone from opset {user_opset} to {EXPORT_OPSET}"
            raise ModelError(msg) from exc
    user = compose.add_prefix(user, "user_")
    norm = _normaliser(backbone.mean, backbone.std, "lg_normalised")
    for m in (norm, user, head_model):
        m.ir_version = min(m.ir_version or MAX_IR_VERSION, 8)
    front = compose.merge_models(norm, user, io_map=[("lg_normalised", "user_" + backbone.input_name)])
    merged = compose.merge_models(
        front,
        head_model,
        io_map=[("user_" + o, n) for o, n in zip(backbone.output_names, names, strict=True)],
        outputs=["anomaly_score", "anomaly_map"],
    )
    onnx.checker.check_model(merged)
    return bytes(merged.SerializeToString())
