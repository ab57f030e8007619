"""Thermal anomalies on equipment: radiometric frames in, alarms and maintenance recommendations out.

A thermal camera's 16-bit frames become °C (:mod:`.frames`: radiometric units or raw counts
with the camera's Planck constants; a wrong bit depth or missing constants is a clear
error). They come from a folder of TIFF/PNG16 files or a stream hook (:mod:`.source`).
Each asset is a ROI with a normal band learned per hour of the day (:mod:`.band`);
:mod:`.monitor` raises hot-spot, ΔT-to-reference and sensor-dropout alarms and a maintenance
recommendation when an asset's trend crosses its limit. :mod:`.synthetic` makes a motor
scene with faults for tests and the benchmark. docs/inspection.md explains the limits.
"""

from __future__ import annotations

from lineguard.edge.thermal.band import Band, NormalBand
from lineguard.edge.thermal.frames import ThermalFrame, ThermalFrameError, read_thermal_file, to_celsius
from lineguard.edge.thermal.monitor import (
    MaintenanceRecommendation,
    RoiReading,
    ThermalAlarm,
    ThermalMonitor,
    ThermalObservation,
)
from lineguard.edge.thermal.report import ThermalReporter
from lineguard.edge.thermal.source import ThermalFolderReader, ThermalStream

__all__ = [
    "Band",
    "MaintenanceRecommendation",
    "NormalBand",
    "RoiReading",
    "ThermalAlarm",
    "ThermalFolderReader",
    "ThermalFrame",
    "ThermalFrameError",
    "ThermalMonitor",
    "ThermalObservation",
    "ThermalReporter",
    "ThermalStream",
    "read_thermal_file",
    "to_celsius",
]
