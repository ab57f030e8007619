"""The demo's inspection stations beside its synthetic line: a gauged bracket, a checked label,
a motor under a thermal camera and a walkway where PPE is counted.

Each station is a camera of the demo node fed from a folder, the way a plant's line-scan
or trigger camera drops images: :class:`~lineguard.cli.demo_feeder.StationFeeder` (in the
``lineguard demo`` process) writes one frame at a time, at a low rate, so the four stations
together cost the node a fraction of the main camera's 8 frames per second.

- **Gauging** (``cam-gauge``, station ``st-20-gauge``): rendered 960 x 720 brackets of known
  geometry (``edge/gauging/render.py``), one every :data:`GAUGE_EVERY_S` seconds, measured
  against the demo bracket's spec; two in :data:`GAUGE_POOL` are out of tolerance (hole A
  bored 8.25 mm, hole C missing). The camera's calibration is rendered board views put
  through ``lineguard gauge calibrate`` and signed with the server's signing key at
  every demo start (its reprojection error is printed); the node trusts the server's
  signer list.
- **Label** (``cam-label``, ``st-30-label``): generated GS1 DataMatrix labels with printed
  text, one every :data:`LABEL_EVERY_S` seconds, checked against the expected label of
  order :data:`LABEL_ORDER`; 3 in :data:`LABEL_POOL` are wrong (lot, date, quantity).
- **Thermal** (``cam-thermal``, ``st-40-motor``): radiometric frames of a motor scene every
  :data:`THERMAL_EVERY_S` seconds. **Time-compressed**: the bands are learned from the
  first :data:`THERMAL_LEARN_S` seconds instead of a week, and the motor heats
  :data:`HEAT_C_PER_MIN` °C a minute (a real fault: about 1 °C an hour), so a
  ``thermal_maintenance`` item appears about five minutes after the start and again every
  cycle (the motor is "repaired" after :data:`HEAT_S` seconds of heating).
- **Walkway** (``cam-walkway``, ``st-50-walkway``): generated workers with and without a
  helmet and a hi-vis vest (``edge/ppe/render.py``, the PPE classifier's own generator),
  one frame every :data:`WALKWAY_EVERY_S` seconds. **PPE counting is off by default in
  the product**; the demo enables it for this camera only, with a legal basis saying the
  people are generated (the governance documents, built from this edge.yaml, say so).
  The door on the right of the frame is a privacy zone (blacked out at capture, never
  looked at); the PPE zone is the walkway's floor beside it and does not overlap it. Only
  counts per zone and hour leave the node, and an hour's counts go out when the hour ends
  or the node stops: **real time, not compressed** (the hour is what the counts
  protect). At one frame every 6 s with one to three people each, a zone-hour holds
  hundreds of sightings, far above the minimum count of :data:`WALKWAY_MIN_COUNT`; a
  run of a few minutes still passes it, and an item lacked fewer times than that shows
  as suppressed.

The stations' cameras run the line's anomaly model too (a node's line has one release, and
model updates swap it into every camera), with its thresholds set out of reach
(:data:`STAGE_ONLY_THRESHOLD`): on these stations the stage alone judges the part.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lineguard.contracts.errors import InputError

__all__ = [
    "GAUGE_CAMERA",
    "LABEL_CAMERA",
    "STATION_CAMERAS",
    "THERMAL_CAMERA",
    "WALKWAY_CAMERA",
    "StationLayout",
    "prepare_stations",
    "station_cameras",
    "thermal_cameras",
    "thermal_learn_s",
]

GAUGE_CAMERA, LABEL_CAMERA, THERMAL_CAMERA = "cam-gauge", "cam-label", "cam-thermal"
WALKWAY_CAMERA = "cam-walkway"
#: The cameras the stations add to the demo node (its enrollment lists them).
STATION_CAMERAS = (GAUGE_CAMERA, LABEL_CAMERA, THERMAL_CAMERA, WALKWAY_CAMERA)

GAUGE_EVERY_S, LABEL_EVERY_S, THERMAL_EVERY_S = 3.0, 4.0, 2.0
#: Anomaly thresholds of the stage-only stations: no score reaches them.
STAGE_ONLY_THRESHOLD = 1.0e9
FRAME_SIZE = (640, 480)
#: The gauging camera's frames: the spec's tightest band (0.1 mm) needs at most 0.143 mm per
#: pixel (the stage refuses a coarser calibration); 960 px across 130 mm gives 0.135.
GAUGE_SIZE = (960, 720)

#: Brackets the feeder cycles through: (hole changed, its diameter; None: the nominal part).
GAUGE_POOL: tuple[tuple[str, float | None] | None, ...] = (
    None, None, None, ("hole_a", 8.25), None, None, None, None, ("hole_c", None), None,
)  # fmt: skip

LABEL_ORDER = "PO-DEMO-7"
LABEL_REGION = {"x": 20, "y": 40, "width": 600, "height": 400}
#: The expected label of the order (what the stage compares with).
EXPECTED_LABEL: dict[str, Any] = {
    "part_number": "4711-0815",
    "gtin": "09501101530003",
    "lot": "A12345",
    "date": "2026-12-05",
    "quantity": 12,
}
#: Labels the feeder cycles through: the fields printed wrong (empty: a correct label).
LABEL_POOL: tuple[dict[str, Any], ...] = (
    {}, {}, {}, {}, {"lot": "A12354"}, {}, {}, {}, {}, {"date": dt.date(2026, 12, 6)},
    {}, {}, {}, {}, {}, {"quantity": 10}, {}, {}, {}, {},
)  # fmt: skip

THERMAL_LEARN_S = 120.0
#: A shorter learning period in seconds (the tests' seam: a first run reaches the motor's first
#: reading sooner, the same way); unset, the motor learns for :data:`THERMAL_LEARN_S`.
THERMAL_LEARN_ENV = "LINEGUARD_DEMO_THERMAL_LEARN_S"
#: The bounds of that variable: the band needs ``min_learn_samples`` (20) frames, one every
#: :data:`THERMAL_EVERY_S`, and 60 s leaves room for frames a loaded machine feeds late.
THERMAL_LEARN_BOUNDS_S = (60.0, 3600.0)
#: Seconds of normal running before the motor starts heating, in every cycle.
NORMAL_S = 60.0
HEAT_S = 300.0
HEAT_C_PER_MIN = 3.0


@dataclass(frozen=True)
class StationLayout:
    """Where the stations keep their files, under the demo's state directory."""

    root: Path

    @property
    def gauge_dir(self) -> Path:
        return self.root / "stations" / "gauge"

    @property
    def gauge_pool(self) -> Path:
        return self.gauge_dir / f"pool-{GAUGE_SIZE[0]}"  # rendered for this resolution

    @property
    def board_views(self) -> Path:
        return self.gauge_dir / f"board-views-{GAUGE_SIZE[0]}"

    @property
    def calibration(self) -> Path:
        return self.gauge_dir / "calibration"

    @property
    def signers(self) -> Path:
        return self.gauge_dir / "signers.json"

    @property
    def spec(self) -> Path:
        return self.gauge_dir / "bracket.yaml"

    @property
    def label_pool(self) -> Path:
        return self.root / "stations" / "label" / "pool"

    @property
    def walkway_pool(self) -> Path:
        return self.root / "stations" / "walkway" / "pool-800"  # rendered for demo_walkway.WALKWAY_SIZE

    @property
    def walkway_fed(self) -> Path:
        """What the feeder fed the walkway, per hour (kept across runs: the server adds up an hour
        split by a restart, so the demo scores the whole hour)."""
        return self.root / "stations" / "walkway" / "fed.json"

    def frames(self, camera_id: str) -> Path:
        """The folder the feeder drops the camera's frames into (the camera watches it)."""
        return self.root / "stations" / "frames" / camera_id


