"""Frame sources and what happens at capture (privacy zones).

Every source implements :class:`lineguard.contracts.types.FrameSource`; the camera's
``source.type`` picks one from :data:`SOURCE_TYPES`. :class:`SyntheticLine` stands in
for a real line (demo, tests, benchmark) and :func:`write_mvtec_dataset` renders a
training set from it.
"""

from __future__ import annotations

from lineguard.edge.capture.dataset import write_mvtec_dataset
from lineguard.edge.capture.folder import FolderFrameSource
from lineguard.edge.capture.part_render import DEFECT_KINDS, DefectKind, render_part
from lineguard.edge.capture.privacy import PrivacyMask
from lineguard.edge.capture.registry import SOURCE_TYPES, build_source
from lineguard.edge.capture.stream import StreamFrameSource, VideoFileFrameSource
from lineguard.edge.capture.synthetic import FrameTruth, SyntheticLine

__all__ = [
    "DEFECT_KINDS",
    "SOURCE_TYPES",
    "DefectKind",
    "FolderFrameSource",
    "FrameTruth",
    "PrivacyMask",
    "StreamFrameSource",
    "SyntheticLine",
    "VideoFileFrameSource",
    "build_source",
    "render_part",
    "write_mvtec_dataset",
]
