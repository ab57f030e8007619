"""Named defect classes and few-shot detection from k labelled defects per type (issues #14, #24).

    .venv/bin/python bench/bench_defect_classes.py                  # ../shared/datasets/magnetic-tile
    .venv/bin/python bench/bench_defect_classes.py --draws 20 --json bench/results/defect_classes.json

The detector is trained once on DATA/train/good exactly as ``lineguard model train`` does
(same hash split, same zero-shot threshold at 1 % false rejects on the held-out goods).
Every image of the held-out goods and of DATA/test is scored once; its score and its
main-region vector (what a labelled image contributes to a class) are cached under
``--cache`` keyed by the dataset's digest, so later runs take seconds.

Then, for k = 1, 5, 10 and ``--draws`` random draws (seeded), k images per defect type
are taken out of test/<defect> as the labelled examples (``train/<defect>``) and never
evaluated:

1. **Classes** — every other defective test image is classified by its main region:
   per-class accuracy, macro-F1 over the known types (``unknown_anomaly`` counts as a
   miss), the share called unknown.
2. **Unknown type** — each type in turn is held out entirely (classes fitted on the
   others): the share of the held-out type called ``unknown_anomaly`` vs a wrong class,
   and the known types' accuracy in the same fit.
3. **Few-shot detection** (#24) — image AUROC and recall at 1 % false rejects on
   test/good + the remaining defects for: the zero-shot score (k = 0, what ships);
   the zero-shot threshold vs a threshold calibrated on the labelled defects
   (``calibrate_threshold``, as ``validation/<defect>`` does); and a discriminative
   layer: a logistic regression on (anomaly score, distance to the nearest defect
   prototype) fitted on the held-out goods and the labelled defects. That layer was the
   first round's (worse than zero-shot, docs/detection.md); what ships is the few-shot
   image score of ``vision.fewshot``, measured on every set by ``bench_few_shot.py``.

Means ± sd over draws. The machine's load average is printed: wall times on a shared
machine are inflated, figures are not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lineguard.vision.calibration import calibrate_threshold  # noqa: E402
from lineguard.vision.classes import UNKNOWN_CLASS, DefectClassifier  # noqa: E402
from lineguard.vision.classfit import fit_classes  # noqa: E402
from lineguard.vision.dataset import dataset_digest, scan_dataset  # noqa: E402
from lineguard.vision.metrics import auroc, recall_at_frr  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "magnetic-tile"
KS = (1, 5, 10)


def extract(data: Path, cache_dir: Path, threads: int, fit_goods: int | None = None) -> dict[str, np.ndarray]:
    """Scores and main-region vectors of held-out goods and every test image (cached).

    ``fit_goods``: train on an evenly spaced subset of that many good images instead of all
    of them (a bounded run on a loaded machine; the detector is then a little weaker, and
    the figures are reported as such).
    """
    ds = scan_dataset(data, require_test=True)
    goods = list(ds.train_good)
    if fit_goods is not None and fit_goods < len(goods):
        goods = sorted(goods)[:: max(1, len(goods) // fit_goods)][:fit_goods]
    key = dataset_digest(data, [*goods, *(i.path for i in ds.test)])[:16]
    # "relmap": region vectors cut relative to the map (vision.regions), not above the threshold.
    subset = "" if fit_goods is None else f"_goods{len(goods)}"
    cache = cache_dir / f"defect_classes_relmap{subset}_{key}.npz"
    if cache.is_file():
        print(f"features: cached {cache}")
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    import torch

    from lineguard.vision.classfit import labelled_vectors
    from lineguard.vision.train import TrainConfig, fit_detector, load_inputs, split_holdout

    t0 = time.perf_counter()
    fit_paths, hold_paths = split_holdout(data, goods, 0.15)
    fitted = fit_detector(fit_paths, hold_paths, TrainConfig(threads=threads))
    threshold = calibrate_threshold(fitted.holdout_scores, target_frr=0.01).value
    torch.set_num_threads(threads)

    def run(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
        scores, vecs = [], []
        for i in range(0, len(paths), 16):
            batch = load_inputs(paths[i : i + 16], 256)
            scores.append(fitted.score(batch)[0])
            vecs.append(labelled_vectors(fitted.detector, batch, fitted.region_level))
        return np.concatenate(scores), np.concatenate(vecs)

    hold_scores, hold_vecs = run(list(hold_paths))
    test_scores, test_vecs = run([i.path for i in ds.test])
    out = {
        "threshold": np.asarray(threshold),
        "hold_scores": hold_scores,
        "hold_vecs": hold_vecs,
        "test_scores": test_scores,
        "test_vecs": test_vecs,
        "test_labels": np.asarray([i.label for i in ds.test]),
        "extract_s": np.asarray(time.perf_counter() - t0),
    }
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **out)  # type: ignore[arg-type]
    print(f"features: extracted in {float(out['extract_s']):.0f} s → {cache}")
    return out


def macro_f1(true: list[str], pred: list[str], classes: list[str]) -> float:
    f1s = []
    for c in classes:
        tp = sum(t == c and p == c for t, p in zip(true, pred, strict=True))
        fp = sum(t != c and p == c for t, p in zip(true, pred, strict=True))
        fn = sum(t == c and p != c for t, p in zip(true, pred, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(f1s))


def logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Weights (bias last) of an L2 logistic regression, class-balanced, by Newton steps."""
    xb = np.c_[x, np.ones(len(x))]
    sw = np.where(y == 1, 0.5 / max(1, y.sum()), 0.5 / max(1, (1 - y).sum())) * len(y)
    w = np.zeros(xb.shape[1])
    reg = l2 * np.eye(xb.shape[1])
    reg[-1, -1] = 0
    for _ in range(50):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (sw * (p - y)) + reg @ w
        hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb + reg + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w


