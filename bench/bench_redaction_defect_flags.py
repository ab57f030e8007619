"""How often redaction touches the defect in a failed part's evidence (the "defect partly hidden" flag).

On the demo's line nobody is in these frames, so every hidden pixel is a false redaction;
where it overlaps a defect box the stored record says "defect partly hidden by privacy
redaction" (docs/redaction.md). For every ``--step``-th frame of the synthetic line with
a defect on every part (no people), the package scores the ROI; failing frames with
defect boxes are cut as the node cuts evidence (ROI + 16 px, context window) and redacted
by each method in the same run. Reported per method: how many of those images would be
flagged, and the mean share of the defect boxes' area hidden.

Methods: ``node`` (the default ``PersonRedactor``), ``node-v1`` (the first fail-closed
settings: sharp tile edges, body floor 0.15, body boxes +10 %), and the node's settings
with one cue only (``segmentation``, ``face``, ``body``) or with the segmentation floor at
0.15 / 0.2 / 0.3 (0.3 = no failing closed on that cue).

Run:  .venv/bin/python bench/bench_redaction_defect_flags.py --model PKG [--frames 40]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from bench_redaction_crops import FAIL_CLOSED_V1
from lineguard.config.edge import CameraEvidenceConfig, SyntheticSource
from lineguard.contracts.events import Verdict
from lineguard.edge.capture import SyntheticLine
from lineguard.edge.decide import classify, defect_regions
from lineguard.edge.evidence.region import cut, stored_region
from lineguard.edge.redact import PersonRedactor, RedactorSettings
from lineguard.vision.runtime import OnnxModelRunner


def redactors() -> dict[str, PersonRedactor]:
    def only(cue: str) -> PersonRedactor:
        return PersonRedactor(RedactorSettings(cues=frozenset({cue})))

    out = {"node": PersonRedactor(), "node-v1": PersonRedactor(FAIL_CLOSED_V1)}
    out |= {f"only {cue}": only(cue) for cue in ("segmentation", "face", "body")}
    out |= {
        f"segmentation floor {f}": PersonRedactor(RedactorSettings(uncertain_segmentation_threshold=f))
        for f in (0.15, 0.2, 0.3)
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="the line's model package (the demo's)")
    parser.add_argument("--frames", type=int, default=40, help="frames of the line to score")
    parser.add_argument("--step", type=int, default=6, help="every step-th frame (a new part position)")
    parser.add_argument("--line-seed", type=int, default=7)
    args = parser.parse_args()

    runner = OnnxModelRunner(args.model, threads=1)
    source = SyntheticSource(type="synthetic", seed=args.line_seed, defect_rate=1.0, person_rate=0.0)
    line = SyntheticLine("bench", source, realtime=False)
    roi = line.part_roi()
    methods = redactors()
    flagged = dict.fromkeys(methods, 0)
    shares: dict[str, list[float]] = {m: [] for m in methods}
    images = 0
    start = time.perf_counter()
    for frame_id in range(0, args.frames * args.step, args.step):
        image = line.render(frame_id)
        scores = runner.infer(image[roi.y : roi.y + roi.height, roi.x : roi.x + roi.width])
        if classify(scores.anomaly_score, runner.threshold, 0.0) is Verdict.PASS:
            continue
        boxes = [r.bbox for r in defect_regions(scores, roi)]
        crop = cut(image, stored_region(image.shape, roi, CameraEvidenceConfig()), boxes)
        if not crop.defects:
            continue
        images += 1
        defect = np.zeros((crop.region.height, crop.region.width), bool)
        for x0, y0, x1, y1 in crop.defects:
            defect[y0:y1, x0:x1] = True
        for name, redactor in methods.items():
            hidden = crop.stored(redactor.redact(crop.context, "blur").hidden)
            flagged[name] += bool((hidden & defect).any())
            shares[name].append(float((hidden & defect).sum() / defect.sum()))
    print(
        f"{images} failed-part evidence images with defect boxes (of {args.frames} frames, line seed "
        f"{args.line_seed}); load average {os.getloadavg()[0]:.1f}; {time.perf_counter() - start:.0f} s"
    )
    for name in methods:
        mean = float(np.mean(shares[name])) if shares[name] else 0.0
        print(f"  {name:<26} flagged {flagged[name]:>3} / {images}   defect area hidden {mean:6.1%}")


if __name__ == "__main__":
    main()
