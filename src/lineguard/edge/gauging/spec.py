"""The measurement spec of one part type (YAML): its features, and what is measured on them.

```yaml
part_type: bracket
version: 3
outline: {width_mm: 80, height_mm: 50}    # the part's bounding rectangle: the datum
search_mm: 1.5                            # how far a feature may sit from its nominal place
max_mm_per_px: 0.1                        # optional: the coarsest calibration it may be gauged at
features:                                 # part millimetres, origin at the outline's top-left
  hole_a: {type: hole, at: [15, 25], diameter_mm: 8}
  bottom: {type: edge, from: [5, 50], to: [75, 50]}
measurements:
  - {name: hole_a_diameter, type: diameter, feature: hole_a, nominal: 8.0, tolerance: 0.05}
  - {name: pitch, type: distance, features: [hole_a, hole_b], nominal: 40.0, tolerance: [-0.1, 0.1]}
  - {name: bottom_straightness, type: straightness, feature: bottom, max: 0.05}
  - {name: hole_c_present, type: presence, feature: hole_c, present: true}
```

Every field is checked (unknown keys, a measurement of a feature that is not defined,
a distance between an edge and an edge, negative tolerances…): a spec that loads is one
the stage can apply. Its version and sha256 travel with every result.

**Resolution.** A gauge whose repeatability is not within a tenth of the tightest band
cannot tell a good part from a bad one near the limits, so a spec is only gauged with a
calibration fine enough for it: at most ``max_mm_per_px`` when the spec states it (a
poorly lit station states a finer one), else the tightest band over
:data:`MIN_BAND_PX` (what the benchmark found enough under even light). The stage
refuses a coarser calibration (:func:`check_resolution`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lineguard.config.loader import load_yaml_mapping, validate_config
from lineguard.contracts.errors import CalibrationError, ConfigError
from lineguard.contracts.stages import Characteristic, StageInput

__all__ = [
    "MIN_BAND_PX",
    "DiameterCheck",
    "DistanceCheck",
    "EdgeFeature",
    "HoleFeature",
    "MeasurementSpec",
    "PresenceCheck",
    "StraightnessCheck",
    "check_resolution",
    "load_spec",
]

Point = tuple[float, float]

#: The tightest tolerance band must span at least this many pixels of the part plane. The
#: benchmark (bench_gauging.py, docs/benchmarks.md) met 6·GRR ≤ band/10 under even or
#: sloping light at every blur with the 0.1 mm band over 0.136 mm/px (0.74 px), not over
#: 0.203 mm/px (0.49 px: 6·GRR up to 0.011 mm at 1.8 px blur). Poor light needs more.
MIN_BAND_PX = 0.7


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HoleFeature(_Strict):
    type: Literal["hole"]
    at: Point = Field(description="Nominal centre, part mm.")
    diameter_mm: float = Field(gt=0, le=10_000)


class EdgeFeature(_Strict):
    """A straight stretch of the outline, from ``from`` to ``to`` (part mm); which side is
    the part is read from the image (the bright side)."""

    type: Literal["edge"]
    start: Point = Field(alias="from")
    end: Point = Field(alias="to")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _has_length(self) -> EdgeFeature:
        if (self.start[0] - self.end[0]) ** 2 + (self.start[1] - self.end[1]) ** 2 < 1.0:
            msg = "an edge must be at least 1 mm long"
            raise ValueError(msg)
        return self


Feature = Annotated[HoleFeature | EdgeFeature, Field(discriminator="type")]


class _Toleranced(_Strict):
    name: Characteristic
    nominal: float = Field(gt=0, le=100_000)
    tolerance: float | tuple[float, float] = Field(
        description="±value, or [minus, plus] around nominal (minus ≤ 0 ≤ plus)."
    )

    @model_validator(mode="after")
    def _tolerance_brackets_nominal(self) -> _Toleranced:
        minus, plus = self.deviations
        if not minus <= 0 <= plus or minus == plus:
            msg = f"tolerance {self.tolerance} must bracket the nominal: [minus ≤ 0 ≤ plus], not both 0"
            raise ValueError(msg)
        return self

    @property
    def deviations(self) -> tuple[float, float]:
        if isinstance(self.tolerance, tuple):
            return self.tolerance
        return (-abs(self.tolerance), abs(self.tolerance))

    @property
    def limits(self) -> tuple[float, float]:
        minus, plus = self.deviations
        return self.nominal + minus, self.nominal + plus


class DiameterCheck(_Toleranced):
    type: Literal["diameter"]
    feature: str


class DistanceCheck(_Toleranced):
    """Centre to centre (two holes) or centre to line (a hole and an edge)."""

    type: Literal["distance"]
    features: tuple[str, str]


class StraightnessCheck(_Strict):
    """Peak-to-valley deviation of the edge's points from their best-fit line."""

    type: Literal["straightness"]
    name: Characteristic
    feature: str
    max: float = Field(gt=0, le=1000, description="Largest allowed straightness, mm.")


