"""What part of a frame becomes evidence: the inspection ROI plus a margin, nothing else.

Privacy by design at the point of capture: a quality engineer needs the part, not the
walkway beside it. :func:`stored_region` says which rectangle of the frame an evidence
image keeps (the camera's ROI grown by ``evidence.margin_px``, clipped to the frame; the
whole frame only where the camera's config sets ``evidence.full_frame`` with a written
purpose). Nothing outside that rectangle is ever written.

Redaction needs to see a little more than it stores: a hand reaching into the crop is
found as a person only when the detectors see the arm and body it belongs to. So
:func:`cut` copies a **context window** — the stored region grown by half its larger
side on every side, clipped to the frame (:func:`context_window`) — for the redactor to
look at, in memory only; the gate then keeps only the stored region of the redacted
window. The window is dropped as soon as the crop is stored.

Less still with ``evidence.crop: defects`` (:func:`kept_region`): a part with defect
regions keeps only their bounding rectangle grown by ``evidence.defect_context_px``,
inside the stored region; the image's offset in the frame is recorded and signed like
any stored region's, so the record page draws the boxes where they belong. Redaction
still looks at the context window of the **whole** stored region (``cut(...,
context_of=...)``): a smaller crop must not make a person harder to recognise.

Defect boxes arrive in full-frame coordinates (the event's contract); :func:`cut`
translates them into the crop's, where the redaction mask lives, so the gate can tell
whether redaction covered a defect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lineguard.config.edge import CameraEvidenceConfig
from lineguard.contracts.errors import InputError
from lineguard.contracts.events import BoundingBox
from lineguard.contracts.types import Frame

__all__ = ["CONTEXT_FACTOR", "EvidenceCrop", "context_window", "cut", "kept_region", "stored_region"]

#: The redactor's context window grows the stored region by this share of its larger side.
CONTEXT_FACTOR = 0.5


def stored_region(
    frame_hw: tuple[int, ...], roi_box: BoundingBox, settings: CameraEvidenceConfig
) -> BoundingBox:
    """The rectangle of the frame (frame pixels) an evidence image keeps."""
    height, width = int(frame_hw[0]), int(frame_hw[1])
    if settings.full_frame:
        return BoundingBox(x=0, y=0, width=width, height=height)
    m = settings.margin_px
    x0, y0 = max(0, roi_box.x - m), max(0, roi_box.y - m)
    x1 = min(width, roi_box.x + roi_box.width + m)
    y1 = min(height, roi_box.y + roi_box.height + m)
    if x1 <= x0 or y1 <= y0:
        msg = f"the evidence region around roi {roi_box} lies outside the {width}x{height} frame"
        raise InputError(msg)
    return BoundingBox(x=x0, y=y0, width=x1 - x0, height=y1 - y0)


def kept_region(
    stored: BoundingBox, defects: Sequence[BoundingBox], settings: CameraEvidenceConfig
) -> BoundingBox:
    """What an evidence image keeps: ``stored``, or with ``crop: defects`` the defect boxes'
    bounding rectangle grown by ``defect_context_px`` and clipped to ``stored``.

    ``stored`` itself when the camera keeps the ROI, or no defect box meets it (a sampled
    pass, an uncertain part without regions): then the reviewer sees the whole part.
    """
    if settings.crop == "roi":
        return stored
    sx1, sy1 = stored.x + stored.width, stored.y + stored.height
    inside = [
        (max(b.x, stored.x), max(b.y, stored.y), min(b.x + b.width, sx1), min(b.y + b.height, sy1))
        for b in defects
    ]
    inside = [(x0, y0, x1, y1) for x0, y0, x1, y1 in inside if x1 > x0 and y1 > y0]
    if not inside:
        return stored
    m = settings.defect_context_px
    x0 = max(stored.x, min(b[0] for b in inside) - m)
    y0 = max(stored.y, min(b[1] for b in inside) - m)
    x1 = min(sx1, max(b[2] for b in inside) + m)
    y1 = min(sy1, max(b[3] for b in inside) + m)
    return BoundingBox(x=x0, y=y0, width=x1 - x0, height=y1 - y0)


def context_window(frame_hw: tuple[int, ...], region: BoundingBox) -> BoundingBox:
    """What the redactor looks at around ``region``: grown by :data:`CONTEXT_FACTOR`, clipped."""
    height, width = int(frame_hw[0]), int(frame_hw[1])
    grow = round(max(region.width, region.height) * CONTEXT_FACTOR)
    x0, y0 = max(0, region.x - grow), max(0, region.y - grow)
    x1, y1 = min(width, region.x + region.width + grow), min(height, region.y + region.height + grow)
    return BoundingBox(x=x0, y=y0, width=x1 - x0, height=y1 - y0)


@dataclass(frozen=True, slots=True)
class EvidenceCrop:
    """The pixels redaction may look at, and which of them may become evidence."""

    #: A copy (never a view into the frame) of the context window; held in memory only.
    context: Frame
    #: Where the context window sits in the frame, in frame pixels.
    window: BoundingBox
    #: Where the stored image sits in the frame, in frame pixels (inside ``window``).
    region: BoundingBox
    #: Defect boxes in stored-image pixels, ``(x0, y0, x1, y1)``, clipped to it.
    defects: tuple[tuple[int, int, int, int], ...]

    def stored(self, array: np.ndarray) -> np.ndarray:
        """The stored region of an array shaped like ``context`` (a contiguous copy)."""
        x, y = self.region.x - self.window.x, self.region.y - self.window.y
        return np.ascontiguousarray(array[y : y + self.region.height, x : x + self.region.width]).copy()

    @property
    def nbytes(self) -> int:
        return int(self.context.nbytes)


def cut(
    image: Frame,
    region: BoundingBox,
    defects: Sequence[BoundingBox] = (),
    *,
    context_of: BoundingBox | None = None,
) -> EvidenceCrop:
    """Copy the context window around ``context_of`` (default: ``region``) out of ``image``;
    ``region``, which must lie inside ``context_of``, is what will be stored. ``defects``
    move into the stored image's pixels."""
    height, width = image.shape[:2]
    x1, y1 = region.x + region.width, region.y + region.height
    if x1 > width or y1 > height:
        msg = f"evidence region {region} reaches past the {width}x{height} frame"
        raise InputError(msg)
    around = region if context_of is None else context_of
    if not (
        around.x <= region.x
        and around.y <= region.y
        and x1 <= around.x + around.width
        and y1 <= around.y + around.height
    ):
        msg = f"evidence region {region} is not inside the region {around} redaction looks around"
        raise InputError(msg)
    window = context_window(image.shape, around)
    context = np.ascontiguousarray(
        image[window.y : window.y + window.height, window.x : window.x + window.width]
    ).copy()
    boxes = []
    for box in defects:
        bx0, by0 = max(box.x, region.x) - region.x, max(box.y, region.y) - region.y
        bx1 = min(box.x + box.width, x1) - region.x
        by1 = min(box.y + box.height, y1) - region.y
        if bx1 > bx0 and by1 > by0:
            boxes.append((bx0, by0, bx1, by1))
    return EvidenceCrop(context=context, window=window, region=region, defects=tuple(boxes))
