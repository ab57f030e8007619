"""SPC rule sets: false drift items on a stable process against how soon each sees a drift.

Each Western Electric rule added to a chart sees a drift sooner and raises more false
``spc_drift`` review items on a process that has not moved. For each rule set this
benchmark measures both, on simulated characteristics charted exactly as the server
charts them (``lineguard.server.measurements.spc``: subgroups of 5, a baseline of the
first 20 subgroups, a firing = a rule starting to break):

* **false items per 1,000 parts**: ``--stable`` characteristics of ``--parts`` parts each
  from a process that never moves (normal, σ = 0.025 mm on a ±0.1 mm tolerance: Cp 1.33,
  the usual least capability asked of a process; the false rate does not depend on σ or
  Cp, only on the process not moving), every firing after the baseline counted (each
  opens an item);
* **detection delay** for three changes starting 100 parts after the baseline: a drift
  of the mean by 1σ every 25 parts, a slower one (1σ every 100 parts) and a step of 1σ. Delay = parts from the
  change to the value that completes the first firing subgroup (median and 90th percentile
  over ``--drifts`` runs); for the drifts also the **margin**: parts from that signal to
  the first part out of tolerance (negative: the signal came late).

Baseline in the same run: rule 1 alone (a plain X̄ chart with 3σ limits).

Run:  .venv/bin/python bench/bench_spc.py [--stable 200] [--parts 2000] [--drifts 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from lineguard.server.measurements.spc import BASELINE_SUBGROUPS, SUBGROUP, Firing, chart, firings

NOMINAL, SIGMA, LOWER, UPPER = 8.0, 0.025, 7.9, 8.1
BASE = BASELINE_SUBGROUPS * SUBGROUP
RULE_SETS: dict[str, tuple[int, ...]] = {
    "1 (baseline)": (1,),
    "1-2": (1, 2),
    "1-3": (1, 2, 3),
    "1-4": (1, 2, 3, 4),
    "1, 2, 4": (1, 2, 4),
}
START = BASE + 100  # the change starts 100 parts after the baseline
CHANGES: dict[str, Callable[[int], float]] = {
    "drift 1σ/25 parts": lambda i: SIGMA * i / 25,
    "drift 1σ/100 parts": lambda i: SIGMA * i / 100,
    "step 1σ": lambda i: SIGMA,
}


def _hits(values: np.ndarray, rules: tuple[int, ...]) -> list[Firing]:
    result = chart([float(v) for v in values], LOWER, UPPER)
    assert result is not None  # every series is longer than two subgroups
    return firings(result, rules=rules)


def _false_rate(rules: tuple[int, ...], series: list[np.ndarray]) -> float:
    count = sum(len(_hits(s, rules)) for s in series)
    parts = sum(len(s) - BASE for s in series)
    return 1000 * count / parts


def _delays(rules: tuple[int, ...], runs: list[np.ndarray]) -> tuple[list[int], list[int]]:
    delays: list[int] = []
    margins: list[int] = []
    for values in runs:
        hits = [h for h in _hits(values, rules) if h.subgroup * SUBGROUP >= START - SUBGROUP]
        if not hits:
            delays.append(len(values) - START)  # not seen: counted as the run's length
            continue
        seen = (hits[0].subgroup + 1) * SUBGROUP
        delays.append(seen - START)
        out = np.flatnonzero((values < LOWER) | (values > UPPER))
        if len(out):
            margins.append(int(out[0]) - seen)
    return delays, margins


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stable", type=int, default=200, help="stable characteristics")
    parser.add_argument("--parts", type=int, default=2000, help="parts per stable characteristic")
    parser.add_argument("--drifts", type=int, default=200, help="runs per change")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.monotonic()
    stable = [rng.normal(NOMINAL, SIGMA, args.parts) for _ in range(args.stable)]
    length = START + 1200
    runs = {}
    for name, shift in CHANGES.items():
        offsets = np.array([0.0 if i < START else shift(i - START) for i in range(length)])
        runs[name] = [rng.normal(NOMINAL, SIGMA, length) + offsets for _ in range(args.drifts)]
    print(
        f"{args.stable} stable characteristics x {args.parts} parts; {args.drifts} runs per change; "
        f"σ {SIGMA} mm, tolerance ±{UPPER - NOMINAL:g} mm, subgroups of {SUBGROUP}, baseline {BASE} parts"
    )
    header = "| rules | false items / 1,000 parts |"
    header += "".join(f" {name}: delay median / p90 (parts) |" for name in CHANGES)
    header += " margin before first out-of-tolerance part, median (drift 1σ/25, 1σ/100) |"
    print(header)
    print("|" + " --- |" * (3 + len(CHANGES)))
    for label, rules in RULE_SETS.items():
        rate = _false_rate(rules, stable)
        cells, margins = [], []
        for name in CHANGES:
            delays, margin = _delays(rules, runs[name])
            cells.append(f"{np.median(delays):.0f} / {np.percentile(delays, 90):.0f}")
            if name.startswith("drift"):
                margins.append(f"{np.median(margin):.0f}" if margin else "n/a")
        print(f"| {label} | {rate:.2f} | " + " | ".join(cells) + f" | {', '.join(margins)} |", flush=True)
    print(f"\n{time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
