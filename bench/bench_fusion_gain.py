"""Per-part fusion against single frames (issue #24, item 4): recall at the same false-reject rate.

    python bench/bench_fusion_gain.py --model .lineguard-demo/models/demo-part-v1
    python bench/bench_fusion_gain.py --work /tmp/fusion --parts 300      # trains the demo model

The demo line (seed 7, a worker in 20 % of part cycles, six frames a part) with 30 %
defective parts, from part ``--first-part`` on (default 2,000: far from the parts the
demo model was trained on, see docs/drift.md), goes through the node's own steps: ROI
crop, ONNX model, part identity and view check, :class:`PartFuser`. Every frame's score
and whether the view check called it complete are recorded (cached under ``--work``), then
each part is scored by:

* **fused** — the shipped rule: the median of the part's complete frames (all frames when
  none was complete), exactly :class:`PartFuser`'s score;
* **first complete frame** — what a single-shot station (one trigger per part) sees;
* **random complete frame** — one complete frame drawn at random (seeded);
* **max of complete frames** — the rule the node used before the median (context).

For each rule: part-level AUROC, and recall at false-reject rates of 1 % and 2 % (the
threshold is the good parts' quantile of that rule's own scores, so every rule is compared
at the same false-reject rate). Intervals: 95 % paired bootstrap over parts (2,000
resamples) of recall(fused) − recall(single). There is no real multi-view data in
``../shared/datasets`` (magnetic tile has one image per part), so the synthetic line is the
only evidence here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_demo_truth import DEMO, demo_model
from lineguard.config.edge import PartsConfig, Roi, SyntheticSource
from lineguard.contracts.events import Verdict
from lineguard.edge.capture import SyntheticLine
from lineguard.edge.decide import FrameJudgement, PartFuser, part_id_reader
from lineguard.edge.infer.loader import load_runner
from lineguard.edge.preprocess import crop_roi
from lineguard.vision.metrics import auroc

FRRS = (0.01, 0.02)


def record(model: Path, first_part: int, parts: int, defect_rate: float) -> list[dict[str, Any]]:
    """Per part: defective or not, each frame's (score, complete), and the fuser's score."""
    runner = load_runner(model, threads=2)
    source = SyntheticSource(
        type="synthetic", seed=int(DEMO["seed"]), defect_rate=defect_rate, person_rate=DEMO["person_rate"]
    )
    line = SyntheticLine("cam-1", source, realtime=False)
    r = line.part_roi()
    roi = Roi(x=r.x, y=r.y, width=r.width, height=r.height)
    reader, _ = part_id_reader(PartsConfig())
    fuser = PartFuser(lambda _s: Verdict.PASS, max_part_frames=PartsConfig().max_part_frames)
    frames: dict[str, list[tuple[float, bool]]] = {}
    out: list[dict[str, Any]] = []

    def closed(parts_closed: list[Any]) -> None:
        for part in parts_closed:
            index = int(part.key.rsplit("-", 1)[1])
            out.append(
                {
                    "part": index,
                    "defective": line.part_defect(index) is not None,
                    "frames": frames.pop(part.key),
                    "fused": part.score,
                }
            )

    for n, frame in enumerate(line.frames_of_parts(first_part, parts)):
        crop, _ = crop_roi(frame.image, roi)
        score = runner.infer(crop).anomaly_score
        sighting = reader.sight(frame, crop)
        frames.setdefault(frame.part_id or "", []).append((score, sighting.complete))
        judgement = FrameJudgement(f"e{n}", frame.frame_id, frame.captured_at, Verdict.PASS, score)
        closed(fuser.add(sighting, judgement).closed)
    closed(fuser.flush())
    return out


def rules(parts: list[dict[str, Any]], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    first, rand, top = [], [], []
    for p in parts:
        complete = [s for s, c in p["frames"] if c] or [s for s, _ in p["frames"]]
        first.append(complete[0])
        rand.append(complete[int(rng.integers(len(complete)))])
        top.append(max(complete))
    return {
        "fused (median of complete frames)": np.array([p["fused"] for p in parts]),
        "first complete frame": np.array(first),
        "random complete frame": np.array(rand),
        "max of complete frames": np.array(top),
    }


def recall_at(good: np.ndarray, bad: np.ndarray, frr: float) -> float:
    """Recall at the threshold that rejects at most ``frr`` of these good parts."""
    k = int(np.floor(frr * len(good)))  # good parts allowed above the threshold
    th = np.sort(good)[::-1][k] if k < len(good) else -np.inf
    return float((bad > th).mean())


def compare(parts: list[dict[str, Any]], boots: int = 2000) -> dict[str, Any]:
    labels = np.array([p["defective"] for p in parts])
    scored = rules(parts)
    fused_name = next(iter(scored))
    rng = np.random.default_rng(1)
    draws = [rng.integers(0, len(parts), len(parts)) for _ in range(boots)]
    out: dict[str, Any] = {"parts": len(parts), "defective": int(labels.sum()), "rules": {}}
    for name, s in scored.items():
        row: dict[str, Any] = {"auroc": auroc(labels, s)}
        for frr in FRRS:
            row[f"recall_at_{frr:.0%}_frr"] = recall_at(s[~labels], s[labels], frr)
            if name != fused_name:
                f = scored[fused_name]
                diffs = [
                    recall_at(f[i][~labels[i]], f[i][labels[i]], frr)
                    - recall_at(s[i][~labels[i]], s[i][labels[i]], frr)
                    for i in draws
                ]
                lo, hi = np.percentile(diffs, [2.5, 97.5])
                row[f"fused_minus_this_at_{frr:.0%}_ci95"] = [float(lo), float(hi)]
        out["rules"][name] = row
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=None, help="the demo's package (default: train one)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "lineguard-fusion-gain")
    parser.add_argument("--train-images", type=int, default=400)
    parser.add_argument("--parts", type=int, default=300)
    parser.add_argument("--first-part", type=int, default=2000)
    parser.add_argument("--defect-rate", type=float, default=0.3)
    parser.add_argument(
        "--pool", type=Path, nargs="*", default=[], help="frame caches of other runs (other parts) to add"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    model = args.model or demo_model(args.work, args.train_images)
    cache = args.work / f"frames-{model.name}-{args.first_part}-{args.parts}-{args.defect_rate}.json"
    if not cache.exists():
        t0 = time.perf_counter()
        cache.write_text(json.dumps(record(model, args.first_part, args.parts, args.defect_rate)))
        print(
            f"scored {args.parts} parts in {time.perf_counter() - t0:.0f} s (load {os.getloadavg()[0]:.1f})"
        )
    parts = [p for f in (cache, *args.pool) for p in json.loads(f.read_text())]
    result = {"model": str(model), "frames": [str(f) for f in (cache, *args.pool)], **compare(parts)}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