def one_draw(f: dict[str, np.ndarray], k: int, rng: np.random.Generator) -> dict[str, object]:
    labels = f["test_labels"]
    types = sorted(set(labels) - {"good"})
    picked = {t: rng.choice(np.flatnonzero(labels == t), size=k, replace=False) for t in types}
    lab_idx = np.concatenate(list(picked.values()))
    rest = np.setdiff1d(np.flatnonzero(labels != "good"), lab_idx)
    vecs = f["test_vecs"]
    spec = fit_classes(vecs[lab_idx], [str(labels[i]) for i in lab_idx])
    clf = DefectClassifier(spec)
    pred = clf.assign(vecs[rest])
    true = [str(labels[i]) for i in rest]
    per_class = {
        t: float(np.mean([p == t for p, tt in zip(pred, true, strict=True) if tt == t])) for t in types
    }
    out: dict[str, object] = {
        "per_class": per_class,
        "accuracy": float(np.mean([p == t for p, t in zip(pred, true, strict=True)])),
        "macro_f1": macro_f1(true, pred, types),
        "unknown_share": float(np.mean([p == UNKNOWN_CLASS for p in pred])),
        "nearest_accuracy": float(
            np.mean(
                [spec.names[j] == t for j, t in zip(clf.distances(vecs[rest]).argmin(1), true, strict=True)]
            )
        ),
    }
    # Unknown type: hold each type out entirely.
    held: dict[str, dict[str, float]] = {}
    for h in types:
        keep = np.concatenate([picked[t] for t in types if t != h])
        c = DefectClassifier(fit_classes(vecs[keep], [str(labels[i]) for i in keep]))
        h_idx = np.flatnonzero(labels == h)
        p_h = c.assign(vecs[h_idx])
        known_rest = [i for i in rest if labels[i] != h]
        p_k = c.assign(vecs[known_rest])
        held[h] = {
            "unknown": float(np.mean([p == UNKNOWN_CLASS for p in p_h])),
            "wrong_class": float(np.mean([p != UNKNOWN_CLASS for p in p_h])),
            "known_accuracy": float(np.mean([p == labels[i] for p, i in zip(p_k, known_rest, strict=True)])),
        }
    out["held_out"] = held
    # Few-shot detection on test/good + remaining defects.
    good = np.flatnonzero(labels == "good")
    ev = np.r_[good, rest]
    y = np.r_[np.zeros(len(good)), np.ones(len(rest))]
    s = f["test_scores"]
    thr0 = float(f["threshold"])
    thr_l = calibrate_threshold(f["hold_scores"], s[lab_idx]).value
    dist = lambda v: clf.distances(v).min(1)  # noqa: E731
    x_train = np.c_[np.r_[f["hold_scores"], s[lab_idx]], np.r_[dist(f["hold_vecs"]), dist(vecs[lab_idx])]]
    y_train = np.r_[np.zeros(len(f["hold_scores"])), np.ones(len(lab_idx))]
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-9
    w = logistic((x_train - mu) / sd, y_train)
    x_ev = (np.c_[s[ev], dist(vecs[ev])] - mu) / sd
    lr = x_ev @ w[:-1] + w[-1]
    out["detect"] = {
        "auroc_zero_shot": auroc(y, s[ev]),
        "recall1_zero_shot": recall_at_frr(y, s[ev], 0.01),
        "auroc_lr": auroc(y, lr),
        "recall1_lr": recall_at_frr(y, lr, 0.01),
        "recall_thr_zero": float((s[rest] > thr0).mean()),
        "frr_thr_zero": float((s[good] > thr0).mean()),
        "recall_thr_labelled": float((s[rest] > thr_l).mean()),
        "frr_thr_labelled": float((s[good] > thr_l).mean()),
    }
    return out


