"""Gauging a part that crosses the view: one frame, the most centred frame, or the mean of several.

    nice -n 5 .venv/bin/python bench/bench_gauging_views.py                 # the default cells below
    nice -n 5 .venv/bin/python bench/bench_gauging_views.py --cells 1280:1.8:uneven --frames 5,8

A part on a belt is seen in several frames as it crosses the camera. The bracket of
bench_gauging.py (same calibrated cameras, spec, lightings, placements and statistics)
is rendered at ``--frames`` positions along the belt, ``--travel`` mm either side of its
placement (it stays fully in view), each frame with fresh sensor noise, ``--repeats``
times per placement. Three ways to gauge it, on the same images:

* **one frame** — what the node did before: the decisive frame is the one with the highest
  anomaly score, which has nothing to do with geometry, so here a frame drawn at random;
* **most centred** — the frame whose part centre is nearest the principal point
  (``Gauge.read_views(..., max_views=1)``: least distortion and perspective left over);
* **mean of n** — each length averaged over the n most centred frames (``Gauge.read_views``,
  what the stage does now with n = ``measure.MAX_VIEWS``).

Per cell (resolution, blur, lighting) the worst 6·GRR over the characteristics against the
target (6·GRR ≤ 1/10 of the tightest band, 0.010 mm), and the hole diameter's bias.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from bench_gauging import LIGHTINGS, PLACEMENTS, SPEC, TIGHTEST_BAND, TRUTH, _calibrate, _stats
from lineguard.edge.gauging import Gauge, load_spec
from lineguard.edge.gauging.render import BracketTruth, Lighting, SimCamera, render_bracket

DEFAULT_CELLS = "640:0.8:even,960:1.8:even,1280:0.8:uneven,1280:1.8:uneven"


def _frames(
    camera: SimCamera,
    at: tuple[float, float],
    angle: float,
    blur: float,
    light: Lighting,
    n: int,
    travel: float,
) -> list[np.ndarray]:
    """Noise-free renders of the part at ``n`` positions along the belt (x), centred on ``at``."""
    return [
        render_bracket(
            camera,
            BracketTruth(at_mm=(at[0] + dx, at[1]), angle_deg=angle),
            lighting=Lighting(light.background, light.part, light.gradient, blur, 0.0),
            supersample=3,
        ).astype(np.float64)
        for dx in np.linspace(-travel, travel, n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", default=DEFAULT_CELLS, help="width:blur:lighting, comma-separated")
    parser.add_argument("--frames", default="5", help="frames per crossing; several: a row for each")
    parser.add_argument("--travel", type=float, default=15.0, help="mm either side of the placement")
    parser.add_argument("--placements", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    spec, _ = load_spec(SPEC)
    target = TIGHTEST_BAND / 10
    names = [*TRUTH, "bottom_straightness"]
    print(
        f"target 6·GRR ≤ {target:.3f} mm; travel ±{args.travel} mm; "
        f"{args.placements} placements x {args.repeats} repeats"
    )
    print(
        "res   blur light   frames  method         worst 6·GRR mm  (characteristic)   hole_a bias mm  ms/part"
    )
    gauges: dict[int, tuple[Gauge, SimCamera]] = {}
    for cell in args.cells.split(","):
        width_s, blur_s, light_name = cell.split(":")
        width, blur, light = int(width_s), float(blur_s), LIGHTINGS[light_name]
        if width not in gauges:
            camera = SimCamera.scaled(width)
            gauges[width] = (Gauge(spec, _calibrate(camera)[0]), camera)
        gauge, camera = gauges[width]
        roi = (0, 0, camera.width, camera.height)
        for n in [int(f) for f in args.frames.split(",")]:
            rng = np.random.default_rng(width * 10 + n)
            methods = ["one frame", "most centred", f"mean of {n}"]
            values = {m: {c: [] for c in names} for m in methods}
            spent = dict.fromkeys(methods, 0.0)
            for at, angle in PLACEMENTS[: args.placements]:
                clean = _frames(camera, at, angle, blur, light, n, args.travel)
                for m in methods:
                    for c in names:
                        values[m][c].append([])
                for _ in range(args.repeats):
                    images = [
                        np.clip(
                            np.rint(f + rng.normal(0, light.noise_sigma, f.shape[:2])[..., None]), 0, 255
                        ).astype(np.uint8)
                        for f in clean
                    ]
                    pick = int(rng.integers(0, n))
                    started = time.perf_counter()
                    one = gauge.read(images[pick], roi)
                    spent["one frame"] += time.perf_counter() - started
                    started = time.perf_counter()
                    centred = gauge.read_views(images, roi, max_views=1)
                    spent["most centred"] += time.perf_counter() - started
                    started = time.perf_counter()
                    fused = gauge.read_views(images, roi, max_views=n)
                    spent[f"mean of {n}"] += time.perf_counter() - started
                    for m, reading in zip(methods, (one, centred, fused), strict=True):
                        got = {x.characteristic: x.value for x in reading.measurements}
                        for c in names:
                            values[m][c][-1].append(got.get(c, math.nan))
            parts = args.placements * args.repeats
            for m in methods:
                stats = {c: _stats(values[m][c], TRUTH.get(c, 0.0)) for c in names}
                grr = {c: 6 * math.hypot(ev, av) for c, (_, ev, av) in stats.items()}
                worst = max(grr, key=lambda c: grr[c])
                ok = "yes" if grr[worst] <= target else "no"
                print(
                    f"{width:>4}  {blur:3.1f}  {light_name:<6}  {n:>6}  {m:<13}  {grr[worst]:8.4f} {ok:<3}  "
                    f"({worst:<19})  {stats['hole_a_diameter'][0]:+10.4f}  {1000 * spent[m] / parts:7.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
