"""Undoing the commonest print defect before reading: a dead printhead dot.

A thermal-transfer printhead with a dead dot leaves a thin unprinted line along the feed,
through every character and bar it crosses (ISO 15416's "picket fence" on a 1D code). A
line through the middle of an ``8`` leaves something that reads as a ``6``; through the
middle of a line of text, nothing the OCR's detector will call text; through a DataMatrix,
a row of modules its error correction cannot always recover. On the benchmark's acceptable
labels every refusal of the previous reader was such a line (docs/benchmarks.md).

:func:`bridge_print_gaps` closes them: a grey-level *opening* with a 3 × 1 vertical element
removes bright structures at most two pixels tall — the dead line — and leaves everything
taller untouched: the counters of ``8``, ``0``, ``6``, ``9`` and the opening of a ``G``
(which a 5-pixel element starts to close: it read ``G`` as ``0``), the gaps between text
lines, the quiet zones. Ink is never thinned and no stroke grows: an opening only darkens
bright pixels lying between two dark ones, so a character cannot gain a stroke it did not
have everywhere but the two-pixel gap (a wrong ``6`` stays a ``6``).

The choice of image does not depend on what is read or expected: text is always read on
the bridged image, so no retry can settle on the expected value.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

__all__ = ["GAP_PX", "bridge_print_gaps"]

#: The tallest unprinted line bridged (pixels): the opening's element is GAP_PX + 1 tall.
GAP_PX = 2


def bridge_print_gaps(grey: np.ndarray[Any, Any], *, gap_px: int = GAP_PX) -> np.ndarray[Any, Any]:
    """``grey`` (uint8, 2-D) with horizontal unprinted lines up to ``gap_px`` tall closed.

    Text is read with the default only. A 2D code may be read with taller gaps bridged
    (:mod:`~lineguard.edge.labels.codes`): its Reed-Solomon check makes a misdecode
    practically impossible, so a closed gap can only make it decode or fail to."""
    element = np.ones((gap_px + 1, 1), np.uint8)
    return np.asarray(cv2.morphologyEx(grey, cv2.MORPH_OPEN, element), np.uint8)
