"""Edge node throughput and latency: 1 and 4 cameras at 1280x720, the whole pipeline.

Runs the real node in-process (capture → privacy zones → ROI → ONNX inference →
decide → outbox with fsync → sender to an in-memory server; evidence redacted with the
packaged person redactor and sealed with AES-256-GCM in its own worker) on the
synthetic line, paced at the camera's frame rate, and reports:

* sustained inspected frames/s and drops per camera;
* end-to-end latency p50 / p99, frame arrival → event committed in the outbox;
* evidence latency p99, frame queued → redacted, encrypted, signed object on disk,
  plus evidence shed when redaction cannot keep up, per verdict (passes go first);
* failed parts (their first failing frame raised an alert) and how many of them have no
  stored evidence once the writer has drained its queue — the target is none;
* stored evidence size, and from it the storage per camera per day at this line's rates;
* the load average before and after (the machine is shared: the neighbours' load sets
  these numbers as much as the node does).
* the node's CPU time per inspected frame (all threads, redaction included): the work,
  which the neighbours' load does not set as much as it sets the frame rate;
* with several cameras, the same scenario without and with batching across cameras
  (``inference.batch_across_cameras``) and the batch sizes that formed;
* bare model inference p50 on the same crops, measured in the same run, and the ratio
  of end-to-end time to it (the pipeline's overhead).

Usage::

    python bench/bench_edge.py                      # tiny test package, 20 s per scenario
    python bench/bench_edge.py --model PKG_DIR      # a trained package from `lineguard model train`
    python bench/bench_edge.py --seconds 60 --fps 30 --json out.json
    python bench/bench_edge.py --model PKG --line-seed 7 --threshold 9 --defect-rate 0.05 --person-rate 0.02
    python bench/bench_edge.py --model PKG --cameras 4 --batching off on   # batching, same run
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
from lineguard.contracts.events import Alert, InspectionEvent
from lineguard.crypto import KdfParams
from lineguard.edge.app import EdgeNode
from lineguard.edge.capture import SyntheticLine
from lineguard.edge.outbox import MemoryIngestServer, MemoryTransport
from lineguard.edge.pipeline import BatchingRunner, CaptureWorker
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


def _shared_inference_fps(
    model: Path, roi: Any, cameras: int, frames: int = 40, rounds: int = 3
) -> list[dict[str, float]]:
    """Frames/s when ``cameras`` threads score crops through one shared session, without and with
    batching across cameras, interleaved ``rounds`` times (the neighbours' load drifts)."""
    import threading

    runner = OnnxModelRunner(model, threads=1)
    line = SyntheticLine("bench", SyntheticSource(type="synthetic", seed=9), realtime=False)
    crops = [line.render(i)[roi.y : roi.y + roi.height, roi.x : roi.x + roi.width] for i in range(8)]
    runner.infer(crops[0])
    cores = len(os.sched_getaffinity(0))
    variants: dict[str, Any] = {
        "unbatched": runner,
        "batched, 1 in flight": BatchingRunner(runner, max_batch=cameras, max_in_flight=1),
        f"batched, {cores} in flight": BatchingRunner(runner, max_batch=cameras, max_in_flight=cores),
    }
    out = []
    for _ in range(rounds):
        row = {}
        for name, shared in variants.items():

            def work(camera: int, shared: Any = shared) -> None:
                for i in range(frames):
                    shared.infer(crops[(camera + i) % len(crops)])

            threads = [threading.Thread(target=work, args=(c,)) for c in range(cameras)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            row[name] = cameras * frames / (time.perf_counter() - t0)
        row["load"] = os.getloadavg()[0]
        out.append(row)
    return out


def _evidence_of_failed_parts(node: EdgeNode, server: MemoryIngestServer) -> tuple[int, int]:
    """(failed parts, failed parts without stored evidence), after the writer drained its queue."""
    deadline = time.monotonic() + 60.0
    while len(node.gate.queue) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # the item being redacted when the queue emptied
    events = {i.event_id: i for i in server.items.values() if isinstance(i, InspectionEvent)}
    alerted = [i.event_id for i in server.items.values() if isinstance(i, Alert) and i.event_id]
    stored = {r.evidence_id for r in node.evidence.records()}
    missing = [
        e
        for e in alerted
        if e in events and (events[e].evidence_ref is None or events[e].evidence_ref not in stored)
    ]
    return len(alerted), len(missing)


def run_scenario(
    model: Path,
    cameras: int,
    seconds: float,
    fps: float,
    threshold: float | None,
    redactor: str,
    defect_rate: float,
    line_seed: int | None,
    person_rate: float,
    batch: bool = True,
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
                    "seed": i if line_seed is None else line_seed,
                    "defect_rate": defect_rate,
                    "person_rate": person_rate,
                },
                "model": str(model),
                "roi": {"x": roi.x, "y": roi.y, "width": roi.width, "height": roi.height},
                "threshold_override": threshold,
                "privacy_zones": [{"name": "walkway", "points": [[0, 0], [160, 0], [160, 720], [0, 720]]}],
            }
            for i in range(cameras)
        ]
        config = EdgeConfig.model_validate(
            {
                "kind": "edge",
                "node": {"node_id": "bench-node", "site_id": "plant", "line_id": "line", "data_dir": tmp},
                "cameras": cams,
                "metrics": {"enabled": False},
                "inference": {"batch_across_cameras": batch},
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
        ev0 = (node.gate.stored, node.gate.dropped, dict(node.gate.dropped_by_category))
        load0 = os.getloadavg()[0]
        cpu0 = os.times()
        time.sleep(seconds)
        cpu1 = os.times()
        end = {k: (s.frames_inspected, s.frames_dropped) for k, s in node.stats.items()}
        load1 = os.getloadavg()[0]
        e2e = np.concatenate([np.fromiter(s.end_to_end._samples, float) for s in node.stats.values()])
        shed = {k: v - ev0[2][k] for k, v in node.gate.dropped_by_category.items()}
        stored_after_run = node.gate.stored - ev0[0]
        # End the cameras' streams (the line stops), let the parts in view close and the evidence
        # writer drain its queue, then stop: what a node that keeps running would store. Evidence
        # still queued after 60 s is abandoned at shutdown and counted apart from what was shed.
        for worker in node.workers:
            if isinstance(worker, CaptureWorker) and isinstance(worker.source, SyntheticLine):
                worker.source.max_frames = 0
        drain_started = time.monotonic()
        time.sleep(2.0)  # the parts in view close after the camera's idle time
        while len(node.gate.queue) and time.monotonic() - drain_started < 60:
            time.sleep(0.2)
        drain_s = time.monotonic() - drain_started
        node.stop_event.set()
        for worker in node.workers:
            if worker.name.startswith(("capture-", "inspect-")):
                worker.join(5)
        failed_parts, failed_without_evidence = _evidence_of_failed_parts(node, server)
        records = node.evidence.records()
        sizes = [r.size for r in records]
        result = {
            "cameras": cameras,
            "fps_per_camera": [round((end[k][0] - start[k][0]) / seconds, 1) for k in end],
            "dropped_per_camera": [end[k][1] - start[k][1] for k in end],
            "e2e_p50_ms": round(float(np.percentile(e2e, 50)), 2),
            "e2e_p99_ms": round(float(np.percentile(e2e, 99)), 2),
            "evidence_stored": stored_after_run,
            "evidence_dropped": node.gate.dropped - ev0[1],
            "evidence_shed_by_verdict": shed,
            "failed_parts": failed_parts,
            "failed_parts_without_evidence": failed_without_evidence,
            "evidence_mean_kb": round(float(np.mean(sizes)) / 1024, 1) if sizes else None,
            "evidence_fail_uncertain_total": sum(r.category != "pass" for r in records),
            "evidence_pass_total": sum(r.category == "pass" for r in records),
            "parts_seen": len(
                {(i.camera_id, i.part_id) for i in server.items.values() if isinstance(i, InspectionEvent)}
            ),
            "load_avg_1m": [round(load0, 1), round(load1, 1)],
            "batching": batch,
            # CPU the whole node used per inspected frame (all its threads, redaction included):
            # the work, as opposed to the wall-clock rate the neighbours' load also sets.
            "cpu_ms_per_frame": round(
                (cpu1.user + cpu1.system - cpu0.user - cpu0.system)
                * 1000
                / max(1, sum(end[k][0] - start[k][0] for k in end)),
                1,
            ),
            "batch_sizes": _batch_sizes(node),
            "evidence_p99_ms": round(node.gate.latency.p99, 1),
            "evidence_drain_s": round(drain_s, 1),
            "evidence_abandoned_at_shutdown": node.gate.abandoned,
            "verdicts": {k: dict(s.verdicts) for k, s in node.stats.items()},
            "events_delivered": len(server.items),
        }
        node.close()
        return result


def _batch_sizes(node: EdgeNode) -> dict[int, int]:
    """How many batches of each size the cameras' shared runners ran (empty: no batching)."""
    sizes: dict[int, int] = {}
    for runner in node._batched.values():
        if isinstance(runner, BatchingRunner):
            for size, count in runner.stats.sizes.items():
                sizes[size] = sizes.get(size, 0) + count
    return dict(sorted(sizes.items()))


def _storage_per_camera_day(result: dict[str, Any], parts_per_s: float) -> str:
    """Evidence per camera per day for a line making ``parts_per_s`` parts a second: the failed and
    uncertain parts' share seen in this run, plus 6 audit samples of passes an hour."""
    kb = result["evidence_mean_kb"]
    if not kb or not result["parts_seen"]:
        return "n/a"
    share = result["evidence_fail_uncertain_total"] / result["parts_seen"]
    images = share * parts_per_s * 86_400 + 6 * 24
    mb = images * kb / 1024
    return f"{images:,.0f} images/day x {kb:.0f} KB = {mb:,.0f} MB/day (at {parts_per_s:g} part/s)"


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
    parser.add_argument("--defect-rate", type=float, default=0.05, help="share of parts with a defect")
    parser.add_argument(
        "--person-rate", type=float, default=0.1, help="share of frames a person walks through"
    )
    parser.add_argument(
        "--line-seed",
        type=int,
        default=None,
        help="synthetic line of every camera (default: camera i gets seed i); a trained package knows "
        "only the line it was trained on (the demo's: 7)",
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--batching",
        nargs="+",
        type=lambda v: {"on": True, "off": False}[v],
        default=[False, True],
        help="several cameras: run without (off) and with (on) batching across cameras, in that order",
    )
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
        if max(args.cameras) > 1:
            n = max(args.cameras)
            rows = _shared_inference_fps(model, roi, n)
            for row in rows:
                base = row["unbatched"]
                print(
                    f"{n} threads on one session: "
                    + ", ".join(
                        f"{k} {v:.1f} frames/s (x{v / base:.2f})" for k, v in row.items() if k != "load"
                    )
                    + f"; load {row['load']:.1f}"
                )
        results = []
        for n, batch in [(c, b) for c in args.cameras for b in (args.batching if c > 1 else [True])]:
            r = run_scenario(
                model,
                n,
                args.seconds,
                args.fps,
                threshold,
                args.redactor,
                args.defect_rate,
                args.line_seed,
                args.person_rate,
                batch,
            )
            r["bare_infer_p50_ms"] = round(bare_p50, 2)
            r["e2e_over_bare_p50"] = round(r["e2e_p50_ms"] / bare_p50, 1)
            results.append(r)
            batching = f"batched {r['batch_sizes']}" if batch and n > 1 else "unbatched" if n > 1 else ""
            print(
                f"{n} camera(s) @ {args.fps:g} fps offered {batching}: inspected {r['fps_per_camera']} fps, "
                f"dropped {r['dropped_per_camera']}; end-to-end p50 {r['e2e_p50_ms']} ms "
                f"p99 {r['e2e_p99_ms']} ms ({r['e2e_over_bare_p50']}x bare inference); "
                f"CPU {r['cpu_ms_per_frame']} ms per inspected frame; "
                f"evidence stored {r['evidence_stored']} "
                f"shed {r['evidence_shed_by_verdict']} p99 {r['evidence_p99_ms']} ms; failed parts "
                f"{r['failed_parts']}, of them without evidence {r['failed_parts_without_evidence']} "
                f"(queue drained {r['evidence_drain_s']} s after the line stopped, "
                f"{r['evidence_abandoned_at_shutdown']} abandoned at shutdown); "
                f"evidence {r['evidence_mean_kb']} KB each; load average {r['load_avg_1m']}"
            )
            print(
                f"  evidence: {r['evidence_fail_uncertain_total']} fail/uncertain of {r['parts_seen']} parts,"
                f" {r['evidence_pass_total']} pass samples; per camera per day: "
                f"{_storage_per_camera_day(r, 1.0)}; {_storage_per_camera_day(r, args.fps / 6)}"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
