"""Thermal frames: 16-bit values in, °C out, and a clear error for anything else.

:func:`to_celsius` turns one frame into a float32 °C array using the camera's
:class:`~lineguard.config.thermal.ThermalCalibration`: a fixed scale for radiometric
frames (centi-kelvin, deci-kelvin, centi-celsius), Planck's law for raw counts::

    T[K] = B / ln(R / (S - O) + F)

A pixel whose counts do not give a temperature (``S <= O``) becomes NaN, never a number.
A frame that is not single-channel 16-bit — an 8-bit PNG exported by a viewer, an RGB
palette image — raises :class:`ThermalFrameError` saying what it got: a palette image's
grey levels are not temperatures. :func:`read_thermal_file` reads TIFF and PNG16 files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lineguard.config.thermal import ThermalCalibration
from lineguard.contracts.errors import ImageDecodeError, InputError

__all__ = ["CelsiusFrame", "ThermalFrame", "ThermalFrameError", "read_thermal_file", "to_celsius"]

CelsiusFrame = np.ndarray[Any, np.dtype[np.float32]]
KELVIN = 273.15
_SCALE = {"centi_kelvin": (0.01, -KELVIN), "deci_kelvin": (0.1, -KELVIN), "centi_celsius": (0.01, 0.0)}


class ThermalFrameError(InputError):
    """A frame that cannot be a radiometric thermal frame (bit depth, channels, size)."""

    code = "thermal_frame_invalid"


@dataclass(frozen=True)
class ThermalFrame:
    """One frame in °C (NaN where a pixel gives no temperature) and when it was taken (UTC)."""

    celsius: CelsiusFrame
    captured_at: dt.datetime
    source: str = ""


def to_celsius(
    raw: np.ndarray[Any, Any], calibration: ThermalCalibration, *, name: str = "frame"
) -> CelsiusFrame:
    """°C of every pixel of a single-channel 16-bit frame."""
    if raw.ndim != 2:
        channels = raw.shape[2] if raw.ndim == 3 else raw.ndim
        msg = f"{name}: expected a single-channel thermal frame, got {channels} channels (a palette image?)"
        raise ThermalFrameError(
            msg, details=["export the camera's radiometric 16-bit frames, not a colour view"]
        )
    if raw.dtype != np.uint16:
        bits = raw.dtype.itemsize * 8
        msg = f"{name}: expected 16-bit radiometric values, got {bits}-bit {raw.dtype.name}"
        raise ThermalFrameError(msg, details=["an 8-bit image holds grey levels, not temperatures"])
    if raw.size == 0:
        msg = f"{name}: the frame is empty"
        raise ThermalFrameError(msg)
    counts = raw.astype(np.float64)
    if calibration.units != "raw":
        scale, offset = _SCALE[calibration.units]
        return (counts * scale + offset).astype(np.float32)
    r, b, f, o = calibration.planck_r, calibration.planck_b, calibration.planck_f, calibration.planck_o
    assert r is not None and b is not None and f is not None and o is not None  # the config checks it  # noqa: S101
    with np.errstate(divide="ignore", invalid="ignore"):
        above = counts - o
        kelvin = b / np.log(r / np.where(above > 0, above, np.nan) + f)
    return (kelvin - KELVIN).astype(np.float32)


def read_thermal_file(path: Path, calibration: ThermalCalibration) -> CelsiusFrame:
    """A TIFF or PNG16 frame file in °C."""
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        msg = f"{path.name}: not a readable image (corrupt, truncated or not TIFF/PNG)"
        raise ImageDecodeError(msg)
    return to_celsius(raw, calibration, name=path.name)
