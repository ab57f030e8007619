"""Privacy redaction benchmark: person recall, pixel coverage, false redaction, speed.

Measures ``PersonRedactor`` (vendored MediaPipe models on onnxruntime, 2 threads) and,
in the same run, a baseline: a skin-colour heuristic (YCrCb skin range, blobs grown
like ours) — the "obvious" detector without a model.

Test sets:
* synthetic: labelled people rendered over industrial backgrounds (front, back, side;
  7 skin tones; 18–95% of frame height; ~30% partly hidden or cut by the frame edge);
* real: the three public-domain photographs in tests/unit/edge/redact/data, as they
  are and pasted at 1/3 and 1/6 of the frame height into 1280x720 industrial frames;
* person-free: synthetic factory frames, and (when ../shared is present) magnetic-tile
  inspection images: the false-redaction rate.

A person counts as redacted when >= 80% of their visible pixels and >= 95% of their
visible head are hidden (see lineguard.edge.redact.evaluation._metrics for why).

Run:  .venv/bin/python bench/bench_redaction.py [--scenes 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from lineguard.edge.redact import PersonRedactor, Redacted
from lineguard.edge.redact._geometry import grow_box
from lineguard.edge.redact.evaluation import (
    FalseRedaction,
    PersonTruth,
    RecallReport,
    Scene,
    industrial_background,
    synthetic_scenes,
)

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "tests" / "unit" / "edge" / "redact" / "data"
TILES = ROOT.parent / "shared" / "datasets" / "magnetic-tile"

HideFn = Callable[[np.ndarray], np.ndarray]


def skin_baseline(image: np.ndarray) -> np.ndarray:
    """Baseline: skin-coloured pixels (YCrCb), blobs' boxes grown by 30% like ours."""
    ycrcb = cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb)
    skin = cv2.inRange(ycrcb, (0, 135, 85), (255, 180, 135))
    skin = cv2.morphologyEx(skin, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(skin)
    hidden = np.zeros(image.shape[:2], bool)
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < 30:
            continue
        box = grow_box(x, y, x + w, y + h, frame_hw=image.shape[:2], side=0.3, top=0.3, bottom=0.3)
        if box is not None:
            hidden[box.y0 : box.y1, box.x0 : box.x1] = True
    return hidden


def _box_truth(person: list[int], head: list[int], hw: tuple[int, int]) -> PersonTruth:
    mask = np.zeros(hw, bool)
    mask[person[1] : person[3], person[0] : person[2]] = True
    head_mask = np.zeros(hw, bool)
    head_mask[head[1] : head[3], head[0] : head[2]] = True
    return PersonTruth(
        mask=mask, head=head_mask & mask, facing="front", height_px=person[3] - person[1], occluded=False
    )


def real_scenes() -> list[Scene]:
    labels = json.loads((PHOTOS / "people.json").read_text())["images"]
    rng = np.random.default_rng(42)
    scenes = []
    for name, people in labels.items():
        image = cv2.imread(str(PHOTOS / name))
        hw = image.shape[:2]
        truth = [_box_truth(p["person"], p["head"], hw) for p in people]
        scenes.append(Scene(f"real:{name}", image, tuple(truth)))
        for fraction in (1 / 3, 1 / 6):
            frame = industrial_background(rng, 720, 1280)
            scale = 720 * fraction / hw[0]
            small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            x = int(rng.integers(0, 1280 - small.shape[1]))
            y = int(rng.integers(0, 720 - small.shape[0]))
            frame[y : y + small.shape[0], x : x + small.shape[1]] = small
            moved = [
                _box_truth(
                    [round(v * scale) + o for v, o in zip(p["person"], (x, y, x, y), strict=True)],
                    [round(v * scale) + o for v, o in zip(p["head"], (x, y, x, y), strict=True)],
                    (720, 1280),
                )
                for p in people
            ]
            scenes.append(Scene(f"real:{name}@{fraction:.2f}", frame, tuple(moved)))
    return scenes


def person_free_frames(count: int) -> list[tuple[str, np.ndarray]]:
    frames = [(s.name, s.image) for s in synthetic_scenes(count, seed=99, with_people=False)]
    if TILES.is_dir():
        for path in sorted(TILES.rglob("*.jpg"))[:count]:
            image = cv2.imread(str(path))
            if image is not None:
                frames.append((f"tile:{path.name}", image))
    return frames


def cue_masks(result: Redacted) -> dict[str, np.ndarray]:
    """Hidden pixels per cue, from the regions each cue produced (no extra model runs)."""
    out = {cue: np.zeros(result.hidden.shape, bool) for cue in ("segmentation", "body", "face")}
    for region in result.regions:
        b = region.box
        out[region.source][b.y0 : b.y1, b.x0 : b.x1] = True
    out["all"] = result.hidden
    return out


def ms_per_frame(fn: Callable[[np.ndarray], object], image: np.ndarray, repeats: int) -> tuple[float, float]:
    """Median wall-clock ms and median CPU ms (all threads) per call.

    CPU time is reported because the development machine's two cores are shared: under
    load the wall clock measures the queue, CPU time still measures the work.
    """
    fn(image)
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(image)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenes", type=int, default=200, help="synthetic scenes with people (640x480)")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per frame size")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--speed-only", action="store_true", help="skip the recall measurement")
    args = parser.parse_args()

    redactor = PersonRedactor()
    sets: dict[str, list[Scene]] = (
        {}
        if args.speed_only
        else {"synthetic": synthetic_scenes(args.scenes, seed=2026), "real": real_scenes()}
    )
    figures: dict[str, dict[str, object]] = {}
    for set_name, scenes in sets.items():
        reports = {k: RecallReport() for k in ("all", "segmentation", "body", "face", "skin-baseline")}
        by_kind: Counter[str] = Counter()
        missed_kind: Counter[str] = Counter()
        for scene in scenes:
            misses_before = len(reports["all"].misses)
            result = redactor.redact(scene.image, "black")
            masks = cue_masks(result) | {"skin-baseline": skin_baseline(scene.image)}
            for key, report in reports.items():
                report.add(scene.name, masks[key], scene.people)
            for person in scene.people:
                by_kind[person.facing] += 1
                by_kind["occluded" if person.occluded else "unoccluded"] += 1
            for _name, index, _, _ in reports["all"].misses[misses_before:]:
                person = scene.people[index]
                missed_kind[person.facing] += 1
                missed_kind["occluded" if person.occluded else "unoccluded"] += 1
        print(f"\n== {set_name}: {len(scenes)} frames, {reports['all'].people} people")
        for key, report in reports.items():
            print(
                f"  {key:<14} recall {report.recall:6.1%} ({report.redacted}/{report.people})"
                f"   pixel coverage {report.coverage:6.1%}"
            )
        breakdown = {k: f"{by_kind[k] - missed_kind[k]}/{by_kind[k]}" for k in sorted(by_kind)}
        print(f"  redacted by kind (all cues): {breakdown}")
        print(f"  misses (frame, person, body hidden, head hidden): {reports['all'].misses[:12]}")
        figures[set_name] = {
            key: {"recall": r.recall, "coverage": r.coverage, "people": r.people, "redacted": r.redacted}
            for key, r in reports.items()
        } | {"by_kind": breakdown, "misses": reports["all"].misses}

    free = [] if args.speed_only else person_free_frames(max(20, args.scenes // 4))
    figures["person_free"] = {}
    for source in ("synthetic", "tile"):
        frames = [image for name, image in free if name.startswith(source)]
        if not frames:
            continue
        ours, base = FalseRedaction(), FalseRedaction()
        for image in frames:
            ours.add(redactor.redact(image, "blur").hidden)
            base.add(skin_baseline(image))
        print(f"\n== person-free frames ({source}): {len(frames)}")
        for key, fr in (("ours", ours), ("skin-baseline", base)):
            print(
                f"  {key:<14} frames with anything hidden {fr.frame_rate:6.1%}"
                f"   mean share of frame hidden {fr.mean_hidden_fraction:6.1%}"
            )
        figures["person_free"][source] = {
            "frames": len(frames),
            "ours": {"frame_rate": ours.frame_rate, "mean_hidden": ours.mean_hidden_fraction},
            "skin_baseline": {"frame_rate": base.frame_rate, "mean_hidden": base.mean_hidden_fraction},
        }

    print(f"\n== speed (median of {args.repeats}, onnxruntime intra-op threads = 2)")
    timing: dict[str, dict[str, float]] = {}
    for height, width in ((480, 640), (720, 1280)):
        image = synthetic_scenes(1, seed=7, height=height, width=width)[0].image
        ours_ms, ours_cpu = ms_per_frame(lambda im: redactor.redact(im, "blur"), image, args.repeats)
        base_ms, base_cpu = ms_per_frame(skin_baseline, image, args.repeats)
        timing[f"{width}x{height}"] = {
            "ours_ms": ours_ms,
            "ours_cpu_ms": ours_cpu,
            "baseline_ms": base_ms,
            "baseline_cpu_ms": base_cpu,
        }
        print(
            f"  {width}x{height}: ours {ours_ms:7.1f} ms/frame (CPU {ours_cpu:7.1f} ms)"
            f"   skin baseline {base_ms:6.1f} ms (CPU {base_cpu:6.1f} ms)"
            f"   ratio {ours_ms / base_ms:5.1f}x wall, {ours_cpu / max(base_cpu, 1e-3):5.1f}x CPU"
        )
    figures["speed"] = timing
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
