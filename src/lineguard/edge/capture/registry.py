"""Which class reads which ``source.type``: a registry, not an if/elif chain.

A new kind of camera is a config class in :data:`lineguard.config.edge.SourceConfig`
plus one entry here; :func:`open_source` builds it from a camera's config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lineguard.config.edge import CameraConfig
from lineguard.contracts.types import FrameSource
from lineguard.edge.capture.folder import FolderFrameSource
from lineguard.edge.capture.stream import StreamFrameSource, VideoFileFrameSource
from lineguard.edge.capture.synthetic import SyntheticLine

__all__ = ["SOURCE_TYPES", "build_source"]

#: ``source.type`` → factory(camera_id, source_config).
SOURCE_TYPES: dict[str, Callable[[str, Any], FrameSource]] = {
    "folder": FolderFrameSource,
    "video": VideoFileFrameSource,
    "rtsp": StreamFrameSource,
    "mjpeg": StreamFrameSource,
    "usb": StreamFrameSource,
    "synthetic": SyntheticLine,
}


def build_source(camera: CameraConfig) -> FrameSource:
    """The frame source a camera's config describes (not yet opened)."""
    return SOURCE_TYPES[camera.source.type](camera.camera_id, camera.source)
