"""Reading the label's code: zxing-cpp on the label region, with checksum failures kept.

zxing-cpp drops a symbol whose checksum fails unless asked for errors; the reader asks,
so a code with a bad checksum is *reported* (the label fails naming it) instead of looking
like a label with no code at all. A GS1 code's element string is parsed and checked
(:mod:`lineguard.edge.labels.gs1`); its orientation (0, 90, 180, 270°) says whether the
label was applied upside down.

A region with no valid symbol is read again after a 3 × 3 grey erosion, which grows the
ink by a pixel: unprinted lines (a dead printhead dot) and voids that cut a 2D code's
finder pattern close up, and the symbol's own error correction does the rest (on the
benchmark's acceptable labels this recovers ~1 DataMatrix in 4 that the first pass
misses). Still none: reads with the dead printhead lines bridged
(:func:`~lineguard.edge.labels.restore.bridge_print_gaps`), up to 2 px tall for every
format, then 3 and 5 px (:data:`CODE_GAPS_PX`) for 2D symbols only, which recover a
DataMatrix whose modules one or several lines cut beyond its error correction (on the
benchmark's seed 23, the 2 px pass alone left four such symbols; the taller ones read
all four). Only 2D symbols, because only their Reed-Solomon check makes a misdecode
practically impossible: a Code 128's mod-103 check is weak — on the benchmark's seed 31
zxing-cpp read a clean GS1-128 twice in one pass, once wrongly (``ambiguous``: the label
is refused, never passed) — and a taller bridge there would only add such chances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from lineguard.edge.labels.restore import bridge_print_gaps

__all__ = ["CODE_GAPS_PX", "CodeRead", "CodeReader"]

#: Heights of the unprinted lines bridged in turn when no symbol decodes (pixels); past the
#: first, 2D symbols only.
CODE_GAPS_PX = (2, 3, 5)
_TWO_D = ("DataMatrix", "QRCode")


@dataclass(frozen=True)
class CodeRead:
    """One symbol found in the region."""

    format: str
    text: str
    #: Rotation of the symbol in the region, degrees counter-clockwise (zxing-cpp's).
    orientation_deg: int
    gs1: bool
    #: ``checksum`` when the symbol was found but its check failed; None when it decoded.
    error: str | None = None

    @property
    def upside_down(self) -> bool:
        return abs(((self.orientation_deg + 180) % 360) - 180) > 135


class CodeReader:
    """Reads the given symbologies in a region (zxing-cpp, imported on first use)."""

    def __init__(self, formats: Sequence[str]) -> None:
        import zxingcpp  # the edge extra; only cameras with a label stage load it

        self._zx = zxingcpp
        self._formats = zxingcpp.barcode_formats_from_str(",".join(formats))
        self.formats = tuple(formats)
        two_d = [f for f in formats if f in _TWO_D]
        self._two_d = zxingcpp.barcode_formats_from_str(",".join(two_d)) if two_d else None

    def read(self, region: np.ndarray[Any, Any]) -> list[CodeRead]:
        grey = region if region.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_BGR2GRAY)
        reads = self._read(np.ascontiguousarray(grey))
        for retry in (None, *CODE_GAPS_PX):
            if any(r.error is None for r in reads):
                break
            formats = self._formats
            if retry is None:
                image = cv2.erode(grey, np.ones((3, 3), np.uint8))
            else:
                image = bridge_print_gaps(np.asarray(grey, np.uint8), gap_px=retry)
                if retry != CODE_GAPS_PX[0]:
                    if self._two_d is None:
                        break
                    formats = self._two_d
            reads += self._read(np.ascontiguousarray(image), formats)
        return reads

    def _read(self, image: np.ndarray[Any, Any], formats: Any = None) -> list[CodeRead]:
        found = self._zx.read_barcodes(
            image, formats=self._formats if formats is None else formats, return_errors=True
        )
        reads: list[CodeRead] = []
        for symbol in found:
            error = None
            if symbol.error is not None:
                if symbol.error.type != self._zx.ErrorType.Checksum:
                    continue  # a pattern that merely looked like a code
                error = "checksum"
            reads.append(
                CodeRead(
                    format=symbol.format.name,
                    text=symbol.text,
                    orientation_deg=int(symbol.orientation),
                    gs1=symbol.content_type == self._zx.ContentType.GS1,
                    error=error,
                )
            )
        return reads