def summarise(draws: list[dict[str, object]], path: tuple[str, ...]) -> tuple[float, float]:
    vals = []
    for d in draws:
        v: object = d
        for p in path:
            v = v[p]  # type: ignore[index]
        vals.append(float(v))  # type: ignore[arg-type]
    return float(np.mean(vals)), float(np.std(vals))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "lineguard-bench")
    parser.add_argument(
        "--fit-goods",
        type=int,
        default=None,
        help="train the detector on this many evenly spaced good images (default: all); bounded runs",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()} on {os.cpu_count()} CPUs")
    t0 = time.perf_counter()
    feats = extract(args.data, args.cache, args.threads, args.fit_goods)
    types = sorted(set(feats["test_labels"]) - {"good"})
    results: dict[str, object] = {"load_start": os.getloadavg(), "fit_goods": args.fit_goods or "all"}
    fmt = lambda m: f"{m[0]:.3f} ± {m[1]:.3f}"  # noqa: E731
    for k in KS:
        rng = np.random.default_rng(1000 + k)
        draws = [one_draw(feats, k, rng) for _ in range(args.draws)]
        row = {
            "accuracy": summarise(draws, ("accuracy",)),
            "macro_f1": summarise(draws, ("macro_f1",)),
            "nearest_accuracy": summarise(draws, ("nearest_accuracy",)),
            "unknown_share": summarise(draws, ("unknown_share",)),
            "per_class": {t: summarise(draws, ("per_class", t)) for t in types},
            "held_out": {
                t: {
                    m: summarise(draws, ("held_out", t, m))
                    for m in ("unknown", "wrong_class", "known_accuracy")
                }
                for t in types
            },
            "detect": {m: summarise(draws, ("detect", m)) for m in draws[0]["detect"]},  # type: ignore[union-attr]
        }
        results[f"k={k}"] = row
        print(f"\nk = {k} ({args.draws} draws)")
        print(
            f"  accuracy {fmt(row['accuracy'])}  macro-F1 {fmt(row['macro_f1'])}  "
            f"nearest-prototype accuracy (no cut-off) {fmt(row['nearest_accuracy'])}  "
            f"called unknown {fmt(row['unknown_share'])}"
        )
        print("  per class: " + ", ".join(f"{t} {fmt(v)}" for t, v in row["per_class"].items()))  # type: ignore[attr-defined]
        for t, v in row["held_out"].items():  # type: ignore[attr-defined]
            print(
                f"  held out {t:8s}: unknown {fmt(v['unknown'])}  wrong class {fmt(v['wrong_class'])}  "
                f"known types' accuracy {fmt(v['known_accuracy'])}"
            )
        print("  detection: " + ", ".join(f"{m} {fmt(v)}" for m, v in row["detect"].items()))  # type: ignore[attr-defined]
    results["seconds"] = time.perf_counter() - t0
    results["load_end"] = os.getloadavg()
    print(f"\n{results['seconds']:.0f} s; load average at end: {results['load_end']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
