"""Test helpers other components rely on: a real, tiny model package built without torch.

:func:`build_tiny_package` writes a valid package (a few hundred bytes of ONNX) in
milliseconds: its graph scores an image by the mean absolute deviation of each pixel
from a constant gray level, so a uniform part at that level scores 0 and any blob of a
different brightness lights up the map exactly where it is. Edge-node and registry
tests use it instead of training a model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lineguard.vision.package import (
    InputSpec,
    ModelMetadata,
    ModelPackage,
    ThresholdSpec,
    TrainingDataSpec,
    save_package,
    sha256_hex,
)

__all__ = ["TINY_IR_VERSION", "TINY_OPSET", "build_tiny_onnx", "build_tiny_package"]

#: onnxruntime 1.31 accepts IR <= 13 and opset <= 26; onnx's defaults are newer.
TINY_IR_VERSION = 8
TINY_OPSET = 17


def build_tiny_onnx(*, width: int = 64, height: int = 64, gray_level: float = 0.5) -> bytes:
    """Graph: image [N,3,H,W] in [0,1] → anomaly_map = mean_c |x - gray| [N,H,W], score = max [N]."""
    from onnx import TensorProto, helper, numpy_helper

    reference = numpy_helper.from_array(np.full((1, 3, 1, 1), gray_level, dtype=np.float32), "reference")
    nodes = [
        helper.make_node("Sub", ["image", "reference"], ["diff"]),
        helper.make_node("Abs", ["diff"], ["absdiff"]),
        helper.make_node("ReduceMean", ["absdiff"], ["anomaly_map"], axes=[1], keepdims=0),
        helper.make_node("ReduceMax", ["anomaly_map"], ["anomaly_score"], axes=[1, 2], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "lineguard_tiny_mad",
        inputs=[helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, height, width])],
        outputs=[
            helper.make_tensor_value_info("anomaly_score", TensorProto.FLOAT, ["N"]),
            helper.make_tensor_value_info("anomaly_map", TensorProto.FLOAT, ["N", height, width]),
        ],
        initializer=[reference],
    )
    model = helper.make_model(
        graph,
        producer_name="lineguard.vision.testing",
        opset_imports=[helper.make_opsetid("", TINY_OPSET)],
    )
    model.ir_version = TINY_IR_VERSION
    return bytes(model.SerializeToString())


def build_tiny_package(
    directory: Path | str,
    *,
    threshold: float = 0.25,
    model_id: str = "tiny-test-model",
    width: int = 64,
    height: int = 64,
    gray_level: float = 0.5,
    overwrite: bool = False,
) -> ModelPackage:
    """Write a small, valid package to ``directory`` (see the module docstring)."""
    model_bytes = build_tiny_onnx(width=width, height=height, gray_level=gray_level)
    metadata = ModelMetadata(
        model_id=model_id,
        method="tiny-mad",
        backbone="none",
        model_sha256=sha256_hex(model_bytes),
        input=InputSpec(width=width, height=height, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)),
        threshold=ThresholdSpec(value=threshold, method="manual", note="test package"),
        training_data=TrainingDataSpec(
            sha256=sha256_hex(b""), image_count=0, description="none: a fixed test graph"
        ),
    )
    return save_package(directory, model_bytes=model_bytes, metadata=metadata, overwrite=overwrite)
