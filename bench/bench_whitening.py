"""The local branch's whitening product alone, in onnxruntime: one product against column blocks.

    .venv/bin/python bench/bench_whitening.py --runs 60            # 2 threads
    .venv/bin/python bench/bench_whitening.py --runs 60 --threads 1

Per position ``p`` of the 32 x 32 grid the head computes ``|(x_p - mean_p) L_p|`` with
``L_p`` a 128 x 128 lower-triangular factor (``scoring._whitened_distance``): at batch 1,
1,024 products of ``1 x 128`` by ``128 x 128``, 64 MiB of float32 factors. Variants, each
one small ONNX graph over the same random factors, timed interleaved in one process
(idle threads sleep, so one session's spinning is not billed to the next):

* ``cols k``: the full matrix in ``k`` column blocks (the same bytes, narrower products);
* ``tri k``: column blocks of the triangle, each from its first row down (what the head
  does with ``k = scoring.WHITENING_BLOCKS``): ``(1 + 1/k) / 2`` of the bytes.

Prints CPU and wall medians and the CPU ratio to the one product (``cols 1``, what the
graph did before), with the load average; every variant's result is checked against it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lineguard.vision.ort import import_onnxruntime, session_options  # noqa: E402

POSITIONS, CHANNELS = 1024, 128


def whitening_graph(factor: np.ndarray, mean: np.ndarray, blocks: int, *, triangle: bool) -> bytes:
    """``y = sum over columns of ((x - mean) @ L)²`` with the product split into ``blocks`` column blocks."""
    from onnx import TensorProto, helper, numpy_helper

    p, c = mean.shape
    width = c // blocks
    inits: dict[str, np.ndarray] = {"mean": mean[:, None, :], "axis": np.array([-1], np.int64)}
    nodes = [helper.make_node("Sub", ["x", "mean"], ["d"])]
    outs = []
    for b in range(blocks):
        first = b * width if triangle else 0
        rows = "d"
        if first:
            inits[f"start{b}"], inits[f"end{b}"] = np.array([first], np.int64), np.array([c], np.int64)
            nodes.append(helper.make_node("Slice", ["d", f"start{b}", f"end{b}", "axis"], [f"d{b}"]))
            rows = f"d{b}"
        inits[f"L{b}"] = np.ascontiguousarray(factor[:, first:, b * width : (b + 1) * width])
        nodes.append(helper.make_node("MatMul", [rows, f"L{b}"], [f"y{b}"]))
        outs.append(f"y{b}")
    nodes += [
        helper.make_node("Concat", outs, ["yy"], axis=-1),
        helper.make_node("Mul", ["yy", "yy"], ["sq"]),
        helper.make_node("ReduceSum", ["sq", "axis"], ["y"], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "whitening",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [p, 1, c])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(a, n) for n, a in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    ort = import_onnxruntime()
    rng = np.random.default_rng(0)
    factor = np.tril(rng.standard_normal((POSITIONS, CHANNELS, CHANNELS))).astype(np.float32)
    mean = rng.standard_normal((POSITIONS, CHANNELS)).astype(np.float32)
    x = rng.standard_normal((POSITIONS, 1, CHANNELS)).astype(np.float32)
    variants = [("cols", 1, False)] + [(n, k, n == "tri") for k in (2, 4, 8, 16) for n in ("cols", "tri")]
    sessions = {}
    for name, blocks, triangle in variants:
        options = session_options(
            intra_op_threads=args.threads, config={"session.intra_op.allow_spinning": "0"}
        )
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        graph = whitening_graph(factor, mean, blocks, triangle=triangle)
        sessions[f"{name} {blocks}"] = ort.InferenceSession(
            graph, options, providers=["CPUExecutionProvider"]
        )
    reference = sessions["cols 1"].run(None, {"x": x})[0]
    for name, session in sessions.items():
        got = session.run(None, {"x": x})[0]
        worst = float(np.abs(got - reference).max() / np.abs(reference).max())
        if worst > 1e-5:
            print(f"{name}: differs from the one product by {worst:.1e} (relative)", file=sys.stderr)
            return 1
    cpu: dict[str, list[float]] = {n: [] for n in sessions}
    wall: dict[str, list[float]] = {n: [] for n in sessions}
    order = list(sessions)
    for i in range(args.runs):
        for name in order if i % 2 else order[::-1]:
            t0, c0 = time.perf_counter(), time.process_time()
            sessions[name].run(None, {"x": x})
            wall[name].append((time.perf_counter() - t0) * 1000)
            cpu[name].append((time.process_time() - c0) * 1000)
    base = float(np.median(cpu["cols 1"]))
    print(f"{POSITIONS} positions x {CHANNELS}x{CHANNELS} factors, {args.threads} threads, {args.runs} runs")
    for name in sessions:
        c, w = float(np.median(cpu[name])), float(np.median(wall[name]))
        print(f"  {name:8s} CPU {c:6.2f} ms  wall {w:6.2f} ms  CPU ratio {c / base:.2f}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
