"""Which class reads which ``source.type``: a registry, not an if/elif chain.

A new kind of camera is a config class in the :data:`lineguard.config.edge.SourceConfig`
union plus one entry in :data:`READERS`; :data:`SOURCE_TYPES` (``source.type`` → reader)
is derived from the union's ``type`` literals, so the two cannot drift apart: a config
class without a reader fails at import, naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args

from lineguard.config.edge import (
    CameraConfig,
    FolderSource,
    PpeCameraConfig,
    RtspSource,
    SourceConfig,
    SyntheticSource,
    UsbSource,
    VideoFileSource,
)
from lineguard.contracts.types import FrameSource
from lineguard.edge.capture.folder import FolderFrameSource
from lineguard.edge.capture.stream import StreamFrameSource, VideoFileFrameSource
from lineguard.edge.capture.synthetic import SyntheticLine

__all__ = ["READERS", "SOURCE_TYPES", "build_source"]

#: Source config class → factory(camera_id, source_config).
READERS: dict[type, Callable[[str, Any], FrameSource]] = {
    FolderSource: FolderFrameSource,
    VideoFileSource: VideoFileFrameSource,
    RtspSource: StreamFrameSource,
    UsbSource: StreamFrameSource,
    SyntheticSource: SyntheticLine,
}


def _source_types() -> dict[str, Callable[[str, Any], FrameSource]]:
    types: dict[str, Callable[[str, Any], FrameSource]] = {}
    for config_class in get_args(get_args(SourceConfig)[0]):
        if config_class not in READERS:
            msg = f"source config {config_class.__name__} has no reader in lineguard.edge.capture.READERS"
            raise TypeError(msg)
        for name in get_args(config_class.model_fields["type"].annotation):
            types[name] = READERS[config_class]
    return types


#: ``source.type`` → factory(camera_id, source_config), one entry per ``type`` literal.
SOURCE_TYPES = _source_types()


def build_source(camera: CameraConfig | PpeCameraConfig) -> FrameSource:
    """The frame source a camera's config describes (not yet opened)."""
    return SOURCE_TYPES[camera.source.type](camera.camera_id, camera.source)
