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
  0.05, face 0.2; segmentation blobs grown by 50 %, body boxes by 40 %; segmentation tiles
  fade in over 1/8 of their side at inner edges) runs on the context window around the
  crop (the crop grown by half its larger side, in memory only); its mask is cut to the crop;
* ``context+fail-closed-v1`` — the same, with the first fail-closed settings (body floor
  0.15, body boxes grown by 10 %, no tile-edge fade): the baseline of this change;
* ``context+previous`` — the same window, the settings before failing closed
  (``fail_closed=False``, blobs grown by 30 %);
* ``crop+fail-closed`` — the default redactor on the stored crop alone (no context);
* ``crop+previous`` — the previous redactor on the crop alone (the baseline: what
  redacting the stored image with the old settings gives);
* ``skin-baseline`` — the skin-colour heuristic of bench_redaction.py, on the crop.
Person-free crops give the cost: how much of the evidence is hidden when nobody is there;
``--demo N`` adds N person-free stored crops of the demo's own line (seed 7, its ROI), where
the shiny bracket used to be taken for a person.

Run:  .venv/bin/python bench/bench_redaction_crops.py [--crops 200] [--free 60] [--demo 30]
          [--methods context+fail-closed context+fail-closed-v1] [--seed 2026] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
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


#: The first fail-closed settings (before the tile-edge fade and the wider, lower body cue).
FAIL_CLOSED_V1 = RedactorSettings(tile_edge_taper=0.0, body_growth=0.1, uncertain_body_threshold=0.15)


def methods(names: list[str] | None = None) -> dict[str, Method]:
    closed, previous = PersonRedactor(), PersonRedactor(RedactorSettings(fail_closed=False, blob_growth=0.3))
    closed_v1 = PersonRedactor(FAIL_CLOSED_V1)

    def on_context(redactor: PersonRedactor) -> Method:
        return lambda scene: scene.crop_of(redactor.redact(scene.context, "black").hidden)

    def on_crop(redactor: PersonRedactor) -> Method:
        return lambda scene: redactor.redact(scene.image, "black").hidden

    every = {
        "context+fail-closed": on_context(closed),
        "context+fail-closed-v1": on_context(closed_v1),
        "context+previous": on_context(previous),
        "crop+fail-closed": on_crop(closed),
        "crop+previous": on_crop(previous),
        "skin-baseline": lambda scene: skin_baseline(scene.image),
    }
    unknown = sorted(set(names or []) - set(every))
    if unknown:
        msg = f"unknown methods {unknown}; choose from {sorted(every)}"
        raise SystemExit(msg)
    return {k: v for k, v in every.items() if not names or k in names}


def demo_scenes(count: int) -> list[EvidenceCropScene]:
    """Person-free stored crops of the demo's line (seed 7, its ROI, the default margin)."""
    from lineguard.config.edge import CameraEvidenceConfig, SyntheticSource
    from lineguard.edge.capture import SyntheticLine
    from lineguard.edge.evidence.region import cut, stored_region

    line = SyntheticLine("demo", SyntheticSource(type="synthetic", seed=7, person_rate=0.0), realtime=False)
    roi, out = line.part_roi(), []
    for frame_id in range(0, count * 7, 7):  # parts at every position along the belt
        image = line.render(frame_id)
        crop = cut(image, stored_region(image.shape, roi, CameraEvidenceConfig()))
        r, w = crop.region, crop.window
        out.append(
            EvidenceCropScene(
                f"demo-{frame_id}", crop.stored(crop.context), (r.x, r.y, r.width, r.height), (),
                crop.context, (w.x, w.y, w.width, w.height),
            )
        )  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--crops", type=int, default=200, help="evidence crops with people")
    parser.add_argument("--free", type=int, default=60, help="person-free evidence crops")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--demo", type=int, default=30, help="person-free crops of the demo's line")
    parser.add_argument("--methods", nargs="+", default=None, help="run only these methods")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    run = methods(args.methods)
    groups = ["all", "unoccluded", "occluded", *CROP_KINDS]
    reports = {m: {g: RecallReport() for g in groups} for m in run}
    free = {m: FalseRedaction() for m in run}
    demo = {m: FalseRedaction() for m in run}
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
    for scene in demo_scenes(args.demo):
        for name, method in run.items():
            demo[name].add(method(scene))
    print(
        f"{args.crops} crops with people, {args.free} without, {args.demo} of the demo's line;"
        f" seed {args.seed};"
        f" crop and context window {shape}; load average {os.getloadavg()[0]:.1f};"
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
        if demo[name].frames:
            dm = demo[name]
            p90 = float(np.percentile(dm.hidden_fractions, 90))
            print(
                f"  demo line (bracket, nobody there): something hidden in {dm.frame_rate:6.1%}, mean share"
                f" hidden {dm.mean_hidden_fraction:6.1%}, p90 {p90:6.1%}"
            )
        print(f"  CPU per crop (all threads): median {float(np.median(cpu[name])):.0f} ms")
        print(f"  misses (crop, person, body hidden, head hidden): {reports[name]['all'].misses[:8]}")
        figures[name] = {
            "recall": {
                k: {"recall": r.recall, "people": r.people, "redacted": r.redacted, "coverage": r.coverage}
                for k, r in reports[name].items()
            },
            "person_free": {"frame_rate": fr.frame_rate, "mean_hidden": fr.mean_hidden_fraction},
            "demo_line": {
                "frame_rate": demo[name].frame_rate,
                "mean_hidden": demo[name].mean_hidden_fraction,
            },
            "cpu_ms_median": float(np.median(cpu[name])),
            "misses": reports[name]["all"].misses,
        }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
