"""Configuration of thermal monitoring: the camera's calibration, its frames, and the assets it watches.

A thermal camera gives 16-bit frames. *Radiometric* frames already hold temperatures in a
fixed unit (centi-kelvin is the common one: 29815 = 25.00 °C); *raw* frames hold sensor
counts that the camera's Planck constants turn into temperatures (R, B, F, O, as FLIR
publishes them per camera). A raw source without all four constants is refused at load,
naming the missing ones: a guessed constant would shift every temperature silently.

Each asset (motor, bearing, panel…) is a rectangle of the frame with its own limits; a
``reference`` ROI (ambient air, a sister motor) gives the ΔT alarm its baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lineguard.contracts.events import Name

__all__ = [
    "ThermalCalibration",
    "ThermalCameraConfig",
    "ThermalFolderSource",
    "ThermalRoi",
    "ThermalStageConfig",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ThermalCalibration(_Section):
    """How a frame's 16-bit values become °C."""

    units: Literal["centi_kelvin", "deci_kelvin", "centi_celsius", "raw"] = Field(
        description="centi_kelvin / deci_kelvin / centi_celsius: radiometric; raw: sensor counts + Planck."
    )
    planck_r: float | None = Field(default=None, gt=0, description="Planck R (raw only).")
    planck_b: float | None = Field(default=None, gt=0, description="Planck B (raw only).")
    planck_f: float | None = Field(default=None, gt=0, description="Planck F (raw only).")
    planck_o: float | None = Field(default=None, description="Planck O, counts offset (raw only).")

    @model_validator(mode="after")
    def _constants_match_units(self) -> ThermalCalibration:
        constants = {
            "planck_r": self.planck_r,
            "planck_b": self.planck_b,
            "planck_f": self.planck_f,
            "planck_o": self.planck_o,
        }
        if self.units == "raw":
            missing = [k for k, v in constants.items() if v is None]
            if missing:
                msg = f"raw frames need the camera's calibration constants; missing: {', '.join(missing)}"
                raise ValueError(msg)
        elif any(v is not None for v in constants.values()):
            msg = f"Planck constants apply to raw frames only, not to {self.units}"
            raise ValueError(msg)
        return self


class ThermalFolderSource(_Section):
    """A folder of 16-bit TIFF or PNG frames, read in name order."""

    type: Literal["thermal_folder"] = "thermal_folder"
    path: Path
    pattern: str = Field(default="*.tiff", max_length=64, description="Glob of frame files (*.tiff, *.png).")
    calibration: ThermalCalibration
    frame_period_s: float = Field(
        default=60.0, gt=0, le=86_400, description="Time between frames when a name carries no timestamp."
    )


class ThermalRoi(_Section):
    """One watched asset: a rectangle of the frame and its limits."""

    asset: Name
    kind: Literal["motor", "bearing", "panel", "reference", "other"] = "other"
    x: int = Field(ge=0, le=100_000)
    y: int = Field(ge=0, le=100_000)
    width: int = Field(gt=0, le=100_000)
    height: int = Field(gt=0, le=100_000)
    reference: Name | None = Field(default=None, description="Asset whose mean is this one's ΔT baseline.")
    hot_spot_limit_c: float | None = Field(
        default=None, ge=-50, le=2000, description="Absolute limit of the ROI's hottest pixel (°C)."
    )
    delta_t_limit_c: float | None = Field(
        default=None,
        gt=0,
        le=500,
        description="Largest allowed rise of the hottest pixel over the reference.",
    )
    trend_limit_c: float | None = Field(
        default=None,
        gt=0,
        le=500,
        description="Rise over the learned normal (smoothed) that calls for maintenance.",
    )


class ThermalStageConfig(_Section):
    """A thermal camera's monitoring: its assets, how normal is learned, how alarms are confirmed."""

    type: Literal["thermal"] = "thermal"
    name: Name = "thermal"
    rois: list[ThermalRoi] = Field(min_length=1, max_length=32)
    band_by: Literal["none", "hour_of_day"] = Field(
        default="hour_of_day", description="Learn one normal band per hour of the day, or one for all."
    )
    band_sigma: float = Field(default=5.0, gt=0, le=20, description="Band half-width in robust sigmas.")
    band_min_half_width_c: float = Field(default=1.5, gt=0, le=50)
    min_learn_samples: int = Field(default=20, ge=3, le=100_000, description="Samples per band bucket.")
    confirm_frames: int = Field(default=3, ge=1, le=100, description="Consecutive frames before an alarm.")
    trend_window_h: float = Field(default=2.0, gt=0, le=24 * 14, description="Smoothing window of the trend.")
    dropout_after_s: float = Field(
        default=300.0, gt=0, le=86_400, description="No valid frame for this long is a sensor dropout."
    )
    reading_interval_s: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description=(
            "How often (capture time) the node sends each asset's current reading — hottest pixel, "
            "its learned band, its trend — for the dashboard's thermal view; 0: never."
        ),
    )
    accuracy_c: float = Field(
        default=2.0,
        gt=0,
        le=50,
        description="The camera's stated accuracy (°C): reported as the uncertainty of every temperature.",
    )

    @model_validator(mode="after")
    def _references_exist(self) -> ThermalStageConfig:
        names = [r.asset for r in self.rois]
        if len(set(names)) != len(names):
            msg = f"asset names must be unique: {sorted(names)}"
            raise ValueError(msg)
        for roi in self.rois:
            if roi.reference is not None and (roi.reference not in names or roi.reference == roi.asset):
                msg = f"rois[{roi.asset}].reference {roi.reference!r} is not another configured asset"
                raise ValueError(msg)
            if roi.delta_t_limit_c is not None and roi.reference is None:
                msg = f"rois[{roi.asset}]: delta_t_limit_c needs a reference asset"
                raise ValueError(msg)
        return self


class ThermalCameraConfig(_Section):
    """A thermal camera the node watches (``edge.yaml`` ``thermal_cameras``): its frames and its assets.

    Not a ``cameras[]`` entry: it has no model and judges equipment over time, not parts
    (docs/inspection.md). The first ``learn_hours`` of frames (by their capture time) learn
    the normal bands; monitoring starts after them."""

    camera_id: Name
    station_id: Name
    source: ThermalFolderSource
    monitor: ThermalStageConfig
    learn_hours: float = Field(
        default=168.0,
        gt=0,
        le=24 * 90,
        description="Hours of frames, from the first, that learn the normal bands (a week: every shift).",
    )
    poll_interval_ms: int = Field(default=1000, ge=10, le=60_000, description="How often the folder is read.")