def write_image(path: Path, image: Any) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        msg = f"could not write {path}"
        raise OSError(msg)


def _ensure_gauge_pool(stations: StationLayout, report: Callable[[str], None]) -> None:
    from lineguard.edge.gauging.render import BRACKET, SimCamera, render_bracket

    if len(list(stations.gauge_pool.glob("*.png"))) == len(GAUGE_POOL):
        return
    report(
        f"rendering {len(GAUGE_POOL)} brackets of known geometry for the gauging station (first run only) ..."
    )
    camera = SimCamera.scaled(GAUGE_SIZE[0])
    for i, change in enumerate(GAUGE_POOL):
        truth = BRACKET if change is None else BRACKET.with_hole(*change)
        write_image(stations.gauge_pool / f"{i:02d}.png", render_bracket(camera, truth, seed=100 + i))


def _ensure_label_pool(stations: StationLayout) -> None:
    import numpy as np

    from lineguard.edge.labels.render import Degradation, LabelContent, degrade, place, render_label

    if len(list(stations.label_pool.glob("*.png"))) == len(LABEL_POOL):
        return
    good = LabelContent(
        EXPECTED_LABEL["part_number"],
        EXPECTED_LABEL["gtin"],
        EXPECTED_LABEL["lot"],
        dt.date.fromisoformat(EXPECTED_LABEL["date"]),
        EXPECTED_LABEL["quantity"],
    )
    # What a fixed label camera sees: a slight tilt, a little blur and sensor noise.
    seen = Degradation(perspective=0.015, blur_sigma_px=0.5, noise_std=2.0)
    for i, wrong in enumerate(LABEL_POOL):
        label = degrade(render_label(good.with_(**wrong)), seen, np.random.default_rng(200 + i))
        frame = place(label, frame_size=FRAME_SIZE, at=(LABEL_REGION["x"] + 20, LABEL_REGION["y"] + 20))
        write_image(stations.label_pool / f"{i:02d}.png", frame)


