"""What the nearest-labelled-defect-patch score costs per inference (#24 item 2, eleventh session).

    nice .venv/bin/python bench/few_shot_latency.py --runs 300          # M = 80, 400, 800 prototypes

One detector is fitted at 256 x 256 on the synthetic test line (``tests/support``: the
statistics' values do not change the graph's work), exported as shipped (zero-shot) and
with ``M`` prototypes (5 defect types x k labelled images x 16 cells: k = 1, 5, 10), and
every graph is run through onnxruntime, batch 1, ``--threads`` threads, the runs
interleaved so that the ratios to the zero-shot graph survive a loaded machine: the CPU
time of the process per inference (median) and the wall time (median, p99), with the
load average. The package size is the ONNX file's.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from tests.support.synthetic_parts import write_synthetic_dataset  # noqa: E402

from lineguard.vision.dataset import scan_dataset  # noqa: E402
from lineguard.vision.defectproto import DefectPrototypes, prototype_cells  # noqa: E402
from lineguard.vision.export import export_onnx, parity  # noqa: E402
from lineguard.vision.ort import import_onnxruntime  # noqa: E402
from lineguard.vision.train import TrainConfig, fit_detector, load_inputs, split_holdout  # noqa: E402

SIZE = 256


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prototypes", default="80,400,800", help="prototype counts M, comma-separated")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()} on {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = write_synthetic_dataset(Path(tmp) / "parts")
        ds = scan_dataset(root)
        fit, hold = split_holdout(root, ds.train_good, 0.15)
        config = TrainConfig(image_size=SIZE, threads=args.threads, few_shot=False)
        zero = fit_detector(fit, hold, config).detector
        defects = [i.path for i in ds.test if i.is_defect]
        with torch.no_grad():
            emb, _ = zero.head.image_parts(zero.backbone, torch.from_numpy(load_inputs(defects, SIZE)))
            resid = zero.head.local_residual(emb).permute(1, 0, 2).numpy()
        cells = prototype_cells(resid, cap=resid.shape[1]).vectors  # every cell: draw M of them
        rng = np.random.default_rng(24)
        graphs = {"zero-shot": export_onnx(zero, height=SIZE, width=SIZE)}
        batch = load_inputs([*hold[:4], *defects[:4]], SIZE)
        for m in (int(v) for v in args.prototypes.split(",")):
            detector = copy.deepcopy(zero)
            chosen = cells[rng.choice(len(cells), size=m, replace=False)]
            head = detector.head
            head.set_prototypes(*DefectPrototypes(chosen, np.zeros(m)).tensors())
            with torch.no_grad():  # standardised as training does, on the held-out goods' peaks
                h_emb, _ = head.image_parts(detector.backbone, torch.from_numpy(load_inputs(hold, SIZE)))
                peaks = head.prototype_peak(head.local_residual(h_emb), h_emb).double().numpy()
            head.set_prototype_score((float(peaks.mean()), max(float(peaks.std()), 1e-6)), "sum", 0.5)
            graphs[f"M={m}"] = export_onnx(detector, height=SIZE, width=SIZE)
            score_diff, map_diff = parity(detector, graphs[f"M={m}"], [batch, batch[:1]])
            print(f"  M={m}: ONNX vs torch score {score_diff:.2e}, map {map_diff:.2e}", flush=True)
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    sessions = {
        k: ort.InferenceSession(g, options, providers=["CPUExecutionProvider"]) for k, g in graphs.items()
    }
    x = np.random.default_rng(0).random((1, 3, SIZE, SIZE), np.float32)
    name = sessions["zero-shot"].get_inputs()[0].name
    for s in sessions.values():
        for _ in range(10):
            s.run(None, {name: x})
    wall: dict[str, list[float]] = {k: [] for k in sessions}
    cpu: dict[str, list[float]] = {k: [] for k in sessions}
    order = list(sessions)
    for i in range(args.runs):
        for k in order if i % 2 else order[::-1]:
            t0, c0 = time.perf_counter(), time.process_time()
            sessions[k].run(None, {name: x})
            wall[k].append((time.perf_counter() - t0) * 1000)
            cpu[k].append((time.process_time() - c0) * 1000)
    base_cpu, base_wall = np.median(cpu["zero-shot"]), np.median(wall["zero-shot"])
    for k in sessions:
        print(
            f"  {k:9s}: CPU {np.median(cpu[k]):6.1f} ms/inference ({np.median(cpu[k]) / base_cpu:.3f}x), "
            f"wall median {np.median(wall[k]):6.1f} ms ({np.median(wall[k]) / base_wall:.3f}x) p99 "
            f"{np.percentile(wall[k], 99):6.1f} ms, graph {len(graphs[k]) / 1e6:.2f} MB",
            flush=True,
        )
    print(f"{args.runs} interleaved runs, {args.threads} threads; load average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
