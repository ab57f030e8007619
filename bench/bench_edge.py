"""Edge node throughput and latency: 1 and 4 cameras at 1280x720, the whole pipeline.

Runs the real node in-process (capture → privacy zones → ROI → ONNX inference →
decide → outbox with fsync → sender to an in-memory server; evidence redacted with the
packaged person redactor and sealed with AES-256-GCM in its own worker) on the
synthetic line, paced at the camera's frame rate, and reports:

* sustained inspected frames/s and drops per camera;
* end-to-end latency p50 / p99, frame arrival → event committed in the outbox;
* evidence latency p99, frame queued → redacted, encrypted, signed object on disk,
  plus evidence frames dropped when redaction cannot keep up;
* bare model inference p50 on the same crops, measured in the same run, and the ratio
  of end-to-end time to it (the pipeline's overhead).

Usage::

    python bench/bench_edge.py                      # tiny test package, 20 s per scenario
    python bench/bench_edge.py --model PKG_DIR      # a trained package from `lineguard model train`
    python bench/bench_edge.py --seconds 60 --fps 30 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("LINEGUARD_EDGE_KEK_PASSPHRASE", "bench-only-passphrase-0001")

from lineguard.config.edge import EdgeConfig, SyntheticSource
from lineguard.crypto import KdfParams
from lineguard.edge.app import EdgeNode
from lineguard.edge.capture import SyntheticLine
from lineguard.edge.outbox import MemoryIngestServer, MemoryTransport
from lineguard.vision.runtime import OnnxModelRunner


def _bare_inference_ms(model: Path, roi: Any, n: int = 200) -> tuple[float, float]:
    runner = OnnxModelRunner(model, threads=1)
    line = SyntheticLine("bench", SyntheticSource(type="synthetic", seed=9), realtime=False)
    crops = [line.render(i)[roi.y : roi.y + roi.height, roi.x : roi.x + roi.width] for i in range(16)]
    for c in crops:
        runner.infer(c)
    times = []
    for i in range(n):
        t = time.perf_counter_ns()
        runner.infer(crops[i % len(crops)])
        times.append((time.perf_counter_ns() - t) / 1e6)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def run_scenario(
    model: Path, cameras: int, seconds: float, fps: float, threshold: float | None, redactor: str
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        probe = SyntheticLine("x", SyntheticSource(type="synthetic"), realtime=False)
        roi = probe.part_roi()
        cams = [
            {
                "camera_id": f"cam-{i}",
                "station_id": f"st-{i}",
                "source": {
                    "type": "synthetic",
                    "width": 1280,
                    "height": 720,
                    "fps": fps,
                    "seed": i,
                    "defect_rate": 0.08,
                    "person_rate": 0.1,
                },
                "model": str(model),
                "roi": {"x": roi.x, "y": roi.y, "width": roi.width, "height": roi.height},
                "threshold_override": threshold,
                "privacy_zones": [{"name": "walkway", "points": [[0, 0], [160, 0], [160, 720], [0, 720]]}],
                "pass_sample_rate": 0.01,
            }
            for i in range(cameras)
        ]
        config = EdgeConfig.model_validate(
            {
                "kind": "edge",
                "node": {"node_id": "bench-node", "site_id": "plant", "line_id": "line", "data_dir": tmp},
                "cameras": cams,
                "metrics": {"enabled": False},
            }
        )
        server = MemoryIngestServer()
        kwargs: dict[str, Any] = {}
        if redactor == "fake":  # isolates the pipeline from the person model's CPU use
            from lineguard.edge.redact import FakeRedactor

            kwargs["redactor"] = FakeRedactor()
        node = EdgeNode(
            config, transport=MemoryTransport(server), kdf=KdfParams.insecure_for_tests(), **kwargs
        )
        node.start()
        time.sleep(2.0)  # warm-up: model sessions, redactor, first part renders
        for s in node.stats.values():  # measure the steady state only
            s.end_to_end = type(s.end_to_end)(100_000)
        node.gate.latency = type(node.gate.latency)(10_000)
        start = {k: (s.frames_inspected, s.frames_dropped) for k, s in node.stats.items()}
        ev0 = (node.gate.stored, node.gate.dropped)
        time.sleep(seconds)
        end = {k: (s.frames_inspected, s.frames_dropped) for k, s in node.stats.items()}
        e2e = np.concatenate([np.fromiter(s.end_to_end._samples, float) for s in node.stats.values()])
        result = {
            "cameras": cameras,
            "fps_per_camera": [round((end[k][0] - start[k][0]) / seconds, 1) for k in end],
            "dropped_per_camera": [end[k][1] - start[k][1] for k in end],
            "e2e_p50_ms": round(float(np.percentile(e2e, 50)), 2),
            "e2e_p99_ms": round(float(np.percentile(e2e, 99)), 2),
            "evidence_stored": node.gate.stored - ev0[0],
            "evidence_dropped": node.gate.dropped - ev0[1],
            "evidence_p99_ms": round(node.gate.latency.p99, 1),
            "verdicts": {k: dict(s.verdicts) for k, s in node.stats.items()},
            "events_delivered": len(server.items),
        }
        node.close()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="model package (default: the tiny test package)"
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="threshold override (default: 0.35 for the tiny package, else the package's)",
    )
    parser.add_argument("--cameras", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--redactor",
        choices=["person", "fake"],
        default="person",
        help="person: the packaged person redactor (default); fake: no person model",
    )
    args = parser.parse_args()
    threshold = args.threshold
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from lineguard.vision.testing import build_tiny_package

            model = Path(tmp) / "tiny"
            build_tiny_package(model)
            threshold = 0.35 if threshold is None else threshold  # a few % of synthetic frames fail
        roi = SyntheticLine("x", SyntheticSource(type="synthetic"), realtime=False).part_roi()
        bare_p50, bare_p99 = _bare_inference_ms(model, roi)
        print(
            f"cores: {len(os.sched_getaffinity(0))}  model: {model}  bare inference p50 {bare_p50:.2f} ms "
            f"p99 {bare_p99:.2f} ms"
        )
        results = []
        for n in args.cameras:
            r = run_scenario(model, n, args.seconds, args.fps, threshold, args.redactor)
            r["bare_infer_p50_ms"] = round(bare_p50, 2)
            r["e2e_over_bare_p50"] = round(r["e2e_p50_ms"] / bare_p50, 1)
            results.append(r)
            print(
                f"{n} camera(s) @ {args.fps:g} fps offered: inspected {r['fps_per_camera']} fps, dropped "
                f"{r['dropped_per_camera']}; end-to-end p50 {r['e2e_p50_ms']} ms p99 {r['e2e_p99_ms']} ms "
                f"({r['e2e_over_bare_p50']}x bare inference); evidence stored {r['evidence_stored']} "
                f"dropped {r['evidence_dropped']} p99 {r['evidence_p99_ms']} ms"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
