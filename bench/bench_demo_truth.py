"""Does the demo tell the truth? Part-level recall and false-reject rate against the
synthetic line's ground truth, and the node's disk growth per hour of demo.

The synthetic line knows which parts it made defective (``SyntheticLine.truth``). This
benchmark takes the demo's model (``--model``, or trains one with the demo's recipe into
``--work``), calibrates the part threshold on known-good parts of the same line
(:mod:`lineguard.edge.calibrate`, as ``lineguard demo`` does), then runs the demo line
(seed 7, 15 % defective parts, a worker in 20 % of part cycles) through the node's own
components — ROI crop, ONNX model, part identity + view check, :class:`PartFuser` — and
scores every part:

* **recall**: defective parts failed (and failed-or-uncertain: a person looks at those);
* **false-reject rate (FRR)**: good parts failed; **review rate**: good parts uncertain;
* the same frames under the node's **old rule** (a part alerted at its first failing
  frame = max over all its frames, package threshold): the baseline of the same run.

**Evidence per demo hour, from the truth phase** (robust to machine load): every part
the node would keep an image of (failed, uncertain; passes are capped at 6 an hour) has
its decisive frame cropped as the node crops it — the ROI plus margin (``crop: roi``)
and the defect regions plus context (``crop: defects``, the demo's) — and JPEG-encoded
at the demo's quality, without redaction (a blurred person only makes an image smaller,
so this is an upper bound). Bytes per part × the demo's 4,800 parts an hour is the
projection; the good parts kept as uncertain are split by why (the fused score in the
band below the threshold, or one frame failing on its own).

Then it runs the real edge node in-process on the demo's camera config for
``--node-seconds`` (realtime, 8 fps, evidence redacted and sealed) and reports the data
directory's **measured growth** over the run, per wall-clock hour and per demo hour, with
what the node dropped under load (frames, evidence) beside it: on a loaded machine the
node judges fewer frames and parts than the line shows, and the projection above is
then the figure to compare with the target.

Targets (issue 14): recall >= 0.95 at FRR <= 2 %, disk growth <= 20 MiB/h.

Usage::

    python bench/bench_demo_truth.py --model .lineguard-demo/models/demo-part-v1
    python bench/bench_demo_truth.py --work /tmp/demo-truth --parts 200 --node-seconds 60
    python bench/bench_demo_truth.py --model MODEL --parts 400 --node-seconds 90 --evidence-crop defects roi
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LINEGUARD_EDGE_KEK_PASSPHRASE", "bench-only-passphrase-0001")

import cv2
import numpy as np

from lineguard.config.edge import CameraEvidenceConfig, EdgeConfig, PartsConfig, Roi, SyntheticSource
from lineguard.contracts.events import BoundingBox, DefectRegion, Verdict
from lineguard.crypto import KdfParams
from lineguard.edge.app import EdgeNode
from lineguard.edge.calibrate import fused_part_scores, part_threshold
from lineguard.edge.capture import SyntheticLine
from lineguard.edge.decide import FrameJudgement, PartFuser, classify, defect_regions, part_id_reader
from lineguard.edge.evidence.region import kept_region, stored_region
from lineguard.edge.infer.loader import load_runner
from lineguard.edge.outbox import MemoryIngestServer, MemoryTransport
from lineguard.edge.preprocess import crop_roi
from lineguard.vision.calibration import wilson_interval

DEMO = {"fps": 8.0, "defect_rate": 0.15, "person_rate": 0.2, "seed": 7}
UNCERTAIN_MARGIN = 0.1
CALIBRATION_FIRST_PART = 1_000_000  # as lineguard.cli.demo_setup
#: Parts the demo line shows an hour (8 fps, 6 frames a part).
DEMO_PARTS_PER_HOUR = 4800
#: The demo's evidence settings (lineguard.cli.demo_setup): JPEG 75, crop to the defects.
DEMO_JPEG_QUALITY = 75
DEMO_EVIDENCE = {"crop": "defects"}
#: Passing parts kept an hour at most (evidence.pass_samples_per_hour's default).
PASS_SAMPLES_PER_HOUR = 6
#: A sealed object's header and tag (EvidenceStore.used_bytes).
SEALED_OVERHEAD = 64


def _encoded_bytes(image: np.ndarray, box: BoundingBox, quality: int) -> int:
    ok, encoded = cv2.imencode(
        ".jpg",
        np.ascontiguousarray(image[box.y : box.y + box.height, box.x : box.x + box.width]),
        [cv2.IMWRITE_JPEG_QUALITY, quality],
    )
    assert ok
    return int(encoded.size) + SEALED_OVERHEAD


def evidence_sizes(
    image: np.ndarray, roi_box: BoundingBox, regions: tuple[DefectRegion, ...], quality: int
) -> dict[str, float]:
    """Bytes of the decisive frame's evidence under each crop, and the share of the ROI crop kept."""
    stored = stored_region(image.shape, roi_box, CameraEvidenceConfig())
    kept = kept_region(stored, [r.bbox for r in regions], CameraEvidenceConfig.model_validate(DEMO_EVIDENCE))
    return {
        "roi": _encoded_bytes(image, stored, quality),
        "defects": _encoded_bytes(image, kept, quality),
        "area": kept.width * kept.height / (stored.width * stored.height),
    }


