"""``cameras[].stages`` entries → running stages, one builder per kind.

A new kind adds its config class to :data:`lineguard.config.stages.StageConfig` and one
entry to :data:`STAGE_BUILDERS`; a builder imports its module only when a camera uses
it (the edge stays light).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lineguard.config.edge import CameraConfig
from lineguard.contracts.errors import ConfigError
from lineguard.contracts.types import InspectionStage

__all__ = ["STAGE_BUILDERS", "build_stages"]


def _gauging(config: Any, camera: CameraConfig) -> InspectionStage:
    from lineguard.edge.gauging import GaugingStage

    return GaugingStage.from_config(config, camera_id=camera.camera_id)


def _label(config: Any, camera: CameraConfig) -> InspectionStage:
    from lineguard.edge.labels import build_label_stage  # zxing-cpp and RapidOCR load on first use

    return build_label_stage(config)


#: Stage kind → builder. A builder raises a typed error (``CalibrationError``,
#: ``ConfigError``…) that names what is wrong; the camera is then not started.
STAGE_BUILDERS: dict[str, Callable[[Any, CameraConfig], InspectionStage]] = {
    "gauging": _gauging,
    "label": _label,
}


def build_stages(camera: CameraConfig) -> list[InspectionStage]:
    """Every stage ``camera`` lists, in order (the first refusal stops and is raised)."""
    stages = []
    for config in camera.stages:
        builder = STAGE_BUILDERS.get(config.kind)
        if builder is None:
            msg = f"camera {camera.camera_id}: stage {config.name!r} of kind {config.kind!r} is not available"
            raise ConfigError(
                msg, details=[f"available kinds: {', '.join(sorted(STAGE_BUILDERS)) or 'none'}"]
            )
        stages.append(builder(config, camera))
    return stages
