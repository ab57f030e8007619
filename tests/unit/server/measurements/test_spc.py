"""X̄/R limits, Cp/Cpk and the Western Electric rules on series of known statistics."""

from __future__ import annotations

import numpy as np
import pytest

from lineguard.server.measurements.spc import (
    BASELINE_SUBGROUPS,
    DEFAULT_RULES,
    RULES,
    SUBGROUP,
    chart,
    firings,
)

NOMINAL, SIGMA = 8.0, 0.01
LOWER, UPPER = 7.9, 8.1


def _stable(n: int, seed: int = 0, mean: float = NOMINAL) -> list[float]:
    return list(np.random.default_rng(seed).normal(mean, SIGMA, n))


BASE = BASELINE_SUBGROUPS * SUBGROUP


def test_limits_and_capability_of_a_stable_process() -> None:
    result = chart(_stable(2000), LOWER, UPPER)
    assert result is not None
    assert result.centre == pytest.approx(NOMINAL, abs=3 * SIGMA / np.sqrt(BASE))
    assert result.sigma == pytest.approx(SIGMA, rel=0.25)  # from 20 subgroups' ranges
    assert result.cp == pytest.approx((UPPER - LOWER) / (6 * SIGMA), rel=0.25)
    assert result.cpk is not None and result.cp is not None and result.cpk <= result.cp
    assert result.ucl - result.centre == pytest.approx(3 * result.sigma / np.sqrt(SUBGROUP), rel=0.01)


def test_a_stable_process_raises_few_signals() -> None:
    # The four rules together give a false signal about every 90 subgroups of an in-control
    # process (their known in-control run length); a 20-subgroup baseline adds its own error.
    for seed in range(3):
        hits = firings(chart(_stable(2000, seed=seed), LOWER, UPPER))  # type: ignore[arg-type]
        assert len(hits) < (2000 // SUBGROUP - BASELINE_SUBGROUPS) / 25, (seed, hits)


def test_a_slow_drift_is_flagged_long_before_any_part_is_out_of_tolerance() -> None:
    stable = _stable(BASE, seed=2)
    rng = np.random.default_rng(3)
    drift = [NOMINAL + 0.0004 * i + rng.normal(0, SIGMA) for i in range(400)]  # +0.16 mm over 400 parts
    values = stable + drift
    hits = firings(chart(values, LOWER, UPPER))  # type: ignore[arg-type]
    assert hits, "the drift was not seen"
    first = hits[0]
    first_value = (first.subgroup + 1) * SUBGROUP  # the value that completed the subgroup
    first_out = next(i for i, v in enumerate(values) if not LOWER <= v <= UPPER)
    assert first.side == "above"
    assert first_value < first_out - 50, (first_value, first_out)


def test_each_rule_fires_once_per_episode() -> None:
    values = _stable(BASE, seed=4)
    values += [NOMINAL + 0.09, *_stable(4, seed=5)]  # one subgroup far out: rule 1
    values += _stable(40, seed=6, mean=NOMINAL + 0.012)  # a sustained shift of ~2.7 sigma of the mean
    every = tuple(RULES)
    hits = firings(chart(values, LOWER, UPPER), rules=every)  # type: ignore[arg-type]
    rules = [h.rule for h in hits]
    assert rules[0] == 1 and hits[0].subgroup == BASELINE_SUBGROUPS
    assert rules.count(4) == 1  # eight in a row above: one signal, not one per subgroup
    assert firings(chart(values, LOWER, UPPER), since=BASELINE_SUBGROUPS + 9, rules=every) == []  # type: ignore[arg-type]


def test_only_the_chosen_rules_are_tested_and_the_default_is_rules_1_and_2() -> None:
    values = _stable(BASE, seed=4) + _stable(40, seed=6, mean=NOMINAL + 0.012)
    result = chart(values, LOWER, UPPER)
    assert result is not None
    every = {h.rule for h in firings(result, rules=(1, 2, 3, 4))}
    assert {3, 4} <= every
    assert {h.rule for h in firings(result, rules=(1, 4))} == every & {1, 4}
    assert DEFAULT_RULES == (1, 2)  # bench/bench_spc.py: a third of the false items of 1-4
    assert {h.rule for h in firings(result)} == every & {1, 2}
    with pytest.raises(ValueError, match=r"unknown Western Electric rule\(s\) \[5\]"):
        firings(result, rules=(1, 5))


def test_a_young_chart_tests_nothing_and_one_sided_limits_give_cpk_only() -> None:
    assert chart([8.0] * 7, LOWER, UPPER) is None
    young = chart(_stable(50), LOWER, UPPER)
    assert young is not None and young.baseline == 10 and firings(young) == []
    straightness = chart([abs(v - NOMINAL) for v in _stable(200)], 0.0, 0.05)
    assert straightness is not None and straightness.cpk is not None
    upper_only = chart(_stable(200), None, UPPER)
    assert upper_only is not None and upper_only.cp is None and upper_only.cpk is not None
    flat = chart([8.0] * 200, LOWER, UPPER)
    assert flat is not None and flat.cp is None and firings(flat) == []
