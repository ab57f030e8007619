"""Exporting the in-process detector to ONE ONNX graph, and proving the two agree.

torch 2.13's default exporter (``dynamo=True``) needs ``onnxscript``, which LineGuard
does not install; the TorchScript exporter (``dynamo=False``) handles this graph
(convolutions, matmuls, resize, reflect padding) and writes IR 8 / opset 17, both
within what onnxruntime 1.31 accepts (IR <= 13, opset <= 26).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from torch import nn

from lineguard.contracts.errors import ModelError
from lineguard.vision.ort import import_onnxruntime, session_options

__all__ = [
    "EXPORT_OPSET",
    "MAX_IR_VERSION",
    "OUTPUT_NAMES",
    "OnnxFeatures",
    "export_onnx",
    "onnx_session",
    "parity",
]

EXPORT_OPSET = 17
MAX_IR_VERSION = 13


#: Output names of the graph, in the order the module returns them (the third only with classes).
OUTPUT_NAMES = ("anomaly_score", "anomaly_map", "region_features")


def export_onnx(module: nn.Module, *, height: int, width: int, outputs: int = 2) -> bytes:
    """``module(image [N,3,H,W]) → (score [N], map [N,H,W][, region features [N,C,h,w]])`` as ONNX
    bytes (batch dimension dynamic)."""
    # Folding here would expand the packed float16 statistics to float32 in the file (4x
    # the size); onnxruntime folds them when it loads the graph instead.
    traced = _traced(module, height, width, list(OUTPUT_NAMES[:outputs]), fold=False)
    import onnx

    model = onnx.load_from_string(traced)
    if model.ir_version > MAX_IR_VERSION:
        model.ir_version = MAX_IR_VERSION
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def _traced(module: nn.Module, height: int, width: int, names: list[str], *, fold: bool) -> bytes:
    """``module`` traced on one ``[1, 3, height, width]`` image, batch dimension dynamic."""
    module.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice and tracer hints
        torch.onnx.export(
            module,
            (torch.zeros(1, 3, height, width),),
            buffer,  # type: ignore[arg-type]  # file-like objects are accepted
            dynamo=False,
            opset_version=EXPORT_OPSET,
            input_names=["image"],
            output_names=names,
            dynamic_axes={"image": {0: "N"}, **{n: {0: "N"} for n in names}},
            do_constant_folding=fold,
        )
    return buffer.getvalue()


class OnnxFeatures:
    """A built-in backbone exported on its own and run in onnxruntime: training's feature
    extractor (``train.fit_detector``).

    torch's eager CPU kernels spend ~11x the CPU of onnxruntime on MobileNetV2's
    depthwise convolutions (218 against 19 ms per 256-px image, measured side by side,
    ``docs/detection.md``), and the backbone's forward passes are most of training. The
    features differ from torch's by about 2e-5 (float32 summation order); the package's
    graph runs in onnxruntime too, so the statistics are fitted on what it computes.
    """

    def __init__(self, backbone: nn.Module, *, size: int, outputs: int, threads: int | None = None) -> None:
        names = [f"feature_{i}" for i in range(outputs)]
        self.session = onnx_session(_traced(backbone, size, size, names, fold=True), threads=threads)

    def __call__(self, image: torch.Tensor) -> list[torch.Tensor]:
        outs = self.session.run(None, {"image": image.numpy()})  # type: ignore[attr-defined]
        return [torch.from_numpy(np.asarray(o, dtype=np.float32)) for o in outs]


def onnx_session(model_bytes: bytes, *, threads: int | None = None) -> object:
    options = session_options(intra_op_threads=threads or None)
    return import_onnxruntime().InferenceSession(
        model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
    )


def parity(
    module: nn.Module, model_bytes: bytes, batches: list[np.ndarray], *, tolerance: float = 1e-4
) -> tuple[float, float]:
    """Max |ONNX - torch| over (scores, maps) on the given input batches; raises past ``tolerance``.

    Scores must agree within ``tolerance``; maps and region features (many more values,
    each a sum of the same float32 terms in another order) within ``10 * tolerance``.
    """
    session = onnx_session(model_bytes)
    worst_score = worst_map = 0.0
    with torch.no_grad():
        for batch in batches:
            t_out = module(torch.from_numpy(batch))
            o_out = session.run(None, {"image": batch})  # type: ignore[attr-defined]
            worst_score = max(worst_score, float(np.abs(t_out[0].numpy() - o_out[0]).max()))
            for t, o in zip(t_out[1:], o_out[1:], strict=True):
                worst_map = max(worst_map, float(np.abs(t.numpy() - o).max()))
    if worst_score > tolerance or worst_map > 10 * tolerance:
        msg = (
            f"exported ONNX graph disagrees with the in-process model: max score difference "
            f"{worst_score:.2e} (allowed {tolerance:.0e}), max map/feature difference {worst_map:.2e}"
        )
        raise ModelError(msg)
    return worst_score, worst_map
