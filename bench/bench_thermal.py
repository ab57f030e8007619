"""Thermal monitoring benchmark: detection delay and false alarms per day on generated sequences.

The generated motor scene (``lineguard.edge.thermal.synthetic``: a day/night ambient swing,
two shifts with an hour-to-hour load variation, a 30-minute thermal lag, 0.15 °C sensor noise)
at one frame a minute. Per seed the monitor learns its bands on 7 normal days, then watches:

* **normal**: 7 more days without a fault — every alarm and recommendation is false;
* **overheat** at 0.25, 0.5 and 1 °C/h on the motor, from a random time on the first day —
  delay to the first motor alarm and to the maintenance recommendation;
* **hot spot** of +6 and +12 °C on the bearing — delay to the bearing alarm;
* **dropout** for an hour: zeros (a dead link) and no frames at all — delay to the
  sensor_dropout alarm, and any temperature alarm while it lasts (false).

Baseline in the same run, on the same frames: one fixed threshold per asset (the hottest
pixel seen while learning + 2 °C, the same 3-frame confirmation, no hour-of-day band, no
trend, no dropout check) — the alarm a plant sets by hand.

Run:  .venv/bin/python bench/bench_thermal.py [--seeds 2] [--normal-days 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import random
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from lineguard.config.thermal import ThermalStageConfig
from lineguard.edge.thermal import ThermalFrame, ThermalMonitor
from lineguard.edge.thermal.synthetic import SCENE_ROIS, Fault, ThermalScene

T0 = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
PERIOD = dt.timedelta(minutes=1)
LEARN_DAYS = 7
CONFIG = ThermalStageConfig(rois=SCENE_ROIS)


class FixedThreshold:
    """The baseline: per asset, the learned maximum + 2 °C, confirmed over 3 frames."""

    def __init__(self) -> None:
        self.limits = {r.asset: -1e9 for r in SCENE_ROIS}
        self.runs = dict.fromkeys(self.limits, 0)
        self.active = dict.fromkeys(self.limits, False)

    def learning(self, frames: Iterator[ThermalFrame]) -> Iterator[ThermalFrame]:
        """Pass frames through, keeping each asset's hottest pixel; limits = that + 2 °C."""
        for f in frames:
            for r in SCENE_ROIS:
                roi = f.celsius[r.y : r.y + r.height, r.x : r.x + r.width]
                self.limits[r.asset] = max(self.limits[r.asset], float(np.nanmax(roi)) + 2.0)
            yield f

    def observe(self, frame: ThermalFrame) -> list[str]:
        raised = []
        for r in SCENE_ROIS:
            roi = frame.celsius[r.y : r.y + r.height, r.x : r.x + r.width]
            hot = bool(np.nanmax(roi) > self.limits[r.asset])
            if hot != self.active[r.asset]:
                self.runs[r.asset] += 1
                if self.runs[r.asset] >= CONFIG.confirm_frames:
                    self.active[r.asset], self.runs[r.asset] = hot, 0
                    if hot:
                        raised.append(r.asset)
            else:
                self.runs[r.asset] = 0
        return raised


@dataclass
class Run:
    name: str
    seed: int
    fault_start: dt.datetime | None
    alarms: list[tuple[dt.datetime, str, str]] = field(default_factory=list)  # (at, kind, asset)
    recommendations: list[tuple[dt.datetime, str]] = field(default_factory=list)
    baseline: list[tuple[dt.datetime, str]] = field(default_factory=list)


def _watch(
    name: str, seed: int, monitor: ThermalMonitor, baseline: FixedThreshold, fault: Fault | None, days: float
) -> Run:
    start = T0 + dt.timedelta(days=LEARN_DAYS)
    # The same hour-to-hour load pattern as while learning: the line goes on, it does not restart.
    scene = ThermalScene(seed=seed, faults=(fault,) if fault else (), epoch=T0)
    run = Run(name, seed, fault.start if fault else None)
    at = start
    while at < start + dt.timedelta(days=days):
        frame = scene.frame(at)
        at += PERIOD
        if frame is None:  # nothing arrived this minute: the node's timer asks the monitor
            silence = monitor.check_silence(at - PERIOD)
            if silence is not None:
                run.alarms.append((silence.raised_at, silence.kind, silence.asset))
            continue
        seen = monitor.observe(frame)
        run.alarms += [(a.raised_at, a.kind, a.asset) for a in seen.alarms]
        run.recommendations += [(r.raised_at, r.asset) for r in seen.recommendations]
        run.baseline += [(frame.captured_at, asset) for asset in baseline.observe(frame)]
    return run


def _delay_h(run: Run, *, kinds: set[str], asset: str) -> float | None:
    assert run.fault_start is not None
    hits = [at for at, kind, a in run.alarms if kind in kinds and a == asset and at >= run.fault_start]
    return (min(hits) - run.fault_start).total_seconds() / 3600 if hits else None


