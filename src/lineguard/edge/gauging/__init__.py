"""Dimensional gauging: measure parts in millimetres with a calibrated camera.

``calibration`` (board views → intrinsics, distortion, the part plane; signed like a
model) → ``plane`` (pixels ↔ plane mm) → ``edges`` (sub-pixel edge points, circle and
line fits) → ``measure`` (a part type's ``spec`` applied to one image) → ``stage`` (the
camera stage: verdict, reasons, measurements with uncertainty). ``render`` draws parts
and boards of known geometry for tests, the benchmark and the demo. See docs/inspection.md.
"""

from lineguard.edge.gauging.calibration import (
    BoardSpec,
    Calibration,
    calibrate,
    find_board,
    load_calibration,
    next_version,
    write_calibration,
)
from lineguard.edge.gauging.measure import Gauge, Reading
from lineguard.edge.gauging.spec import MeasurementSpec, load_spec
from lineguard.edge.gauging.stage import GaugingStage

__all__ = [
    "BoardSpec",
    "Calibration",
    "Gauge",
    "GaugingStage",
    "MeasurementSpec",
    "Reading",
    "calibrate",
    "find_board",
    "load_calibration",
    "load_spec",
    "next_version",
    "write_calibration",
]
