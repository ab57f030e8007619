"""INT8 backbone against the float graph of one package: accuracy, agreement, CPU per inference.

    .venv/bin/python bench/bench_int8.py --package PKG --out DIR            # magnetic tile's test set
    .venv/bin/python bench/bench_int8.py --package PKG --out DIR --format qoperator --calibration 64
    .venv/bin/python bench/bench_int8.py --package PKG --out DIR --ops Conv     # convolutions only

#24 asks for p99 <= 10 ms at 256x256 on 2 threads; the float graph runs MobileNetV2 twice
(``docs/detection.md``). This measures static INT8 quantization of the backbone with
onnxruntime's own tool, the one lever the fifth and sixth sessions left untried:

1. every ``BatchNormalization`` after a ``Conv`` folded into it (float64, then float32): the
   exporter keeps them (``export.export_onnx`` does not fold, to keep the float16 statistics
   packed) and a quantized ``Conv`` followed by a float ``BatchNormalization`` would not fuse;
2. ``quantize_static`` on the backbone's ``--ops`` (default ``Conv,Clip,Add``: the whole
   chain, so no float ReLU6 or residual sum sits between two quantized convolutions --
   with ``Conv`` alone the graph costs more CPU than float, #24 seventh session), weights
   int8 per channel, activations uint8 calibrated (min/max) on ``--calibration`` training
   goods; the low-pass convolution of the image stays float, and so does the head
   (Gaussian statistics, whitening, smoothing, fusion: no op of those types);
3. both graphs score the dataset's test images: image AUROC, recall at 1 % false rejects,
   and the int8 graph's agreement with the float one (max and median |score difference|,
   Spearman rank correlation) -- parity to 1e-4 against torch cannot hold for an int8
   graph, so agreement is stated in those terms instead;
4. CPU per inference and graph wall time, the two packages interleaved in one process
   (``bench_detection.latency_pair``), so the ratio survives a loaded machine.

The int8 graph is written as a package (``DIR/pkg-int8``, the float package's metadata:
its threshold and standardisation were fitted on the float graph) for
``bench_detection.py --latency-only DIR/pkg-int8 --baseline PKG`` on a quiet machine; it is
a bench artefact, not something to deploy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_detection import DEFAULT_DATA, latency_pair  # noqa: E402
from lineguard.vision.dataset import scan_dataset  # noqa: E402
from lineguard.vision.metrics import auroc  # noqa: E402
from lineguard.vision.ort import (  # noqa: E402
    import_onnxruntime,
    import_onnxruntime_quantization,
    session_options,
)
from lineguard.vision.package import load_package, save_package  # noqa: E402
from lineguard.vision.preprocess import read_image  # noqa: E402
from lineguard.vision.runtime import OnnxModelRunner  # noqa: E402


def fold_batch_norms(model: Any) -> int:
    """Fold each ``BatchNormalization`` fed by a ``Conv`` (its only consumer) into that ``Conv``, in place."""
    from onnx import numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, int] = {}
    for n in graph.node:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    folded = []
    for bn in [n for n in graph.node if n.op_type == "BatchNormalization"]:
        conv = producer.get(bn.input[0])
        if conv is None or conv.op_type != "Conv" or consumers[conv.output[0]] != 1:
            continue
        if conv.input[1] not in inits or not all(x in inits for x in bn.input[1:5]):
            continue
        eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
        gamma, beta, mean, var = (numpy_helper.to_array(inits[x]).astype(np.float64) for x in bn.input[1:5])
        weight = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float64)
        bias = (
            numpy_helper.to_array(inits[conv.input[2]]).astype(np.float64)
            if len(conv.input) > 2
            else np.zeros(weight.shape[0])
        )
        scale = gamma / np.sqrt(var + eps)
        w_name, b_name = f"{bn.output[0]}_folded_W", f"{bn.output[0]}_folded_B"
        graph.initializer.extend(
            [
                numpy_helper.from_array((weight * scale[:, None, None, None]).astype(np.float32), w_name),
                numpy_helper.from_array(((bias - mean) * scale + beta).astype(np.float32), b_name),
            ]
        )
        source = conv.input[0]
        del conv.input[:]
        conv.input.extend([source, w_name, b_name])
        del conv.output[:]
        conv.output.extend([bn.output[0]])
        folded.append(bn)
    for bn in folded:
        graph.node.remove(bn)
    used = {i for n in graph.node for i in n.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return len(folded)


def quantize(
    package: Path,
    out_dir: Path,
    calibration: list[np.ndarray],
    *,
    fmt: str,
    reduce_range: bool,
    ops: list[str],
) -> tuple[Path, int, float]:
    """(int8 model path, batch norms folded, seconds) for the package's graph."""
    import onnx

    quant = import_onnxruntime_quantization()

    model = onnx.load_from_string(load_package(package).model_bytes)
    folded = fold_batch_norms(model)
    float_path = out_dir / "float-folded.onnx"
    onnx.save(model, str(float_path))
    # Only the trunk (``/backbone/...`` on the low-passed image: the backbone's own call;
    # ``/stem``, ``/blocks.*`` on the image: ``Backbone.features``, which the tracer does not
    # scope) is quantized: the low-pass itself (``/global_input/...``, matrix products since
    # #24's ninth session) and the head's own ``Clip`` and ``Add`` (distances clamped at 0,
    # the lifted map) stay float.
    trunk = re.compile(r"^/(backbone/)?(stem|blocks\.)")
    keep_float = [n.name for n in model.graph.node if n.op_type in ops and not trunk.match(n.name)]

    class Reader(quant.CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._it = iter([{"image": t} for t in calibration])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._it, None)

    out = out_dir / f"int8-{fmt}.onnx"
    t0 = time.perf_counter()
    quant.quantize_static(
        str(float_path),
        str(out),
        Reader(),
        quant_format=quant.QuantFormat.QDQ if fmt == "qdq" else quant.QuantFormat.QOperator,
        op_types_to_quantize=ops,
        nodes_to_exclude=keep_float,
        per_channel=True,
        reduce_range=reduce_range,
        activation_type=quant.QuantType.QUInt8,
        weight_type=quant.QuantType.QInt8,
        calibrate_method=quant.CalibrationMethod.MinMax,
        extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
    )
    return out, folded, time.perf_counter() - t0