def _ensure_board_views(stations: StationLayout, report: Callable[[str], None]) -> Path:
    """Rendered checkerboard views (first run only); returns the one lying on the part plane."""
    from lineguard.edge.gauging.render import PART_PLANE, SimCamera, board_poses, render_board

    camera = SimCamera.scaled(GAUGE_SIZE[0])
    plane = stations.board_views / "plane" / "flat.png"
    if not plane.exists():
        report("rendering checkerboard views for the gauging camera's calibration (first run only) ...")
        for i, pose in enumerate(board_poses(9, board_mm=(80, 50), seed=3)):
            write_image(stations.board_views / f"view-{i:02d}.png", render_board(camera, pose, seed=i))
        write_image(plane, render_board(camera, PART_PLANE.moved_in_plane(-40, -25), seed=99))
    return plane


def prepare_stations(
    stations: StationLayout,
    *,
    server_config: Path,
    passphrase_file: Path,
    signers: Path,
    run_cli: Callable[..., str],
    report: Callable[[str], None],
) -> None:
    """Frames to feed (first run), the bracket spec, and a fresh signed calibration (every start)."""
    from lineguard.edge.gauging import __file__ as gauging_init

    _ensure_gauge_pool(stations, report)
    _ensure_label_pool(stations)
    stations.gauge_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(gauging_init).parent / "demo_bracket.yaml", stations.spec)
    # `lineguard gauge calibrate` on the board views, signed: a fresh calibration every start.
    plane = _ensure_board_views(stations, report)
    out = run_cli(
        "gauge", "calibrate", "--camera-id", GAUGE_CAMERA, "--images", str(stations.board_views),
        "--plane-image", str(plane), "--columns", "9", "--rows", "6", "--square-mm", "10",
        "--out", str(stations.calibration), "--config", str(server_config),
        "--passphrase-file", str(passphrase_file),
    )  # fmt: skip
    report(f"gauging camera: {out.strip().splitlines()[0] if out.strip() else 'calibrated'}")
    # The node trusts the server's signers (a plant copies the list onto the node the same way).
    shutil.copyfile(signers, stations.signers)
    (stations.root / "stations" / "walkway-ppe.placeholder.yaml").unlink(missing_ok=True)  # older demos
    for camera_id in STATION_CAMERAS:
        folder = stations.frames(camera_id)
        shutil.rmtree(folder, ignore_errors=True)  # a previous run's frames: never fed twice
        folder.mkdir(parents=True)