def demo_model(work: Path, n_train: int) -> Path:
    """The demo's recipe (``lineguard.cli.demo_setup``), cached under ``work``."""
    from lineguard.edge.capture.dataset import write_mvtec_dataset
    from lineguard.vision.train import train_package

    model = work / f"model-{n_train}"
    if not (model / "metadata.json").exists():
        dataset = work / f"dataset-{n_train}"
        if not (dataset / "train" / "good").is_dir():
            write_mvtec_dataset(dataset, n_train_good=n_train, n_test_good=20, n_test_per_defect=4, seed=7)
        train_package(dataset, model, overwrite=True)
    return model


def _line(seed: int, *, defect_rate: float, parts: int) -> SyntheticLine:
    source = SyntheticSource(
        type="synthetic", fps=DEMO["fps"], defect_rate=defect_rate, person_rate=DEMO["person_rate"], seed=seed
    )
    line = SyntheticLine("cam-1", source, realtime=False, max_frames=parts * 6)
    line.open()
    return line


def _frames(line: SyntheticLine) -> Any:
    while (frame := line.read()) is not None:
        yield frame


def evaluate(
    model: Path,
    parts: int,
    calibration_parts: int,
    defect_rate: float = DEMO["defect_rate"],
    jpeg_quality: int = DEMO_JPEG_QUALITY,
) -> dict[str, Any]:
    runner = load_runner(model, threads=2)
    probe = _line(int(DEMO["seed"]), defect_rate=0.0, parts=1)
    r = probe.part_roi()
    roi = Roi(x=r.x, y=r.y, width=r.width, height=r.height)
    config = PartsConfig()
    t0 = time.perf_counter()
    # Known-good parts of the same line (its belt, lighting, workers), far from the scored ones.
    good_line = SyntheticLine(
        "cam-1",
        SyntheticSource(
            type="synthetic", seed=DEMO["seed"], defect_rate=0.0, person_rate=DEMO["person_rate"]
        ),
        realtime=False,
    )
    good = fused_part_scores(
        runner, good_line.frames_of_parts(CALIBRATION_FIRST_PART, calibration_parts), roi=roi, parts=config
    )
    threshold = part_threshold(good)
    calibrate_s = time.perf_counter() - t0

    line = _line(int(DEMO["seed"]), defect_rate=defect_rate, parts=parts)
    reader, _ = part_id_reader(config)
    fuser = PartFuser(
        lambda s: classify(s, threshold, UNCERTAIN_MARGIN), max_part_frames=config.max_part_frames
    )
    frame_th = runner.threshold
    outcomes: list[tuple[bool, Verdict, Verdict]] = []  # (defective, new rule, old rule)
    kinds: list[str] = []  # the defect drawn on each part ("" for a good one)
    frame_scores: dict[str, list[float]] = {}
    kept: list[dict[str, float]] = []  # evidence sizes of every part that keeps an image
    why_uncertain = {"band": 0, "one_frame": 0}  # good parts kept as uncertain, by reason
    t0 = time.perf_counter()

    def judge(part: Any) -> None:
        index = int(part.key.rsplit("-", 1)[1])
        old = Verdict.FAIL if max(frame_scores[part.key]) >= frame_th else Verdict.PASS
        defective = line.part_defect(index) is not None
        outcomes.append((defective, part.verdict, old))
        kinds.append(line.part_defect(index) or "")
        if part.verdict is not Verdict.PASS and part.decisive.payload is not None:
            image, roi_box = part.decisive.payload
            kept.append(evidence_sizes(image, roi_box, part.decisive.regions, jpeg_quality))
        if part.verdict is Verdict.UNCERTAIN and not defective:
            why_uncertain["band" if part.score >= threshold * (1 - UNCERTAIN_MARGIN) else "one_frame"] += 1

    for n, frame in enumerate(_frames(line)):
        crop, roi_box = crop_roi(frame.image, roi)
        scores = runner.infer(crop)
        score = scores.anomaly_score
        verdict = classify(score, frame_th, UNCERTAIN_MARGIN)
        regions = tuple(defect_regions(scores, roi_box)) if verdict is not Verdict.PASS else ()
        key = frame.part_id or ""
        frame_scores.setdefault(key, []).append(score)
        judgement = FrameJudgement(
            f"e{n}", frame.frame_id, frame.captured_at, verdict, score, regions, (frame.image, roi_box)
        )
        for part in fuser.add(reader.sight(frame, crop), judgement).closed:
            judge(part)
    for part in fuser.flush():
        judge(part)
    infer_s = time.perf_counter() - t0

    bad = [o for o in outcomes if o[0]]
    ok = [o for o in outcomes if not o[0]]

    def share(rows: list[tuple[bool, Verdict, Verdict]], col: int, *verdicts: Verdict) -> float:
        return round(sum(1 for r in rows if r[col] in verdicts) / max(len(rows), 1), 4)

    def interval(rows: list[tuple[bool, Verdict, Verdict]]) -> list[float]:
        hits = sum(1 for r in rows if r[1] is Verdict.FAIL)
        return [round(v, 4) for v in wilson_interval(hits, len(rows))] if rows else [0.0, 1.0]

    by_kind: dict[str, str] = {}
    for kind in sorted({k for k in kinds if k}):
        rows = [o for o, k in zip(outcomes, kinds, strict=True) if k == kind]
        by_kind[kind] = f"{sum(1 for r in rows if r[1] is Verdict.FAIL)}/{len(rows)}"
    return {
        "parts": len(outcomes),
        "defect_rate": defect_rate,
        "defective_parts": len(bad),
        "good_parts": len(ok),
        "frame_threshold": round(frame_th, 3),
        "part_threshold": round(threshold, 3),
        "calibration_good_parts": len(good),
        "calibration_median": round(statistics.median(good), 3),
        "recall": share(bad, 1, Verdict.FAIL),
        "recall_wilson95": interval(bad),
        "recall_by_kind": by_kind,
        "recall_fail_or_uncertain": share(bad, 1, Verdict.FAIL, Verdict.UNCERTAIN),
        "frr": share(ok, 1, Verdict.FAIL),
        "frr_wilson95": interval(ok),
        "review_rate_good": share(ok, 1, Verdict.UNCERTAIN),
        "old_rule_recall": share(bad, 2, Verdict.FAIL),
        "old_rule_frr": share(ok, 2, Verdict.FAIL),
        "parts_alerted_old_rule": share(outcomes, 2, Verdict.FAIL),
        "parts_failed_new_rule": share(outcomes, 1, Verdict.FAIL),
        "good_uncertain_by_reason": why_uncertain,
        "evidence": _evidence_projection(kept, len(outcomes), jpeg_quality),
        "calibrate_s": round(calibrate_s, 1),
        "evaluate_s": round(infer_s, 1),
    }