def test_scores(model_path: Path, tensors: np.ndarray, threads: int) -> np.ndarray:
    ort = import_onnxruntime()
    options = session_options(intra_op_threads=threads)
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    return np.concatenate(
        [
            np.asarray(session.run(None, {"image": tensors[k : k + 16]})[0]).reshape(-1)
            for k in range(0, len(tensors), 16)
        ]
    )


def accuracy(scores: np.ndarray, labels: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    threshold = np.quantile(scores[~labels], 0.99)

    def ranks(a: np.ndarray) -> np.ndarray:
        return np.argsort(np.argsort(a))

    diff = np.abs(scores - reference)
    return {
        "image_auroc": auroc(labels.tolist(), scores.tolist()),
        "recall_at_1pct_frr": float((scores[labels] > threshold).mean()),
        "max_abs_score_diff_vs_float": float(diff.max()),
        "median_abs_score_diff_vs_float": float(np.median(diff)),
        "spearman_vs_float": float(np.corrcoef(ranks(scores), ranks(reference))[0, 1]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--package", type=Path, required=True, help="a trained float package")
    parser.add_argument("--out", type=Path, required=True, help="folder for the graphs and pkg-int8")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--calibration", type=int, default=32, help="training goods to calibrate on")
    parser.add_argument("--format", default="qdq", choices=["qdq", "qoperator"])
    parser.add_argument("--ops", default="Conv,Clip,Add", help="operator types to quantize")
    parser.add_argument("--reduce-range", action="store_true", help="7-bit weights (AVX2 saturation)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=100, help="latency iterations, interleaved")
    args = parser.parse_args()
    if not (args.package / "model.onnx").is_file():
        print(f"no package at {args.package}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    runner = OnnxModelRunner(args.package, threads=args.threads, providers=["cpu"])
    dataset = scan_dataset(args.data, require_test=True)
    goods = sorted(dataset.train_good)
    pick = np.random.default_rng(0).choice(len(goods), min(args.calibration, len(goods)), replace=False)
    calibration = [runner.prepare(read_image(goods[i])) for i in sorted(pick)]
    print(f"quantizing ({args.format}, {len(calibration)} calibration images) ...", flush=True)
    int8_path, folded, quant_s = quantize(
        args.package,
        args.out,
        calibration,
        fmt=args.format,
        reduce_range=args.reduce_range,
        ops=args.ops.split(","),
    )
    package = load_package(args.package)
    int8_package = args.out / "pkg-int8"
    save_package(
        int8_package,
        model_bytes=int8_path.read_bytes(),
        metadata=package.metadata.model_copy(update={"model_id": f"{package.metadata.model_id}-int8"}),
        overwrite=True,
    )
    print("scoring the test images with the float, folded and int8 graphs ...", flush=True)
    labels = np.array([item.is_defect for item in dataset.test])
    tensors = np.concatenate([runner.prepare(read_image(item.path)) for item in dataset.test])
    reference = test_scores(args.package / "model.onnx", tensors, args.threads)
    figures: dict[str, Any] = {
        "package": str(args.package),
        "format": args.format,
        "ops": args.ops,
        "reduce_range": args.reduce_range,
        "calibration_images": len(calibration),
        "batch_norms_folded": folded,
        "quantize_s": quant_s,
        "model_mb": {
            "float": (args.package / "model.onnx").stat().st_size / 1e6,
            "int8": int8_path.stat().st_size / 1e6,
        },
        "float": accuracy(reference, labels, reference),
        "float_folded": accuracy(
            test_scores(args.out / "float-folded.onnx", tensors, args.threads), labels, reference
        ),
        "int8": accuracy(test_scores(int8_path, tensors, args.threads), labels, reference),
    }
    print(f"latency: int8 against float, interleaved, {args.runs} runs ...", flush=True)
    figures["latency"] = latency_pair(int8_package, args.package, args.threads, args.runs)
    figures["load_average_1min"] = os.getloadavg()[0]
    (args.out / "int8.json").write_text(json.dumps(figures, indent=2) + "\n")
    for name in ("float", "float_folded", "int8"):
        f = figures[name]
        print(
            f"{name:<13} image AUROC {f['image_auroc']:.4f}  recall@1%FRR {f['recall_at_1pct_frr']:.3f}  "
            f"|diff| max {f['max_abs_score_diff_vs_float']:.2e} "
            f"median {f['median_abs_score_diff_vs_float']:.2e}  "
            f"Spearman {f['spearman_vs_float']:.4f}"
        )
    lat = figures["latency"]
    print(
        f"int8 / float: CPU {lat['cpu_ratio_package_over_baseline']:.3f}, graph median "
        f"{lat['graph_median_ratio_package_over_baseline']:.3f}, "
        f"p99 {lat['graph_p99_ratio_package_over_baseline']:.3f} "
        f"(load {figures['load_average_1min']:.1f}); figures: {args.out / 'int8.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
