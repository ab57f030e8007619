"""In-process types shared by the vision engine and the edge node.

These never cross the network (that is ``events.py``); they are the seams inside a
node: a frame source produces :class:`CapturedFrame`, a :class:`ModelRunner` turns an
image into :class:`Scores`. Every implementation of a Protocol here is exercised by a
conformance test, so implementations cannot drift from the contract.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt

from lineguard.contracts.events import BoundingBox
from lineguard.contracts.fields import Verdict
from lineguard.contracts.stages import Measurement, StageInput, StageKind, StageReason

__all__ = [
    "AnomalyMap",
    "CapturedFrame",
    "Frame",
    "FrameSource",
    "InspectionStage",
    "ModelRunner",
    "MultiViewStage",
    "Scores",
    "SourceState",
    "StageOutcome",
]

#: An image as OpenCV holds it: height x width x 3, uint8, BGR channel order.
Frame: TypeAlias = npt.NDArray[np.uint8]
#: Per-pixel anomaly scores, height x width, float32; larger means more anomalous.
AnomalyMap: TypeAlias = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Scores:
    """What a model says about one image."""

    #: Image-level anomaly score on the package's calibrated scale.
    anomaly_score: float
    #: Pixel anomaly map at the model's input resolution (resize to the frame to localise).
    anomaly_map: AnomalyMap
    #: Names the defect class of one region, given its mask at the map's resolution; set by
    #: runners of packages with named defect classes, None otherwise (regions stay "anomaly").
    region_classifier: Callable[[npt.NDArray[np.bool_]], str] | None = None
    #: How far above the map's own median a region must rise: the package's calibrated
    #: region level (``metadata.regions``); 0 = the peak fraction alone outlines regions.
    region_threshold: float = 0.0


@runtime_checkable
class ModelRunner(Protocol):
    """Runs one detection model package on single images."""

    @property
    def model_id(self) -> str: ...

    @property
    def digest(self) -> str:
        """sha256 hex digest of the ONNX graph the runner executes."""
        ...

    @property
    def threshold(self) -> float:
        """Calibrated image-score threshold above which a part fails."""
        ...

    def infer(self, image: Frame) -> Scores: ...


class SourceState(enum.StrEnum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    camera_id: str
    #: Monotonic per camera, starting at 0 for each run of the source.
    frame_id: int
    captured_at: datetime
    image: Frame
    #: Part identifier when the source knows it (a conveyor encoder, a barcode, a file name).
    part_id: str | None = None


@runtime_checkable
class FrameSource(Protocol):
    """A camera or anything that behaves like one."""

    @property
    def camera_id(self) -> str: ...

    @property
    def state(self) -> SourceState: ...

    def open(self) -> None: ...

    def read(self) -> CapturedFrame | None:
        """The next frame, or ``None`` when none is available right now or the source ended."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StageOutcome:
    """What one inspection stage found on one image (the node wraps it in a ``StageResult``)."""

    verdict: Verdict
    reasons: tuple[StageReason, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    #: The files the stage ran with (calibration, spec…), by version and digest.
    inputs: tuple[StageInput, ...] = ()
    #: The views the result rests on, as indices into those the stage was given (0: the decisive
    #: frame), in the order it used them; empty: the decisive frame alone.
    views: tuple[int, ...] = ()


@runtime_checkable
class InspectionStage(Protocol):
    """A check a camera runs on each part besides its anomaly model (``cameras[].stages``).

    ``inspect`` gets the full (privacy-masked) frame and the camera's ROI in it; it must
    not keep the image. Bad input it cannot judge is an ``uncertain`` outcome with a
    reason, never an exception: an exception is a bug and the node counts it as one.
    """

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> StageKind: ...

    def inspect(self, image: Frame, roi: BoundingBox) -> StageOutcome:
        """Judge one image; ``roi`` is the camera's ROI in full-frame pixels."""
        ...


@runtime_checkable
class MultiViewStage(InspectionStage, Protocol):
    """A stage that judges a part from several of its frames (the node gives it them all).

    A part crosses the view in several frames; ``views`` are the frames where it was
    complete (fully inside the ROI and alone), each with the ROI — at least one: the
    decisive frame first, then the others in capture order. The stage chooses or fuses
    (gauging measures the most centred views and averages; a label is re-read on the
    other views before it fails). ``inspect`` stays the one-image form.
    """

    def inspect_views(self, views: Sequence[tuple[Frame, BoundingBox]]) -> StageOutcome:
        """Judge the part from ``views`` (decisive first, never empty)."""
        ...