class PresenceCheck(_Strict):
    type: Literal["presence"]
    name: Characteristic
    feature: str
    present: bool = True


Check = Annotated[
    DiameterCheck | DistanceCheck | StraightnessCheck | PresenceCheck, Field(discriminator="type")
]


class Outline(_Strict):
    width_mm: float = Field(gt=0, le=10_000, description="Along the part's long axis.")
    height_mm: float = Field(gt=0, le=10_000)


class MeasurementSpec(_Strict):
    part_type: Characteristic
    version: int = Field(ge=1, le=2**31 - 1)
    outline: Outline
    search_mm: float = Field(default=1.5, gt=0, le=100)
    max_mm_per_px: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="Coarsest calibration (mm/px) to gauge at; default: tightest band / MIN_BAND_PX.",
    )
    features: dict[Characteristic, Feature] = Field(min_length=1, max_length=64)
    measurements: list[Check] = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _references_resolve(self) -> MeasurementSpec:
        names = [m.name for m in self.measurements]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            msg = f"measurement names must be unique, repeated: {', '.join(repeated)}"
            raise ValueError(msg)
        for m in self.measurements:
            wanted = m.features if isinstance(m, DistanceCheck) else (m.feature,)
            for name in wanted:
                if name not in self.features:
                    msg = f"measurement {m.name!r} names feature {name!r}, which is not defined"
                    raise ValueError(msg)
            kinds = [self.features[n].type for n in wanted]
            if isinstance(m, DiameterCheck | PresenceCheck) and kinds != ["hole"]:
                msg = f"measurement {m.name!r}: a {m.type} is measured on a hole, {wanted[0]!r} is an edge"
                raise ValueError(msg)
            if isinstance(m, StraightnessCheck) and kinds != ["edge"]:
                msg = f"measurement {m.name!r}: straightness is measured on an edge, {wanted[0]!r} is a hole"
                raise ValueError(msg)
            if isinstance(m, DistanceCheck) and kinds == ["edge", "edge"]:
                msg = (
                    f"measurement {m.name!r}: a distance needs at least one hole (edges need not be parallel)"
                )
                raise ValueError(msg)
        return self

    @property
    def tightest_tolerance_mm(self) -> float:
        """The narrowest tolerance band (upper - lower limit) of the spec."""
        bands = [m.limits[1] - m.limits[0] for m in self.measurements if isinstance(m, _Toleranced)]
        bands += [m.max for m in self.measurements if isinstance(m, StraightnessCheck)]
        return min(bands) if bands else float("inf")

    @property
    def coarsest_mm_per_px(self) -> float:
        """The coarsest calibration this spec may be gauged with (inf: presence checks only)."""
        if self.max_mm_per_px is not None:
            return self.max_mm_per_px
        return self.tightest_tolerance_mm / MIN_BAND_PX


def check_resolution(spec: MeasurementSpec, *, mm_per_px: float, camera_id: str) -> None:
    """Refuse (:class:`CalibrationError`) a calibration too coarse to gauge ``spec``."""
    allowed = spec.coarsest_mm_per_px
    if mm_per_px <= allowed:
        return
    why = (
        f"its max_mm_per_px is {allowed:.4g}"
        if spec.max_mm_per_px is not None
        else f"its tightest tolerance band, {spec.tightest_tolerance_mm:g} mm, needs at most "
        f"{allowed:.4g} mm/px to be gauged to a tenth of it"
    )
    msg = (
        f"camera {camera_id} is calibrated at {mm_per_px:.4g} mm/px, too coarse for spec "
        f"{spec.part_type} v{spec.version}: {why}"
    )
    raise CalibrationError(
        msg,
        details=[
            "bring the camera closer, use a longer lens or more pixels, and recalibrate",
            "or state the coarsest scale the spec accepts as its max_mm_per_px (docs/inspection.md)",
        ],
    )


def load_spec(path: Path) -> tuple[MeasurementSpec, StageInput]:
    """The spec at ``path`` and its reference (version + sha256), or a :class:`ConfigError`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"measurement spec {path} cannot be read: {exc.strerror or exc}"
        raise ConfigError(msg) from None
    spec = validate_config(MeasurementSpec, load_yaml_mapping(path), source=str(path))
    return spec, StageInput(name="spec", version=spec.version, sha256=hashlib.sha256(data).hexdigest())
