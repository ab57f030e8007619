"""Few-shot detection on every set of the suite (issue #24, item 2).

    nice .venv/bin/python bench/bench_few_shot.py                       # every set, fixed + 1 random split
    nice .venv/bin/python bench/bench_few_shot.py --only magnetic --draws 20 --splits 2

For each set of the generalisation suite (real sets under ``../shared/datasets``, the
synthetic line under three seeds and conditions, ``--synthetic-size`` goods and defects
per type) and each split (the fixed one, then ``--splits`` random splits of the pooled
goods, as ``bench_generalisation``), the branch scores of every image are computed once
(``few_shot_data``, cached). Then for k = 0, 1, 5, 10 labelled defects per type and
``--draws`` seeded draws, k images of each type are taken out of the test defects as the
labelled examples and **never evaluated**; on the test goods + the remaining defects:

* **zero-shot** — the shipped score ``max(z_local, z_global)``;
* **few-shot** — the fusion and local weight ``vision.fewshot.fit_local_weight`` chooses
  on the split's held-out goods and the k labelled defects (k = 0: zero-shot);
* image AUROC and recall at 1 % false rejects (of the test goods) for both, the chosen
  weight, and at the package's threshold (1 % quantile of the held-out goods, as
  training sets it) the false-reject rate and recall of both.

Means ± sd over draws and splits; every figure line carries the load average.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from few_shot_cells import cell_evidence  # noqa: E402
from few_shot_data import Branches, set_branches  # noqa: E402
from few_shot_global import global_evidence, split_energies  # noqa: E402
from few_shot_patch import PatchData, choose_patch_weight, patch_evidence, split_patch_data  # noqa: E402
from generalisation_data import ImageSet, real_sets, synthetic_sets  # noqa: E402
from lineguard.vision.calibration import calibrate_threshold, wilson_interval  # noqa: E402
from lineguard.vision.fewshot import ZERO_SHOT, fit_local_weight, fused  # noqa: E402
from lineguard.vision.metrics import auroc, recall_at_frr  # noqa: E402

KS = (0, 1, 5, 10)


def _z(values: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return (values - ref.mean()) / max(float(ref.std()), 1e-6)


def one_draw(
    br: dict[str, Branches],
    types: np.ndarray,
    k: int,
    rng: np.random.Generator,
    patch: tuple[PatchData, str, int, float] | None = None,
    global_weighting: tuple[dict[str, np.ndarray], float, float] | None = None,
) -> dict[str, float]:
    zl = {g: _z(b.local, br["hold"].local) for g, b in br.items()}
    zg = {g: _z(b.glob, br["hold"].glob) for g, b in br.items()}
    names = sorted(set(types))
    picked = np.concatenate(
        [rng.choice(np.flatnonzero(types == t), size=k, replace=False) for t in names]
        if k
        else [np.zeros(0, int)]
    ).astype(int)
    rest = np.setdiff1d(np.arange(len(types)), picked)
    weight = fit_local_weight(zl["hold"], zg["hold"], zl["bad"][picked], zg["bad"][picked])
    y = np.r_[np.zeros(len(zl["test"])), np.ones(len(rest))]
    out: dict[str, float] = {"weight": weight.local, "sum": float(weight.fusion == "sum")}
    for name, (fusion, w) in (("zero", ZERO_SHOT), ("few", (weight.fusion, weight.local))):
        good = fused(zl["test"], zg["test"], w, fusion)
        bad = fused(zl["bad"][rest], zg["bad"][rest], w, fusion)
        scores = np.r_[good, bad]
        th = calibrate_threshold(fused(zl["hold"], zg["hold"], w, fusion), target_frr=0.01).value
        out |= {
            f"{name}_auroc": auroc(y, scores),
            f"{name}_recall1": recall_at_frr(y, scores, 0.01),
            f"{name}_frr_th": float((good > th).mean()),
            f"{name}_recall_th": float((bad > th).mean()),
        }
        if k and name == "few":  # the operating point as training states it (item 3), against the test
            caught = int((fused(zl["bad"][picked], zg["bad"][picked], w, fusion) > th).sum())
            low, high = wilson_interval(caught, len(picked))
            test_recall = out["few_recall_th"]
            out |= {
                "stated_recall_th": caught / len(picked),
                "stated_ci_covers": float(low <= test_recall <= high),
            }
    if global_weighting is not None and k:  # defect-aware weights of the global distance (few_shot_global)
        energy, cap, alpha = global_weighting
        zgw, loo = global_evidence(energy, picked, cap, alpha)
        alt = fit_local_weight(zl["hold"], zgw["hold"], zl["bad"][picked], loo)
        taken = alt.separation > weight.separation + 1e-12  # strictly better, as the shipped choice
        for name, (zg_use, chosen) in (("gw", (zgw, alt) if taken else (zg, weight)), ("gwf", (zgw, alt))):
            good = fused(zl["test"], zg_use["test"], chosen.local, chosen.fusion)
            bad = fused(zl["bad"][rest], zg_use["bad"][rest], chosen.local, chosen.fusion)
            scores = np.r_[good, bad]
            th = calibrate_threshold(
                fused(zl["hold"], zg_use["hold"], chosen.local, chosen.fusion), target_frr=0.01
            ).value
            out |= {
                f"{name}_auroc": auroc(y, scores),
                f"{name}_recall1": recall_at_frr(y, scores, 0.01),
                f"{name}_frr_th": float((good > th).mean()),
            }
        out["gw_taken"] = float(taken)
        alone = np.r_[zgw["test"], zgw["bad"][rest]]
        out["gw_alone_recall1"] = recall_at_frr(y, alone, 0.01)
        out["global_alone_recall1"] = recall_at_frr(y, np.r_[zg["test"], zg["bad"][rest]], 0.01)
    if patch is not None:  # the patch-level evidence on top of the few-shot score (few_shot_patch)
        pd, kind, rank, alpha = patch
        fw, ff = weight.local, weight.fusion
        few = {g: fused(zl[g], zg[g], fw, ff) for g in zl}
        v = 0.0
        if k:
            evidence = cell_evidence if kind in ("proto", "logit") else patch_evidence
            zp, loo = evidence(pd, picked, kind, rank, alpha)
            v = choose_patch_weight(few["hold"], zp["hold"], few["bad"][picked], loo)
        else:
            zp = {g: np.zeros(len(few[g])) for g in few}
        good, bad = few["test"] + v * zp["test"], few["bad"][rest] + v * zp["bad"][rest]
        scores = np.r_[good, bad]
        th = calibrate_threshold(few["hold"] + v * zp["hold"], target_frr=0.01).value
        out |= {
            "patch_weight": v,
            "patch_auroc": auroc(y, scores),
            "patch_recall1": recall_at_frr(y, scores, 0.01),
            "patch_frr_th": float((good > th).mean()),
            "patch_recall_th": float((bad > th).mean()),
        }
        if k:  # the patch evidence alone, and with a fixed weight 1 (diagnostics)
            alone = np.r_[zp["test"], zp["bad"][rest]]
            out["patch_alone_auroc"] = auroc(y, alone)
            out["patch_alone_recall1"] = recall_at_frr(y, alone, 0.01)
            out["patch_w1_recall1"] = recall_at_frr(y, scores + (1 - v) * alone, 0.01)
            # the evidence in the local branch's place in the shipped choice (its labelled
            # defects read leave-one-out), the global branch as shipped
            swap = fit_local_weight(zp["hold"], zg["hold"], loo, zg["bad"][picked])
            swapped = np.r_[
                fused(zp["test"], zg["test"], swap.local, swap.fusion),
                fused(zp["bad"][rest], zg["bad"][rest], swap.local, swap.fusion),
            ]
            out["patch_swap_recall1"] = recall_at_frr(y, swapped, 0.01)
            out["patch_swap_auroc"] = auroc(y, swapped)
            out["patch_swap_sum"] = float(swap.fusion == "sum")
            out["patch_swap_weight"] = swap.local
            # the product's rule: the swap only where it separates the labelled defects (read
            # leave-one-out) strictly better than the shipped choice on the local branch does
            either = swap.separation > weight.separation + 1e-12
            out["patch_either_taken"] = float(either)
            out["patch_either_recall1"] = out["patch_swap_recall1"] if either else out["few_recall1"]
    return out


def _line(name: str, k: int, row: dict[str, Any]) -> str:
    def f(m: str) -> str:
        return f"{row[m][0]:.3f} ± {row[m][1]:.3f}"

    head = f"  {name} k={k:2d}"
    lines = [
        f"{head} ({row['n']} draws): zero-shot AUROC {f('zero_auroc')} rec@1% {f('zero_recall1')} | "
        f"few-shot AUROC {f('few_auroc')} rec@1% {f('few_recall1')} (worst draw vs zero "
        f"{row['few_minus_zero_recall1_min']:+.3f}, below in {row['few_below_zero']}), "
        f"sum chosen {row['sum'][0]:.2f}, weight {f('weight')} | at the threshold: zero FRR "
        f"{row['zero_frr_th'][0]:.3f} rec {row['zero_recall_th'][0]:.3f}, few FRR {row['few_frr_th'][0]:.3f} "
        f"rec {row['few_recall_th'][0]:.3f} (load {os.getloadavg()[0]:.1f})"
    ]
    if "stated_recall_th" in row:  # item 3: what training states from the labelled defects
        lines.append(
            f"{head} operating point: recall at the threshold stated from the labelled defects "
            f"{f('stated_recall_th')}, on the test {f('few_recall_th')}; the stated 95 % CI covers "
            f"the test's in {row['stated_ci_covers'][0]:.0%} of draws"
        )
    if "patch_auroc" in row:
        patch = (
            f"{head} patch: AUROC {f('patch_auroc')} rec@1% {f('patch_recall1')} (vs zero worst "
            f"{row['patch_minus_zero_recall1_min']:+.3f}, below in {row['patch_below_zero']}; vs few-shot "
            f"below in {row['patch_below_few']}), weight {f('patch_weight')}, at the threshold FRR "
            f"{row['patch_frr_th'][0]:.3f} rec {row['patch_recall_th'][0]:.3f}"
        )
        if "patch_alone_auroc" in row:
            patch += (
                f"; evidence alone AUROC {f('patch_alone_auroc')} rec@1% {f('patch_alone_recall1')}, "
                f"weight 1 rec@1% {f('patch_w1_recall1')}, in the local branch's place rec@1% "
                f"{f('patch_swap_recall1')}"
            )
        if "patch_swap_recall1" in row:  # the swap's decision figures: draws below zero-shot / few-shot
            patch += (
                f"\n{head} swap: rec@1% {f('patch_swap_recall1')} AUROC {f('patch_swap_auroc')} (vs zero "
                f"worst {row['swap_minus_zero_recall1_min']:+.3f}, below zero-shot in "
                f"{row['swap_below_zero']}/{row['n']} draws; vs few-shot worst "
                f"{row['swap_minus_few_recall1_min']:+.3f}, below in {row['swap_below_few']}), sum chosen "
                f"{row['patch_swap_sum'][0]:.2f}, weight {f('patch_swap_weight')}"
                f"\n{head} swap where it separates better: rec@1% {f('patch_either_recall1')} (taken in "
                f"{row['patch_either_taken'][0]:.0%}; below zero-shot in {row['either_below_zero']}/"
                f"{row['n']} draws, worst {row['either_minus_zero_recall1_min']:+.3f}; below few-shot in "
                f"{row['either_below_few']})"
            )
        lines.append(patch)
    if "gw_auroc" in row:
        lines.append(
            f"{head} global weighting: chosen AUROC {f('gw_auroc')} rec@1% {f('gw_recall1')} (taken in "
            f"{row['gw_taken'][0]:.0%}; below zero-shot in {row['gw_below_zero']}, below few-shot in "
            f"{row['gw_below_few']}), FRR at the threshold {row['gw_frr_th'][0]:.3f} | always: AUROC "
            f"{f('gwf_auroc')} rec@1% {f('gwf_recall1')} | weighted global alone rec@1% "
            f"{f('gw_alone_recall1')} (plain global alone {f('global_alone_recall1')})"
        )
    return "\n".join(lines)


def run_set(s: ImageSet, args: argparse.Namespace, log: Any) -> dict[str, Any]:
    types = np.asarray(s.defect_types)
    per_type = min(np.bincount(np.unique(types, return_inverse=True)[1]))
    result: dict[str, Any] = {
        "goods": len(s.goods),
        "defects": len(s.defects),
        "types": len(set(types)),
        "k": {},
    }
    sigma, _, step = args.global_input.partition("/")
    lowpass = (float(sigma), int(step or 1)) if sigma else None
    all_splits = set_branches(s, args.splits, args.feature_cache, args.cache, args.threads, log, lowpass)
    patches: list[tuple[PatchData, str, int, float] | None] = [None] * len(all_splits)
    if args.patch:
        kind, rank, alpha = args.patch.split(":")
        pds = split_patch_data(
            s, args.splits, args.feature_cache, args.cache, args.threads, log, args.split_index
        )
        if args.ignore_masks:  # as a product trained on labelled images without masks sees them
            pds = [
                None if pd is None else dataclasses.replace(pd, cover=np.full_like(pd.cover, np.nan))
                for pd in pds
            ]
        patches = [None if pd is None else (pd, kind, int(rank), float(alpha)) for pd in pds]
    energies: list[dict[str, np.ndarray] | None] = [None] * len(all_splits)
    gw = (0.0, 0.0)
    if args.global_weighting:
        grouping, cap, alpha = args.global_weighting.split(":")
        gw = (float(cap), float(alpha))
        energies = list(
            split_energies(s, args.splits, args.feature_cache, args.threads, log, lowpass, grouping)
        )
    for k in args.ks:
        if k >= per_type:
            log(f"  {s.name}: k = {k} skipped (a type has only {per_type} defects)")
            continue
        draws = [
            one_draw(
                br,
                types,
                k,
                np.random.default_rng([24, k, d, si]),
                patches[si],
                None if (e := energies[si]) is None else (e, *gw),
            )
            for si, (_, br) in enumerate(all_splits)
            if args.split_index in (None, si)
            for d in range(1 if k == 0 else args.draws)
        ]
        row = {
            m: (float(np.mean([d[m] for d in draws])), float(np.std([d[m] for d in draws]))) for m in draws[0]
        }
        row["few_minus_zero_recall1_min"] = float(min(d["few_recall1"] - d["zero_recall1"] for d in draws))
        row["few_below_zero"] = sum(d["few_recall1"] < d["zero_recall1"] - 1e-12 for d in draws)
        if "patch_recall1" in draws[0]:
            row["patch_minus_zero_recall1_min"] = float(
                min(d["patch_recall1"] - d["zero_recall1"] for d in draws)
            )
            row["patch_below_zero"] = sum(d["patch_recall1"] < d["zero_recall1"] - 1e-12 for d in draws)
            row["patch_below_few"] = sum(d["patch_recall1"] < d["few_recall1"] - 1e-12 for d in draws)
        if "patch_swap_recall1" in draws[0]:  # the decision count (#24 eleventh session)
            for rule, base in itertools.product(("swap", "either"), ("zero", "few")):
                gap = [d[f"patch_{rule}_recall1"] - d[f"{base}_recall1"] for d in draws]
                row[f"{rule}_minus_{base}_recall1_min"] = float(min(gap))
                row[f"{rule}_below_{base}"] = sum(g < -1e-12 for g in gap)
        if "gw_recall1" in draws[0]:
            row["gw_below_zero"] = sum(d["gw_recall1"] < d["zero_recall1"] - 1e-12 for d in draws)
            row["gw_below_few"] = sum(d["gw_recall1"] < d["few_recall1"] - 1e-12 for d in draws)
        row["n"] = len(draws)
        result["k"][k] = row
        log(_line(s.name, k, row))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--splits", type=int, default=1, help="random splits besides the fixed one")
    parser.add_argument("--draws", type=int, default=10, help="seeded draws of the labelled defects per k")
    parser.add_argument("--only", default=None, help="only the sets whose name contains this")
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument(
        "--synthetic-size", default="80,30,20", help="train goods, test goods, per defect type"
    )
    parser.add_argument(
        "--ks",
        type=lambda v: tuple(int(x) for x in v.split(",")),
        default=KS,
        help="labelled defects per type, comma-separated (default 0,1,5,10)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--global-input",
        default="2.5",
        help="the global branch's input: SIGMA[/STEP] low-pass as shipped (TrainConfig.global_lowpass), "
        "'' = the local branch's pass (the default before #24's fifth session)",
    )
    parser.add_argument(
        "--feature-cache",
        type=Path,
        default=ROOT / "bench" / "results" / "cache" / "generalisation",
        help="backbone features (shared with bench_generalisation)",
    )
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / "results" / "cache" / "few_shot")
    parser.add_argument(
        "--patch",
        default="",
        help="KIND:RANK:ALPHA adds the patch-level evidence (few_shot_patch: quad, lin or ratio; subspace "
        "rank or ratio cap, shrinkage towards the goods; few_shot_cells: proto, prototypes per labelled "
        "image; logit, hard negatives per held-out good and L2 penalty) on top of the few-shot score, "
        "e.g. quad:8:0.3, proto:16:0, logit:4:0.1",
    )
    parser.add_argument(
        "--split-index",
        type=int,
        default=None,
        help="only this split (0 = fixed, 1.. = random ones; same seeds): one process per split",
    )
    parser.add_argument(
        "--ignore-masks",
        action="store_true",
        help="--patch reads no defect masks: each labelled image's cells come from its whole grid",
    )
    parser.add_argument(
        "--global-weighting",
        default="",
        help="GROUPING:CAP:ALPHA weights the global distance's energy groups (channel or part, and the "
        "basis) by the labelled defects' energy over the goods' (few_shot_global; shrunk towards 1 by "
        "ALPHA, capped at CAP), e.g. channel:4:0.5",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    def log(msg: str) -> None:
        print(msg, flush=True)

    import torch

    torch.set_num_threads(args.threads)  # the branch fits and patch maps too, not only the backbone
    log(f"load average at start: {os.getloadavg()} on {os.cpu_count()} CPUs")
    t0, c0 = time.perf_counter(), time.process_time()
    sets = real_sets(args.data)
    if not args.no_synthetic:
        n_train, n_test, per = (int(x) for x in args.synthetic_size.split(","))
        sets += synthetic_sets(args.cache / "datasets", n_train, n_test, per)
    if args.only:
        sets = [s for s in sets if args.only in s.name]
    report = {s.name: run_set(s, args, log) for s in sets}
    log(
        f"{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU; "
        f"load average at end: {os.getloadavg()}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
