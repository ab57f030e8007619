"""What a redaction produces, and the one interface every redactor implements.

A :class:`Redactor` takes an evidence frame and returns a :class:`Redacted`: a new
image in which every person found is hidden (blurred or blacked out), the mask of the
hidden pixels, and the regions that caused them. Nothing here can hold an identity:
a region is a rectangle, a score and the kind of cue that found it — no embedding, no
landmark set, no id that links a region to any other frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt

from lineguard.contracts.types import Frame

__all__ = ["Box", "HiddenMask", "PersonRegion", "Redacted", "RedactionMode", "Redactor", "RegionSource"]

#: ``blur`` keeps the scene readable for a quality engineer; ``black`` leaves nothing.
RedactionMode: TypeAlias = Literal["blur", "black"]
#: Which cue found a region: a face detector, a body (pose) detector or the person mask.
RegionSource: TypeAlias = Literal["face", "body", "segmentation"]
#: Height x width, bool: True where a pixel was hidden.
HiddenMask: TypeAlias = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Box:
    """Pixel rectangle ``[x0, x1) x [y0, y1)`` clipped to the frame (already dilated)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def area(self) -> int:
        return max(0, self.x1 - self.x0) * max(0, self.y1 - self.y0)


@dataclass(frozen=True, slots=True)
class PersonRegion:
    """One place where a person (or part of one) was found and hidden."""

    box: Box
    #: Detector confidence in [0, 1] (for a segmentation blob: its mean probability).
    score: float
    source: RegionSource
    #: False for a *possible* person: the cue saw one below its usual threshold, and the
    #: redactor hid it anyway (fail closed) — it costs evidence area, never privacy.
    confident: bool = True


@dataclass(frozen=True, slots=True)
class Redacted:
    """The redacted copy of one frame. The input frame is never modified."""

    image: Frame
    #: True where pixels were hidden (union of dilated boxes and the dilated person mask).
    hidden: HiddenMask
    regions: tuple[PersonRegion, ...]
    mode: RedactionMode
    #: Faces found (each also hidden through its region).
    face_count: int
    #: Bodies found by the person detector or as person-mask blobs (after merging overlaps).
    person_count: int

    @property
    def hidden_fraction(self) -> float:
        """Share of the frame that was hidden, in [0, 1]."""
        return float(self.hidden.mean()) if self.hidden.size else 0.0

    @property
    def found_anyone(self) -> bool:
        return bool(self.regions)


@runtime_checkable
class Redactor(Protocol):
    """Hides people in an evidence frame before it is stored.

    Contract (checked by a conformance test for every implementation):

    * ``image`` must be a non-empty ``H x W x 3`` ``uint8`` BGR array, else
      :class:`~lineguard.contracts.errors.InputError`;
    * the input array is never mutated; the returned image is a new array;
    * inside every returned region, ``black`` leaves only zero pixels and ``blur``
      leaves no fine detail;
    * when the detector cannot run, :class:`~lineguard.edge.redact.RedactionError`
      is raised — never the input returned as if nobody were there. The caller then
      stores nothing (or :func:`~lineguard.edge.redact.black_frame`).
    """

    @property
    def model_id(self) -> str:
        """Names the models and their digests, for the evidence object's metadata."""
        ...

    def redact(self, image: Frame, mode: RedactionMode) -> Redacted: ...
