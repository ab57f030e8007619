"""``FakeRedactor``: a stand-in for tests of the stages around redaction.

It hides the boxes it is given (no model), and with ``fail=True`` raises
:class:`RedactionError` like a redactor whose model cannot run — so the evidence
store's fail-safe path can be tested without breaking a real model file. Ships beside
the real :class:`~lineguard.edge.redact.PersonRedactor` so both satisfy the same
conformance test. Never use it on a real node.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lineguard.contracts.types import Frame
from lineguard.edge.redact._apply import apply_hiding, check_frame
from lineguard.edge.redact._errors import RedactionError
from lineguard.edge.redact._types import Box, PersonRegion, Redacted, RedactionMode

__all__ = ["FakeRedactor"]


class FakeRedactor:
    """Hides fixed boxes, or fails on demand. For tests only."""

    def __init__(self, boxes: Sequence[Box] = (), *, fail: bool = False) -> None:
        self._boxes = tuple(boxes)
        self._fail = fail
        self.calls = 0

    @property
    def model_id(self) -> str:
        return "fake-redactor"

    def redact(self, image: Frame, mode: RedactionMode) -> Redacted:
        frame = check_frame(image)
        self.calls += 1
        if self._fail:
            msg = "fake redactor told to fail: the person detector is unavailable"
            raise RedactionError(msg)
        height, width = frame.shape[:2]
        hidden = np.zeros((height, width), dtype=np.bool_)
        regions = []
        for box in self._boxes:
            clipped = Box(max(0, box.x0), max(0, box.y0), min(width, box.x1), min(height, box.y1))
            if clipped.area == 0:
                continue
            hidden[clipped.y0 : clipped.y1, clipped.x0 : clipped.x1] = True
            regions.append(PersonRegion(box=clipped, score=1.0, source="body"))
        return Redacted(
            image=apply_hiding(frame, hidden, mode),
            hidden=hidden,
            regions=tuple(regions),
            mode=mode,
            face_count=0,
            person_count=len(regions),
        )
