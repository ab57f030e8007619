"""Redaction recall where it matters: on the evidence crops the node actually stores.

Evidence is the camera's ROI plus a margin (docs/edge.md), so the people redaction must
hide are hands and arms reaching in, workers leaning over the belt, people cut by the
crop's edge and people partly behind a guard — rendered with their pixel masks by
``lineguard.edge.redact.evaluation.evidence_crops`` (a plant can rerun it with its own
frame size and ROI). Recall has the same definition as on whole frames: a person counts
as redacted when >= 80% of their visible pixels and >= 95% of their visible head are
hidden — visible *in the stored crop*.

Methods, all in the same run on the same crops:
* ``context+fail-closed`` — what the node does: the default ``PersonRedactor`` (every cue
  also hides what it finds below its threshold, down to a floor: segmentation 0.1, body
  0.15, face 0.2; segmentation blobs grown by 50 %) runs on the context window around the
  crop (the crop grown by half its larger side, in memory only); its mask is cut to the crop;
* ``context+previous`` — the same window, the previous settings (``fail_closed=False``,
  blobs grown by 30 %);
* ``crop+fail-closed`` — the default redactor on the stored crop alone (no context);
* ``crop+previous`` — the previous redactor on the crop alone (the baseline: what
  redacting the stored image with the old settings gives);
* ``skin-baseline`` — the skin-colour heuristic of bench_redaction.py, on the crop.
Person-free crops give the cost: how much of the evidence is hidden when nobody is there.

Run:  .venv/bin/python bench/bench_redaction_crops.py [--crops 200] [--free 60] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench_redaction import skin_baseline
from lineguard.edge.redact import PersonRedactor, RedactorSettings
from lineguard.edge.redact.evaluation import (
    CROP_KINDS,
    EvidenceCropScene,
    FalseRedaction,
    RecallReport,
    evidence_crops,
)

Method = Callable[[EvidenceCropScene], np.ndarray]


def methods() -> dict[str, Method]:
    closed, previous = PersonRedactor(), PersonRedactor(RedactorSettings(fail_closed=False, blob_growth=0.3))

    def on_context(redactor: PersonRedactor) -> Method:
        return lambda scene: scene.crop_of(redactor.redact(scene.context, "black").hidden)

    def on_crop(redactor: PersonRedactor) -> Method:
        return lambda scene: redactor.redact(scene.image, "black").hidden

    return {
        "context+fail-closed": on_context(closed),
        "context+previous": on_context(previous),
        "crop+fail-closed": on_crop(closed),
        "crop+previous": on_crop(previous),
        "skin-baseline": lambda scene: skin_baseline(scene.image),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--crops", type=int, default=200, help="evidence crops with people")
    parser.add_argument("--free", type=int, default=60, help="person-free evidence crops")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    run = methods()
    groups = ["all", "unoccluded", "occluded", *CROP_KINDS]
    reports = {m: {g: RecallReport() for g in groups} for m in run}
    free = {m: FalseRedaction() for m in run}
    cpu: dict[str, list[float]] = {m: [] for m in run}
    start = time.perf_counter()
    shape = None
    for scene in evidence_crops(args.crops, seed=args.seed):
        shape = (scene.image.shape, scene.context.shape)
        for name, method in run.items():
            t0 = time.process_time()
            hidden = method(scene)
            cpu[name].append((time.process_time() - t0) * 1000)
            for person in scene.people:
                for key in ("all", "occluded" if person.truth.occluded else "unoccluded", person.kind):
                    reports[name][key].add(scene.name, hidden, [person.truth])
    for scene in evidence_crops(args.free, seed=args.seed + 1, people_share=0.0):
        for name, method in run.items():
            free[name].add(method(scene))
    print(
        f"{args.crops} crops with people, {args.free} without; crop and context window {shape};"
        f" {time.perf_counter() - start:.0f} s"
    )
    figures: dict[str, object] = {"crops": args.crops, "person_free": args.free}
    for name in run:
        fr = free[name]
        print(f"\n== {name}")
        for key, report in reports[name].items():
            print(
                f"  {key:<11} recall {report.recall:6.1%} ({report.redacted}/{report.people})"
                f"   pixel coverage {report.coverage:6.1%}"
            )
        print(
            f"  person-free crops: something hidden in {fr.frame_rate:6.1%}, mean share of the crop hidden"
            f" {fr.mean_hidden_fraction:6.1%}, p90 {float(np.percentile(fr.hidden_fractions, 90)):6.1%}"
        )
        print(f"  CPU per crop (all threads): median {float(np.median(cpu[name])):.0f} ms")
        print(f"  misses (crop, person, body hidden, head hidden): {reports[name]['all'].misses[:8]}")
        figures[name] = {
            "recall": {
                k: {"recall": r.recall, "people": r.people, "redacted": r.redacted, "coverage": r.coverage}
                for k, r in reports[name].items()
            },
            "person_free": {"frame_rate": fr.frame_rate, "mean_hidden": fr.mean_hidden_fraction},
            "cpu_ms_median": float(np.median(cpu[name])),
            "misses": reports[name]["all"].misses,
        }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
