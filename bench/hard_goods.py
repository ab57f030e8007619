"""Which good images limit the operating point? (#24: recall at 1 % false rejects)

    .venv/bin/python bench/hard_goods.py --cache CACHE --configs "default,neighbourhood 1 cov"

On a set's fixed split (``bench_generalisation``'s split, features from its cache), for
each configuration: the highest-scoring test goods with their standardised local peak,
global z-score and the branch that decided the score, the threshold that 1 % false
rejects needs (the ``ceil(0.01 n)``-th highest good) and how many defects lie below it, by
type. At 270 test goods, 1 % false rejects is the 3rd-highest good: two or three unusual
goods set the recall figure, so it is worth knowing what they are.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_generalisation import (
    CONFIGS,
    SHARED,
    LocalModel,
    _z,
    desc_view,
    embedding,
    fit_precision,
    peak,
    splits,
    whitening,
)
from generalisation_data import extract, real_sets
from lineguard.vision.scoring import LowRankGaussian


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--only", default="magnetic-tile")
    parser.add_argument("--configs", default="default")
    parser.add_argument("--top", type=int, default=8, help="goods listed per config")
    parser.add_argument("--cache", type=Path, required=True)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    sets = [s for s in real_sets(args.data) if args.only in s.name]
    for s in sets:
        goods = extract(s.goods, cache=args.cache, tag=f"{s.name} goods", transform=s.condition, threads=1)
        bad = extract(s.defects, cache=args.cache, tag=f"{s.name} defects", transform=s.condition, threads=1)
        sp = splits(s, 0)[0]
        for name in (n.strip() for n in args.configs.split(",")):
            cfg = CONFIGS[name]
            lp = cfg.lowpass
            g_goods, g_bad = goods, bad
            if lp is not None:
                g_goods = extract(
                    s.goods, cache=args.cache, tag=f"{s.name} goods", transform=s.condition, lowpass=lp
                )
                g_bad = extract(
                    s.defects, cache=args.cache, tag=f"{s.name} defects", transform=s.condition, lowpass=lp
                )
            mean, prec = fit_precision(embedding(goods.take(sp.fit), cfg.local_layers), cfg)
            model = LocalModel(
                torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(whitening(prec, cfg.storage))
            )
            groups = {"hold": goods.take(sp.hold), "test": goods.take(sp.test), "bad": bad}
            loc = {
                g: peak(model.dist(embedding(f, cfg.local_layers)), cfg.sigma, top=cfg.top)
                for g, f in groups.items()
            }
            gm = LowRankGaussian.fit(desc_view(g_goods.desc[sp.fit], cfg.global_parts), max_rank=cfg.rank)
            gd = {
                "hold": gm.distance(desc_view(g_goods.desc[sp.hold], cfg.global_parts)),
                "test": gm.distance(desc_view(g_goods.desc[sp.test], cfg.global_parts)),
                "bad": gm.distance(desc_view(g_bad.desc, cfg.global_parts)),
            }
            zl = {g: _z(loc[g], loc["hold"], cfg.norm) for g in loc}
            zg = {g: _z(gd[g], gd["hold"], cfg.norm) for g in gd}
            score = {g: np.maximum(zl[g], zg[g]) for g in zl}
            order = np.argsort(-score["test"])
            k = int(np.ceil(0.01 * len(order)))
            th = score["test"][order[k - 1]]
            missed = score["bad"] <= th
            types = np.asarray(s.defect_types)
            by_type = {
                t: f"{int((missed & (types == t)).sum())}/{int((types == t).sum())}"
                for t in sorted(set(types))
            }
            print(
                f"\n{s.name} fixed split, {name}: 1 % FRR threshold = {k}th good, score {th:.2f}; "
                f"recall {1 - missed.mean():.3f}; missed by type {by_type}"
            )
            print(
                f"  held-out goods: max z_local {zl['hold'].max():.2f}, max z_global {zg['hold'].max():.2f}"
            )
            test_paths = [s.goods[i] for i in sp.test]
            for r, i in enumerate(order[: args.top]):
                branch = "local" if zl["test"][i] >= zg["test"][i] else "global"
                print(
                    f"  {r + 1:>2}. {test_paths[i].name:<40} score {score['test'][i]:6.2f}  "
                    f"z_local {zl['test'][i]:6.2f}  z_global {zg['test'][i]:6.2f}  ({branch})"
                )
            near = np.sort(score["bad"][missed])[-5:]
            print(f"  highest missed defects: {', '.join(f'{v:.2f}' for v in near)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