def _first_h(events: list[tuple[dt.datetime, str]], start: dt.datetime, asset: str) -> float | None:
    hits = [at for at, a in events if a == asset and at >= start]
    return (min(hits) - start).total_seconds() / 3600 if hits else None


def _fmt(values: list[float | None]) -> str:
    found = [v for v in values if v is not None]
    missed = len(values) - len(found)
    if not found:
        return f"not detected ({missed}/{len(values)})"
    text = f"{statistics.median(found):.2f} h (max {max(found):.2f})"
    return text + (f", missed {missed}/{len(values)}" if missed else "")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--normal-days", type=float, default=7.0)
    parser.add_argument("--fault-days", type=float, default=2.0)
    parser.add_argument("--json", type=str, default="")
    args = parser.parse_args()
    runs: list[Run] = []
    clock = time.monotonic()
    for seed in range(1, args.seeds + 1):
        rng = random.Random(seed)
        learned, base = ThermalMonitor(CONFIG), FixedThreshold()
        learned.learn(
            base.learning(ThermalScene(seed=seed).frames(T0, T0 + dt.timedelta(days=LEARN_DAYS), PERIOD))
        )
        watch = T0 + dt.timedelta(days=LEARN_DAYS)

        def at_random(rng: random.Random = rng, watch: dt.datetime = watch) -> dt.datetime:
            return watch + dt.timedelta(minutes=rng.randrange(60, 23 * 60))

        scenarios: list[tuple[str, Fault | None, float]] = [("normal", None, args.normal_days)]
        scenarios += [
            (f"overheat {r} °C/h", Fault("overheat", at_random(), rate_c_per_h=r), args.fault_days)
            for r in (0.25, 0.5, 1.0)
        ]
        scenarios += [
            (f"hot spot +{s:.0f} °C", Fault("hot_spot", at_random(), step_c=s), 1.0) for s in (6.0, 12.0)
        ]
        scenarios += [
            (
                f"dropout {kind}",
                Fault("dropout", at_random(), duration=dt.timedelta(hours=1), missing=kind == "missing"),
                1.0,
            )
            for kind in ("zeros", "missing")
        ]
        for name, fault, days in scenarios:
            runs.append(_watch(name, seed, copy.deepcopy(learned), copy.deepcopy(base), fault, days))
            print(f"  seed {seed}: {name} done ({time.monotonic() - clock:.0f} s)", flush=True)

    normal = [r for r in runs if r.name == "normal"]
    days = args.normal_days * len(normal)
    false_alarms = sum(len(r.alarms) for r in normal)
    false_recs = sum(len(r.recommendations) for r in normal)
    base_false = sum(len(r.baseline) for r in normal)
    print()
    print(f"normal operation: {days:.0f} camera-days (4 assets, 1 frame/min)")
    print(f"  monitor: {false_alarms} false alarms = {false_alarms / days:.2f}/day", end="")
    print(f"; {false_recs} false maintenance recommendations")
    print(f"  fixed threshold (baseline): {base_false} false alarms = {base_false / days:.2f}/day")
    print()
    print("| fault | monitor: first alarm | monitor: recommendation | fixed threshold (baseline) |")
    print("| --- | --- | --- | --- |")
    for name in dict.fromkeys(r.name for r in runs if r.name != "normal"):
        of = [r for r in runs if r.name == name]
        if name.startswith("overheat"):
            first = [_delay_h(r, kinds={"hot_spot", "delta_t"}, asset="motor") for r in of]
            rec = [_first_h(r.recommendations, r.fault_start, "motor") for r in of]  # type: ignore[arg-type]
            base = [_first_h(r.baseline, r.fault_start, "motor") for r in of]  # type: ignore[arg-type]
        elif name.startswith("hot spot"):
            first = [_delay_h(r, kinds={"hot_spot", "delta_t"}, asset="bearing") for r in of]
            rec = [_first_h(r.recommendations, r.fault_start, "bearing") for r in of]  # type: ignore[arg-type]
            base = [_first_h(r.baseline, r.fault_start, "bearing") for r in of]  # type: ignore[arg-type]
        else:
            first = [_delay_h(r, kinds={"sensor_dropout"}, asset="camera") for r in of]
            rec, base = [], []
            during = sum(
                1
                for r in of
                for at, kind, _ in r.alarms
                if kind != "sensor_dropout" and r.fault_start <= at <= r.fault_start + dt.timedelta(hours=2)  # type: ignore[operator]
            )
            name += f" (temperature alarms within 2 h: {during})"
        shown_rec = _fmt(rec) if rec else "–"
        shown_base = _fmt(base) if base else "no dropout check"
        print(f"| {name} | {_fmt(first)} | {shown_rec} | {shown_base} |")
    other = sum(
        1 for r in runs if r.fault_start is not None for at, kind, asset in r.alarms if at < r.fault_start
    )
    print(f"\nalarms before a fault started, in the fault runs: {other}")
    print(f"wall time {time.monotonic() - clock:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump([r.__dict__ for r in runs], out, default=str, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