def _evidence_projection(kept: list[dict[str, float]], parts: int, quality: int) -> dict[str, Any]:
    """Evidence bytes per part and MiB per demo hour under each crop (passes: the hourly cap)."""
    out: dict[str, Any] = {
        "jpeg_quality": quality,
        "images_per_part": round(len(kept) / max(parts, 1), 4),
        "median_kept_area_of_roi_crop": round(statistics.median(k["area"] for k in kept), 3)
        if kept
        else None,
    }
    for crop in ("roi", "defects"):
        per_image = statistics.fmean(k[crop] for k in kept) if kept else 0.0
        # Passes keep the ROI crop (no regions); an hour keeps at most PASS_SAMPLES_PER_HOUR.
        passes = PASS_SAMPLES_PER_HOUR * statistics.fmean(k["roi"] for k in kept) if kept else 0.0
        per_part = sum(k[crop] for k in kept) / max(parts, 1)
        out[crop] = {
            "kib_per_image": round(per_image / 1024, 1),
            "bytes_per_part": round(per_part),
            "mib_per_demo_h": round((per_part * DEMO_PARTS_PER_HOUR + passes) / 2**20, 1),
        }
    return out


def _dir_bytes(path: Path, *, wal: bool = True) -> int:
    """Bytes of the files under ``path`` (``wal=False``: without SQLite write-ahead logs)."""
    return sum(
        f.stat().st_size for f in path.rglob("*") if f.is_file() and (wal or not f.name.endswith("-wal"))
    )


