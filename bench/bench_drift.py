"""Drift detection on the demo line: delay to detect a lighting, focus or fixture change,
and false alarms on a line that did not change.

Takes the demo's model (``--model``, or trains one with the demo's recipe into ``--work``),
calibrates the part threshold on known-good parts like ``lineguard demo``, then runs the
demo line (5 % defective parts, a worker in 20 % of part cycles) through the node's own
steps — ROI crop, ONNX model, part identity and view check, :class:`PartFuser`, and the
camera's :class:`~lineguard.edge.drift.DriftMonitor` with its default settings:

* **reference**: the first ``--reference`` parts (default 300, the node's default);
* **stationary**: the next ``--watch`` parts unchanged: every finding is a false alarm;
* **drifts**, each starting from the same reference at the same part: lighting −20 %
  (sudden), lighting −30 % ramped over 300 parts, blur (Gaussian σ = 1.5 px), the scene
  shifted 12 px (camera or fixture moved). Delay = parts from onset to the finding.

Usage::

    cd bench && python bench_drift.py --work /tmp/drift --train 120 --watch 1500 --drift-parts 300
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench_demo_truth import CALIBRATION_FIRST_PART, DEMO, demo_model
from lineguard.config.edge import DriftConfig, PartsConfig, Roi, SyntheticSource
from lineguard.contracts.events import Verdict
from lineguard.contracts.types import CapturedFrame, ModelRunner
from lineguard.edge.calibrate import fused_part_scores, part_threshold
from lineguard.edge.capture import SyntheticLine
from lineguard.edge.decide import FrameJudgement, PartFuser, classify, part_id_reader
from lineguard.edge.drift import DriftMonitor, ImageStats, image_stats
from lineguard.edge.infer.loader import load_runner
from lineguard.edge.preprocess import crop_roi

Transform = Callable[[np.ndarray, int], np.ndarray]  # (frame, parts since onset) -> frame


def _gain(factor: float, ramp_parts: int = 0) -> Transform:
    def apply(image: np.ndarray, since: int) -> np.ndarray:
        f = 1 + (factor - 1) * (min(1.0, since / ramp_parts) if ramp_parts else 1.0)
        return np.clip(image.astype(np.float32) * f, 0, 255).astype(np.uint8)

    return apply


def _blur(sigma: float) -> Transform:
    return lambda image, _since: cv2.GaussianBlur(image, (0, 0), sigma)


def _shift(dx: int) -> Transform:
    def apply(image: np.ndarray, _since: int) -> np.ndarray:
        h, w = image.shape[:2]
        return cv2.warpAffine(
            image, np.float32([[1, 0, dx], [0, 1, 0]]), (w, h), borderMode=cv2.BORDER_REPLICATE
        )

    return apply


SCENARIOS: dict[str, Transform] = {
    "lighting -20 % (sudden)": _gain(0.8),
    "lighting -30 % (ramp over 300 parts)": _gain(0.7, ramp_parts=300),
    "blur sigma 1.5 px": _blur(1.5),
    "scene shifted 12 px": _shift(12),
}


def _parts(
    runner: ModelRunner,
    frames: Iterator[CapturedFrame],
    roi: Roi,
    threshold: float,
    transform: Transform | None = None,
    onset_part: int = 0,
) -> Iterator[tuple[np.ndarray, float, Verdict]]:
    """Each closed part: its decisive ROI crop, fused score and verdict, as the node has them."""
    config = PartsConfig()
    reader, _ = part_id_reader(config)
    fuser = PartFuser(lambda s: classify(s, threshold, 0.1), max_part_frames=config.max_part_frames)
    for n, frame in enumerate(frames):
        image = frame.image
        if transform is not None:
            index = int((frame.part_id or "part-0").rsplit("-", 1)[1])
            image = transform(image, index - onset_part)
        crop, _ = crop_roi(image, roi)
        score = runner.infer(crop).anomaly_score
        judgement = FrameJudgement(f"e{n}", frame.frame_id, frame.captured_at, Verdict.PASS, score, (), crop)
        seen = CapturedFrame(frame.camera_id, frame.frame_id, frame.captured_at, image, frame.part_id)
        for part in fuser.add(reader.sight(seen, crop), judgement).closed:
            yield part.decisive.payload, part.score, part.verdict
    for part in fuser.flush():
        yield part.decisive.payload, part.score, part.verdict


Stream = list[tuple[dict[str, float], float | None]]  # per part: image statistics, score unless failed


def _stream(parts: Iterator[tuple[np.ndarray, float, Verdict]]) -> Stream:
    """What the node feeds its drift monitor, part by part."""
    return [
        (image_stats(crop).as_dict(), score if verdict is Verdict.PASS else None)
        for crop, score, verdict in parts
    ]


def _observe(monitor: DriftMonitor, stream: Stream) -> list[tuple[int, str, list[str]]]:
    """Feed ``stream``; each finding as (part number from 0, cause, statistics moved)."""
    found = []
    for n, (stats, score) in enumerate(stream):
        finding = monitor.observe(ImageStats(**stats), score)
        if finding is not None:
            found.append((n, finding.cause, sorted(finding.moved)))
    return found


def streams(
    model: Path, reference: int, watch: int, drift_parts: int, frames_per_part: int, first_part: int = 0
) -> dict[str, Any]:
    """Run the line through the model once: the per-part streams every replay reads."""
    runner = load_runner(model, threads=2)
    source = {"type": "synthetic", "seed": DEMO["seed"], "person_rate": DEMO["person_rate"]}
    line = SyntheticLine(
        "cam-1",
        SyntheticSource(**source, defect_rate=0.05),
        realtime=False,
        frames_per_part=frames_per_part,
    )
    r = line.part_roi()
    roi = Roi(x=r.x, y=r.y, width=r.width, height=r.height)
    good_line = SyntheticLine(
        "cam-1", SyntheticSource(**source, defect_rate=0.0), realtime=False, frames_per_part=frames_per_part
    )
    good = fused_part_scores(
        runner, good_line.frames_of_parts(CALIBRATION_FIRST_PART, 60), roi=roi, parts=PartsConfig()
    )
    threshold = part_threshold(good)
    t0 = time.perf_counter()
    out: dict[str, Any] = {
        "frames_per_part": frames_per_part,
        "part_threshold": threshold,
        "first_part": first_part,
        "reference": _stream(_parts(runner, line.frames_of_parts(first_part, reference), roi, threshold)),
        "stationary": _stream(
            _parts(runner, line.frames_of_parts(first_part + reference, watch), roi, threshold)
        ),
        "drifts": {},
    }
    for name, transform in SCENARIOS.items():
        onset = first_part + reference
        frames = line.frames_of_parts(onset, drift_parts)
        out["drifts"][name] = _stream(_parts(runner, frames, roi, threshold, transform, onset_part=onset))
    out["inference_s"] = round(time.perf_counter() - t0, 1)
    return out


def replay(data: dict[str, Any], config: DriftConfig) -> dict[str, Any]:
    """The node's monitor over the recorded streams: false alarms, then each drift's delay and cause."""
    monitor = DriftMonitor(config, threshold=data["part_threshold"])
    assert _observe(monitor, data["reference"]) == []
    assert monitor.state == "watching", monitor.snapshot()
    reference_state = copy.deepcopy(monitor)
    stationary = _observe(monitor, data["stationary"])
    result: dict[str, Any] = {
        "bands": {name: stat["band"] for name, stat in reference_state.snapshot()["statistics"].items()},
        "stationary": {"parts_watched": len(data["stationary"]), "false_alarms": stationary},
        "drifts": {},
    }
    for name, stream in data["drifts"].items():
        found = _observe(copy.deepcopy(reference_state), stream)
        result["drifts"][name] = {
            "delay_parts": found[0][0] + 1 if found else None,
            "cause": found[0][1] if found else None,
            "moved": found[0][2] if found else None,
        }
    return result


def by_training_part(data: dict[str, Any], n_train: int, holdout_fraction: float = 0.15) -> dict[str, Any]:
    """Median fused score of passing parts by what the demo model did with each part.

    The demo's dataset renders ``train/good/NNN.png`` from part NNN of this same line (seed
    7), and ``train_package`` holds 15 % of them out by file-name hash: so parts below
    ``n_train`` are either fitted or held out, parts ``n_train`` on were never seen.
    """
    import statistics

    from lineguard.vision.train import split_holdout

    root = Path("dataset")
    paths = [root / "train" / "good" / f"{i:03d}.png" for i in range(n_train)]
    _, held = split_holdout(root, paths, holdout_fraction)
    held_out = {int(p.stem) for p in held}
    first = int(data.get("first_part", 0))
    scores = {first + n: s for n, (_, s) in enumerate([*data["reference"], *data["stationary"]])}
    groups: dict[str, list[float]] = {"fitted": [], "held out": [], "never seen": []}
    for part, score in scores.items():
        if score is None:
            continue
        kind = "never seen" if part >= n_train else "held out" if part in held_out else "fitted"
        groups[kind].append(score)
    return {
        k: {"parts": len(v), "median": round(statistics.median(v), 3) if v else None}
        for k, v in groups.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a trained demo package (default: train one into --work)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/lineguard-bench-drift"))
    parser.add_argument("--train", type=int, default=120, help="good images to train on when no --model")
    parser.add_argument("--reference", type=int, default=300)
    parser.add_argument(
        "--first-part",
        type=int,
        default=0,
        help="line part to start at; the demo model is trained on parts 0-399 of this line, so "
        "use 2000 to watch only parts it never saw (docs/drift.md)",
    )
    parser.add_argument("--watch", type=int, default=1500)
    parser.add_argument("--drift-parts", type=int, default=300)
    parser.add_argument("--persistence", type=int, default=DriftConfig().persistence_parts)
    parser.add_argument(
        "--frames-per-part", type=int, default=6, help="frames the line shows each part (the demo: 6)"
    )
    parser.add_argument(
        "--by-training-part",
        type=int,
        default=0,
        metavar="N",
        help="also print the median score of the parts the demo model was fitted on, held out, "
        "and never saw (N = its training images)",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    cache = args.work / (
        f"streams-r{args.reference}-w{args.watch}-d{args.drift_parts}-f{args.frames_per_part}"
        f"{'-' + args.model.name if args.model else ''}"
        f"{f'-p{args.first_part}' if args.first_part else ''}.json"
    )
    if not cache.exists():  # the slow part (every frame through the model), kept for replays
        model = args.model or demo_model(args.work, args.train)
        data = streams(
            model, args.reference, args.watch, args.drift_parts, args.frames_per_part, args.first_part
        )
        cache.write_text(json.dumps(data))
    data = json.loads(cache.read_text())
    config = DriftConfig(reference_parts=args.reference, persistence_parts=args.persistence)
    report = {"streams": str(cache), "inference_s": data["inference_s"], **replay(data, config)}
    if args.by_training_part:
        report["passing_score_by_training_part"] = by_training_part(data, args.by_training_part)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
