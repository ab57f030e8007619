"""Fuzz what an evidence image keeps (``evidence.crop: defects``): whatever the defect boxes
(inside, across the edge of, or outside the stored region; tiny or huge; any context), the
kept region lies inside the stored region, holds every defect box's part inside it, and a
crop cut from it is redacted in the whole stored region's context window."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lineguard.config.edge import CameraEvidenceConfig
from lineguard.contracts.events import BoundingBox
from lineguard.edge.evidence.region import context_window, cut, kept_region

W, H = 320, 240
STORED = BoundingBox(x=60, y=40, width=180, height=150)

boxes = st.builds(
    BoundingBox,
    x=st.integers(0, W + 50),
    y=st.integers(0, H + 50),
    width=st.integers(1, 400),
    height=st.integers(1, 400),
)


@settings(max_examples=300, deadline=None)
@given(defects=st.lists(boxes, max_size=6), context=st.integers(0, 400))
def test_the_kept_region_is_inside_the_stored_region_and_holds_every_defect(
    defects: list[BoundingBox], context: int
) -> None:
    kept = kept_region(STORED, defects, CameraEvidenceConfig(crop="defects", defect_context_px=context))
    assert kept.width >= 1 and kept.height >= 1
    assert STORED.x <= kept.x and kept.x + kept.width <= STORED.x + STORED.width
    assert STORED.y <= kept.y and kept.y + kept.height <= STORED.y + STORED.height
    inside = False
    for b in defects:
        x0, y0 = max(b.x, STORED.x), max(b.y, STORED.y)
        x1 = min(b.x + b.width, STORED.x + STORED.width)
        y1 = min(b.y + b.height, STORED.y + STORED.height)
        if x1 > x0 and y1 > y0:  # the part of the box inside the stored region is kept
            inside = True
            assert kept.x <= x0 and x1 <= kept.x + kept.width
            assert kept.y <= y0 and y1 <= kept.y + kept.height
    if not inside:
        assert kept == STORED  # nothing to focus on: the whole part
    crop = cut(np.zeros((H, W, 3), np.uint8), kept, defects, context_of=STORED)
    assert crop.window == context_window((H, W), STORED)
    assert crop.stored(crop.context).shape == (kept.height, kept.width, 3)