def node_disk(
    model: Path,
    seconds: float,
    threshold: float,
    jpeg_quality: int | None = None,
    keep_sent_hours: float = 0.0,
    crop: str = DEMO_EVIDENCE["crop"],
) -> dict[str, Any]:
    """The demo camera on the real node for ``seconds``; data-directory growth per hour.

    Evidence growth (the sealed images, kept 90 days: what grows for as long as the demo
    runs) is also given per part and scaled to the demo's 4,800 parts an hour: on a loaded
    machine the node judges fewer parts than the line shows (it drops frames), and wall-clock
    growth would understate an hour of demo. The outbox is measured directly: its rows
    and file size at the end, bytes per row, and what it would hold after an hour of demo
    (the delivered rows kept ``keep_sent_hours``, the demo's 0 = deleted at acknowledgement,
    plus the backlog).

    The data directory's measured growth over the run is reported as it is (per wall-clock
    hour and per demo hour), with what the node dropped beside it: frames the camera
    queue replaced, evidence the gate shed or abandoned, and images stored against the
    parts that should have kept one.
    """
    with tempfile.TemporaryDirectory() as tmp:
        probe = SyntheticLine("x", SyntheticSource(type="synthetic"), realtime=False)
        r = probe.part_roi()
        camera = {
            "camera_id": "cam-1",
            "station_id": "st-10",
            "source": {"type": "synthetic", "width": 1280, "height": 720, **DEMO},
            "model": str(model),
            "roi": {"x": r.x, "y": r.y, "width": r.width, "height": r.height},
            "redaction": "blur",
            "pass_sample_rate": 0.02,
            "evidence": {"crop": crop},
            "parts": {"part_threshold": threshold},
            "privacy_zones": [{"name": "walkway", "points": [[0, 0], [120, 0], [120, 720], [0, 720]]}],
        }
        config = EdgeConfig.model_validate(
            {
                "kind": "edge",
                "node": {"node_id": "bench-node", "site_id": "plant", "line_id": "line-1", "data_dir": tmp},
                "cameras": [camera],
                "metrics": {"enabled": False},
                "evidence": {} if jpeg_quality is None else {"jpeg_quality": jpeg_quality},
                "outbox": {"keep_sent_hours": keep_sent_hours},
            }
        )
        server = MemoryIngestServer()
        node = EdgeNode(config, transport=MemoryTransport(server), kdf=KdfParams.insecure_for_tests())
        node.start()
        time.sleep(3.0)  # warm-up: model session, redactor, databases created
        objects = Path(tmp) / "evidence" / "objects"
        before, t0 = _dir_bytes(Path(tmp)), time.monotonic()
        before_no_wal = _dir_bytes(Path(tmp), wal=False)
        ev_before = _dir_bytes(objects)
        stats = node.stats["cam-1"]
        parts_before, frames_before = stats.parts, stats.frames_captured
        load_before = os.getloadavg()
        time.sleep(seconds)
        grown, elapsed = _dir_bytes(Path(tmp)) - before, time.monotonic() - t0
        grown_no_wal = _dir_bytes(Path(tmp), wal=False) - before_no_wal
        queued = len(node.gate.queue)
        load_after = os.getloadavg()
        # The sealed images only: the databases' write-ahead logs grow to their checkpoint
        # size (~4 MiB each) within a minute and are then reused, so a short run's database
        # growth is mostly WAL, not an hourly rate.
        evidence = _dir_bytes(objects) - ev_before
        parts = max(stats.parts, 1)
        run_parts = max(stats.parts - parts_before, 1)
        shown_frames = elapsed * DEMO["fps"]  # what the line showed during the run
        outbox_path = Path(tmp) / "outbox" / "outbox.db"
        rows = node.outbox.counts()
        n_rows = sum(rows.values())
        wal = outbox_path.with_name(outbox_path.name + "-wal")
        pages_bytes = node.outbox.used_bytes() - (wal.stat().st_size if wal.exists() else 0)
        row_bytes = pages_bytes / n_rows if n_rows >= 100 else None
        frames_per_part = stats.frames_inspected / parts
        # After an hour of demo: the delivered rows kept (4,800 parts an hour, their frame events
        # and part verdicts, for keep_sent_hours) plus the backlog; deleted at ack: the file itself.
        kept_rows = DEMO_PARTS_PER_HOUR * (frames_per_part + 1) * min(keep_sent_hours, 1.0)
        if keep_sent_hours == 0 or row_bytes is None:
            outbox_after_h = outbox_path.stat().st_size
        else:
            outbox_after_h = (kept_rows + n_rows) * row_bytes
        verdicts = dict(stats.part_verdicts)
        should_keep = verdicts.get("fail", 0) + verdicts.get("uncertain", 0)
        result = {
            "seconds": round(elapsed, 1),
            "load_average_before_after": [round(v, 1) for v in (*load_before, *load_after)],
            "evidence_crop": crop,
            "jpeg_quality": config.evidence.jpeg_quality,
            "frames": stats.frames_inspected,
            "frames_shown_by_line_in_run": round(shown_frames),
            "frames_captured_in_run": stats.frames_captured - frames_before,
            "frames_dropped_by_camera_queue": stats.frames_dropped,
            "parts": stats.parts,
            "parts_in_run": stats.parts - parts_before,
            "parts_shown_by_line_in_run": round(shown_frames / 6),
            "part_verdicts": verdicts,
            "alerts": stats.alerts,
            "evidence_should_keep_fail_uncertain": should_keep,
            "evidence_stored": node.gate.stored,
            "evidence_shed_under_load": node.gate.dropped_by_category,
            "evidence_queued_at_end": queued,
            "evidence_kib_per_image": round(evidence / 1024 / max(node.gate.stored, 1), 1),
            "measured_growth_mib_in_run": round(grown / 2**20, 2),
            "measured_growth_mib_per_wall_h": round(grown / 2**20 * 3600 / elapsed, 1),
            # The write-ahead logs grow to their checkpoint size and are then reused.
            "measured_growth_without_wal_mib_in_run": round(grown_no_wal / 2**20, 2),
            "measured_growth_without_wal_mib_per_wall_h": round(grown_no_wal / 2**20 * 3600 / elapsed, 1),
            "measured_evidence_mib_per_wall_h": round(evidence / 2**20 * 3600 / elapsed, 1),
            "measured_evidence_mib_per_demo_h": round(evidence / run_parts * DEMO_PARTS_PER_HOUR / 2**20, 1),
            "databases_and_wal_mib_in_run": round((grown - evidence) / 2**20, 1),
            "outbox_keep_sent_hours": keep_sent_hours,
            "outbox_rows_at_end": rows,
            "outbox_file_kib_at_end": round(outbox_path.stat().st_size / 1024, 1),
            "outbox_bytes_per_row": None if row_bytes is None else round(row_bytes),
            "outbox_mib_after_demo_h": round(outbox_after_h / 2**20, 2),
        }
        node.close()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="the demo's model package (default: train one)"
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "lineguard-demo-truth")
    parser.add_argument(
        "--train-images", type=int, default=400, help="good images the trained model learns from"
    )
    parser.add_argument("--parts", type=int, default=200, help="demo-line parts scored against the truth")
    parser.add_argument("--calibration-parts", type=int, default=60)
    parser.add_argument(
        "--defect-rate",
        type=float,
        default=DEMO["defect_rate"],
        help="share of defective parts on the scored line (the demo's 0.15; higher: more defective "
        "parts per minute of benchmark, same parts otherwise)",
    )
    parser.add_argument("--node-seconds", type=float, default=60.0, help="0 skips the node run")
    parser.add_argument(
        "--jpeg-quality", type=int, nargs="*", default=[], help="node runs at these evidence qualities"
    )
    parser.add_argument(
        "--part-threshold",
        type=float,
        default=None,
        help="with --parts 0: skip the truth phase and run the node at this part threshold",
    )
    parser.add_argument(
        "--keep-sent-hours", type=float, default=0.0, help="outbox.keep_sent_hours of the node run (demo: 0)"
    )
    parser.add_argument(
        "--evidence-crop",
        choices=["roi", "defects"],
        nargs="*",
        default=[],
        help="node runs with these evidence.crop settings (default: the demo's, defects)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    model = args.model or demo_model(args.work, args.train_images)
    result: dict[str, Any] = {"model": str(model), "load_average_at_start": os.getloadavg()}
    print(f"load average at start: {os.getloadavg()} on {os.cpu_count()} CPUs")
    if args.parts == 0 and args.part_threshold is not None:
        threshold = args.part_threshold
    else:
        truth = evaluate(model, args.parts, args.calibration_parts, args.defect_rate)
        truth["load_average_at_end"] = [round(v, 1) for v in os.getloadavg()]
        print(json.dumps({"truth": truth}, indent=2))
        result["truth"] = truth
        threshold = truth["part_threshold"]
        met = truth["recall"] >= 0.95 and truth["frr"] <= 0.02
        print(f"recall {truth['recall']:.3f} at FRR {truth['frr']:.3f}: target {'met' if met else 'NOT met'}")
    if args.node_seconds > 0:
        runs = []
        for quality in args.jpeg_quality or [DEMO_JPEG_QUALITY]:
            for crop in args.evidence_crop or [DEMO_EVIDENCE["crop"]]:
                runs.append(
                    node_disk(model, args.node_seconds, threshold, quality, args.keep_sent_hours, crop)
                )
                print(json.dumps({"node": runs[-1]}, indent=2))
        result["node"] = runs
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
