"""PPE classifier benchmark: how often a missing helmet or vest is caught, and how often it is invented.

What is reported is *lacking* an item (that is what the hourly counts count), so the positive
class here is "lacks the item": **recall** = share of people without the item that the
classifier says lack it; **precision** = share of "lacks it" answers that are right.

Two measurements, both on generated workers (``lineguard.edge.ppe.render``) from seeds the
shipped model never saw:

1. **Crops** — people cut out at their true box: the classifier alone, overall and per hard
   case (look-alike shirts and headwear, occlusion, dim / bright / colour-cast light, small,
   back and side views). Baseline in the same run on the same crops: a colour rule (a vest is
   a torso that is mostly fluorescent; a helmet is a saturated, bright top of the head).
2. **Walkway frames** — the node's path: the redaction person detector finds the people in
   720p frames (1-3 workers each), the classifier judges each box. Reports the detector's
   recall (IoU >= 0.5 with a true person, score >= 0.5), its false boxes, and recall /
   precision of "lacks" over the people found. Also the count error an hour would carry: the
   share lacking each item, estimated vs true.

What this cannot tell: how it does on real people. Drawn workers have flat colours and sharp
outlines; docs/inspection.md says why the feature therefore stays off by default.

Run:  .venv/bin/python bench/bench_ppe.py [--crops 1200] [--frames 60] [--seed 2026] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from typing import Any

import numpy as np

from lineguard.contracts.ppe import PPE_ITEMS
from lineguard.edge.ppe import PpeClassifier, crop_person
from lineguard.edge.ppe.features import features
from lineguard.edge.ppe.render import HARD_CASES, PersonCrop, person_crops, walkway_scenes
from lineguard.edge.redact import PersonDetector


def _truth(c: PersonCrop | Any, item: str) -> bool:
    return bool(c.helmet if item == "helmet" else c.vest)


def _scores(wears: list[bool], truth: list[bool]) -> dict[str, Any]:
    said_lacks = ~np.array(wears, bool)
    lacks = ~np.array(truth, bool)
    tp = int((said_lacks & lacks).sum())
    return {
        "n": len(truth),
        "lacking": int(lacks.sum()),
        "recall": tp / max(1, int(lacks.sum())),
        "precision": tp / max(1, int(said_lacks.sum())),
        "accuracy": float((said_lacks == lacks).mean()) if truth else 0.0,
    }


def _colour_rule(image: np.ndarray, box: tuple[int, int, int, int]) -> dict[str, bool]:
    """The baseline: fluorescent torso → vest; saturated bright head top → helmet."""
    import cv2

    body, _ = crop_person(image, box)
    hsv = cv2.cvtColor(body, cv2.COLOR_BGR2HSV).astype(np.float32)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    fluo = (h >= 5) & (h <= 45) & (s > 140) & (v > 150)
    torso = fluo[int(0.2 * fluo.shape[0]) : int(0.55 * fluo.shape[0])]
    top = (s > 110) & (v > 120)
    head_top = top[: max(1, int(0.08 * top.shape[0]))]
    return {"helmet": bool(head_top.mean() > 0.25), "hi_vis_vest": bool(torso.mean() > 0.35)}


def bench_crops(classifier: PpeClassifier, count: int, seed: int) -> dict[str, Any]:
    crops = person_crops(count, seed=seed)
    started = time.perf_counter()
    vectors = np.stack([features(crop_person(c.image, c.box)) for c in crops])
    probs = classifier.probabilities_of(vectors)
    per_person_ms = (time.perf_counter() - started) / len(crops) * 1000
    rule = [_colour_rule(c.image, c.box) for c in crops]
    out: dict[str, Any] = {"per_person_ms": per_person_ms, "items": {}}
    for item in PPE_ITEMS:
        wears = [p[item] >= classifier.threshold for p in probs]
        truth = [_truth(c, item) for c in crops]
        tags: dict[str, Any] = {}
        for tag in (*HARD_CASES, "none"):
            idx = [i for i, c in enumerate(crops) if (tag in c.tags) or (tag == "none" and not c.tags)]
            if idx:
                tags[tag] = _scores([wears[i] for i in idx], [truth[i] for i in idx])
        out["items"][item] = {
            "model": _scores(wears, truth),
            "baseline": _scores([r[item] for r in rule], truth),
            "by_case": tags,
        }
    return out


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def bench_frames(classifier: PpeClassifier, frames: int, seed: int) -> dict[str, Any]:
    detector = PersonDetector()
    scenes = walkway_scenes(frames, seed=seed, height=720, width=1280)
    people = found = false_boxes = 0
    judged: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    truth_all: dict[str, list[bool]] = defaultdict(list)
    detect_ms = []
    for scene in scenes:
        started = time.perf_counter()
        boxes = [
            (p.box.x0, p.box.y0, p.box.x1, p.box.y1) for p in detector.find(scene.image) if p.score >= 0.5
        ]
        detect_ms.append((time.perf_counter() - started) * 1000)
        used: set[int] = set()
        for person in scene.people:
            people += 1
            for item in PPE_ITEMS:
                truth_all[item].append(_truth(person, item))
            best = max(range(len(boxes)), key=lambda j: _iou(person.box, boxes[j]), default=None)
            if best is None or best in used or _iou(person.box, boxes[best]) < 0.5:
                continue
            used.add(best)
            found += 1
            wears = classifier.wears(crop_person(scene.image, boxes[best]))
            for item in PPE_ITEMS:
                judged[item].append((wears[item], _truth(person, item)))
        false_boxes += len(boxes) - len(used)
    items = {}
    for item in PPE_ITEMS:
        pairs = judged[item]
        scores = _scores([w for w, _ in pairs], [t for _, t in pairs])
        true_share = 1 - float(np.mean(truth_all[item]))
        est_share = 1 - float(np.mean([w for w, _ in pairs])) if pairs else float("nan")
        items[item] = scores | {"true_share_lacking": true_share, "estimated_share_lacking": est_share}
    return {
        "frames": frames,
        "people": people,
        "detector_recall": found / max(1, people),
        "false_boxes_per_frame": false_boxes / max(1, frames),
        "detect_ms_median": float(np.median(detect_ms)),
        "items": items,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--crops", type=int, default=1200)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=str, default=None)
    args = parser.parse_args()
    classifier = PpeClassifier.load()
    crops = bench_crops(classifier, args.crops, args.seed)
    ms = crops["per_person_ms"]
    print(f"crops: {args.crops} held-out generated workers (seed {args.seed}), {ms:.2f} ms/person")
    print(f"{'item':12} {'who':9} {'recall':>7} {'prec.':>7} {'acc.':>7}   (positive class: lacks the item)")
    for item, r in crops["items"].items():
        for who in ("model", "baseline"):
            s = r[who]
            print(f"{item:12} {who:9} {s['recall']:7.1%} {s['precision']:7.1%} {s['accuracy']:7.1%}")
        for tag, s in r["by_case"].items():
            figures = f"recall {s['recall']:6.1%} precision {s['precision']:6.1%} acc {s['accuracy']:6.1%}"
            print(f"{'':12}   {tag:15} n={s['n']:4d} {figures}")
    frames = bench_frames(classifier, args.frames, args.seed + 1)
    print(
        f"walkway: {frames['frames']} frames 1280x720, {frames['people']} people, detector recall "
        f"{frames['detector_recall']:.1%}, {frames['false_boxes_per_frame']:.2f} false boxes/frame, "
        f"{frames['detect_ms_median']:.0f} ms/frame (median)"
    )
    for item, s in frames["items"].items():
        print(
            f"  {item:12} recall {s['recall']:.1%} precision {s['precision']:.1%} over {s['n']} found; "
            f"share lacking true {s['true_share_lacking']:.1%} estimated {s['estimated_share_lacking']:.1%}"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"crops": crops, "frames": frames, "seed": args.seed}, f, indent=1)


if __name__ == "__main__":
    main()
