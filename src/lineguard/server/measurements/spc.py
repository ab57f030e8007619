"""Statistical process control on one characteristic: X̄/R charts, Cp/Cpk, Western Electric rules.

Consecutive measurements form subgroups of :data:`SUBGROUP` (5, the usual for parts from
one machine). The **baseline** is the first :data:`BASELINE_SUBGROUPS` subgroups of the
characteristic (phase I: the process as it was set up): its grand mean is the centre
line, its mean range R̄ sets the limits (X̄ chart: x̿ ± A₂R̄; R chart: D₃R̄ … D₄R̄) and the
process sigma σ̂ = R̄ / d₂, from which Cp = (USL − LSL) / 6σ̂ and
Cpk = min(USL − x̿, x̿ − LSL) / 3σ̂.

Later subgroup means are tested against the baseline with the **Western Electric rules**
(zones of σ_x̄ = A₂R̄ / 3 around the centre):

1. one mean beyond 3σ (outside the control limits);
2. two of three consecutive means beyond 2σ, on the same side;
3. four of five consecutive means beyond 1σ, on the same side;
4. eight consecutive means on the same side of the centre line.

Rules 2–4 see a shift or a trend long before parts leave the tolerance: that is their
point. A rule *fires* at a subgroup when the run ending there breaks it and the run
ending at the subgroup before did not (a new episode, not the same one again).

Which rules are tested is a choice (``rules=``): each added rule finds a drift sooner and
raises more false signals on a stable process. ``bench/bench_spc.py`` measures both for
each set (docs/benchmarks.md); :data:`DEFAULT_RULES` is the set chosen with those numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "BASELINE_SUBGROUPS",
    "DEFAULT_RULES",
    "RULES",
    "SUBGROUP",
    "Chart",
    "Firing",
    "chart",
    "firings",
]

SUBGROUP = 5
BASELINE_SUBGROUPS = 20
#: Control-chart constants for subgroups of 5.
A2, D3, D4, D2 = 0.577, 0.0, 2.114, 2.326

RULES: dict[int, str] = {
    1: "one subgroup mean beyond 3 sigma",
    2: "two of three subgroup means beyond 2 sigma on the same side",
    3: "four of five subgroup means beyond 1 sigma on the same side",
    4: "eight subgroup means in a row on the same side of the centre line",
}
#: The rules tested unless a characteristic's settings say otherwise (bench/bench_spc.py).
DEFAULT_RULES: tuple[int, ...] = (1, 2)
#: The longest run a rule looks at (rule 4: eight means).
_LOOK_BACK = 8


@dataclass(frozen=True, slots=True)
class Chart:
    #: Absolute index of each subgroup (0 = the characteristic's first five values).
    indices: list[int]
    means: list[float]
    ranges: list[float]
    centre: float
    mean_range: float
    ucl: float
    lcl: float
    r_ucl: float
    r_lcl: float
    #: Process sigma estimated from the baseline's ranges.
    sigma: float
    cp: float | None
    cpk: float | None
    #: Subgroups in the baseline (fewer than BASELINE_SUBGROUPS while the chart is young).
    baseline: int


@dataclass(frozen=True, slots=True)
class Firing:
    rule: int
    #: Absolute index of the subgroup at which the rule fired.
    subgroup: int
    mean: float
    side: str  # "above" / "below" the centre line


def _groups(values: Sequence[float]) -> list[Sequence[float]]:
    return [values[i : i + SUBGROUP] for i in range(0, len(values) - SUBGROUP + 1, SUBGROUP)]


def chart(
    values: Sequence[float],
    lower: float | None,
    upper: float | None,
    *,
    later: Sequence[float] = (),
    later_start: int | None = None,
) -> Chart | None:
    """The chart of ``values`` (oldest first; its first subgroups are the baseline), and of
    ``later`` values whose first subgroup has absolute index ``later_start`` (a long
    history is read as its beginning and its recent end). ``None`` before two subgroups."""
    head = _groups(values)
    tail = _groups(later)
    start = later_start if later_start is not None else len(head)
    groups = [*head, *tail]
    indices = [*range(len(head)), *range(start, start + len(tail))]
    if len(groups) < 2:
        return None
    means = [sum(g) / SUBGROUP for g in groups]
    ranges = [max(g) - min(g) for g in groups]
    base = min(len(head), BASELINE_SUBGROUPS)
    base = base if base >= 2 else min(len(groups), BASELINE_SUBGROUPS)
    centre = sum(means[:base]) / base
    mean_range = sum(ranges[:base]) / base
    sigma = mean_range / D2
    cp = cpk = None
    if sigma > 0 and lower is not None and upper is not None:
        cp = (upper - lower) / (6 * sigma)
    margins = [
        m
        for m in (None if upper is None else upper - centre, None if lower is None else centre - lower)
        if m is not None
    ]
    if sigma > 0 and margins:
        cpk = min(margins) / (3 * sigma)
    return Chart(
        indices=indices,
        means=means,
        ranges=ranges,
        centre=centre,
        mean_range=mean_range,
        ucl=centre + A2 * mean_range,
        lcl=centre - A2 * mean_range,
        r_ucl=D4 * mean_range,
        r_lcl=D3 * mean_range,
        sigma=sigma,
        cp=cp,
        cpk=cpk,
        baseline=base,
    )


def _breaks(rule: int, zones: Sequence[float], end: int) -> str | None:
    """The side on which the run ending at position ``end`` breaks ``rule``, or ``None``."""
    if end < 0:
        return None
    for side, sign in (("above", 1.0), ("below", -1.0)):
        z = [sign * v for v in zones[max(end + 1 - _LOOK_BACK, 0) : end + 1]]
        if rule == 1 and z[-1] > 3:
            return side
        if rule == 2 and len(z) >= 3 and sum(v > 2 for v in z[-3:]) >= 2 and z[-1] > 2:
            return side
        if rule == 3 and len(z) >= 5 and sum(v > 1 for v in z[-5:]) >= 4 and z[-1] > 1:
            return side
        if rule == 4 and len(z) >= 8 and all(v > 0 for v in z[-8:]):
            return side
    return None


def firings(result: Chart, *, since: int = 0, rules: Sequence[int] = DEFAULT_RULES) -> list[Firing]:
    """``rules`` that fire at subgroups with absolute index ``since`` or later, after the baseline.

    Runs are taken over the chart's subgroups in order; a history read as its beginning
    and its end joins them, which can only start a run late, never invent one (the
    rules need consecutive subgroups beyond the same limit)."""
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        msg = f"unknown Western Electric rule(s) {unknown}: the rules are {sorted(RULES)}"
        raise ValueError(msg)
    sigma_mean = A2 * result.mean_range / 3
    if result.baseline < BASELINE_SUBGROUPS or sigma_mean <= 0 or not math.isfinite(sigma_mean):
        return []
    zones = [(m - result.centre) / sigma_mean for m in result.means]
    out = []
    for position, index in enumerate(result.indices):
        if index < max(since, BASELINE_SUBGROUPS):
            continue
        for rule in rules:
            side = _breaks(rule, zones, position)
            if side is not None and _breaks(rule, zones, position - 1) != side:
                out.append(Firing(rule, index, result.means[position], side))
    return out