def _stage_only_camera(
    stations: StationLayout,
    model_dir: Path,
    camera_id: str,
    station_id: str,
    stage: dict[str, Any],
    size: tuple[int, int],
) -> dict[str, Any]:
    return {
        "camera_id": camera_id,
        "station_id": station_id,
        "source": {"type": "folder", "path": str(stations.frames(camera_id)), "poll_interval_ms": 250},
        "model": str(model_dir),
        "roi": {"x": 0, "y": 0, "width": size[0], "height": size[1]},
        # The stage judges these parts; the line's model runs but never fails one.
        "threshold_override": STAGE_ONLY_THRESHOLD,
        "uncertain_margin": 0.0,
        "redaction": "blur",
        "pass_sample_rate": 0.0,
        "parts": {"id_source": "line", "idle_close_s": 0.5, "part_threshold": STAGE_ONLY_THRESHOLD},
        "drift": {"enabled": False},
        "stages": [stage],
    }


def station_cameras(stations: StationLayout, model_dir: Path) -> list[dict[str, Any]]:
    """The gauging and label stations' ``cameras[]`` entries of the demo's edge.yaml."""
    gauging = {
        "kind": "gauging",
        "name": "bracket-holes",
        "calibration": str(stations.calibration),
        "signer_key": str(stations.signers),
        "spec": str(stations.spec),
    }
    label = {
        "kind": "label",
        "name": "carton-label",
        "order": LABEL_ORDER,
        "region": LABEL_REGION,
        "text_fields": ["part_number", "lot", "date", "quantity"],
        "expected": {LABEL_ORDER: EXPECTED_LABEL},
    }
    return [
        _stage_only_camera(stations, model_dir, GAUGE_CAMERA, "st-20-gauge", gauging, GAUGE_SIZE),
        _stage_only_camera(stations, model_dir, LABEL_CAMERA, "st-30-label", label, FRAME_SIZE),
    ]


def thermal_learn_s() -> float:
    """The motor's learning period: :data:`THERMAL_LEARN_S`, or :data:`THERMAL_LEARN_ENV`'s."""
    raw = os.environ.get(THERMAL_LEARN_ENV)
    if raw is None:
        return THERMAL_LEARN_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    low, high = THERMAL_LEARN_BOUNDS_S
    if not low <= value <= high:  # NaN included
        msg = f"{THERMAL_LEARN_ENV} must be seconds from {low:.0f} to {high:.0f}, got {raw!r}"
        raise InputError(msg)
    return value


def thermal_cameras(stations: StationLayout) -> list[dict[str, Any]]:
    """The motor's ``thermal_cameras`` entry, time-compressed (see the module docstring)."""
    from lineguard.edge.thermal.synthetic import SCENE_ROIS

    return [
        {
            "camera_id": THERMAL_CAMERA,
            "station_id": "st-40-motor",
            "source": {
                "type": "thermal_folder",
                "path": str(stations.frames(THERMAL_CAMERA)),
                "pattern": "*.png",
                "calibration": {"units": "centi_kelvin"},
                "frame_period_s": THERMAL_EVERY_S,
            },
            "monitor": {
                "name": "motor-view",
                "rois": [r.model_dump(mode="json") for r in SCENE_ROIS],
                "band_by": "none",
                "trend_window_h": 0.02,
                "dropout_after_s": 30.0,
                "reading_interval_s": 10.0,
            },
            "learn_hours": thermal_learn_s() / 3600,
            "poll_interval_ms": 1000,
        }
    ]
