"""Inspection stages a camera runs on each part besides its anomaly model (``cameras[].stages``).

A discriminated union on ``kind``: each kind checks only its own settings, and a new
kind plugs in by adding its class to :data:`StageConfig` and its builder to
``lineguard.edge.stages`` (see docs/inspection.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from lineguard.config.labels import LabelStageConfig
from lineguard.contracts.fields import Name

__all__ = ["GaugingStageConfig", "LabelStageConfig", "StageConfig"]


class _Stage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name = Field(
        title="Stage name", description="Unique per camera; results and part verdicts carry it."
    )


class GaugingStageConfig(_Stage):
    """Dimensional gauging: measure the part against a spec with a signed camera calibration."""

    kind: Literal["gauging"]
    calibration: Path = Field(
        title="Calibration",
        description="Folder written by `lineguard gauge calibrate` (signature beside it: <folder>.sig).",
    )
    signer_key: Path = Field(
        title="Calibration signer",
        description="PEM public key, or trust list (signers.json), the calibration must be signed with.",
    )
    spec: Path = Field(title="Measurement spec", description="YAML spec of the part type's measurements.")
    max_calibration_age_days: int = Field(
        default=180,
        ge=1,
        le=3650,
        title="Calibration lifetime",
        description="A calibration older than this is refused (recalibrate the camera).",
    )


StageConfig = Annotated[GaugingStageConfig | LabelStageConfig, Field(discriminator="kind")]
