"""Reading the label's code: zxing-cpp on the label region, with checksum failures kept.

zxing-cpp drops a symbol whose checksum fails unless asked for errors; the reader asks,
so a code with a bad checksum is *reported* (the label fails naming it) instead of looking
like a label with no code at all. A GS1 code's element string is parsed and checked
(:mod:`lineguard.edge.labels.gs1`); its orientation (0, 90, 180, 270°) says whether the
label was applied upside down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CodeRead", "CodeReader"]


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

    def read(self, region: np.ndarray[Any, Any]) -> list[CodeRead]:
        found = self._zx.read_barcodes(
            np.ascontiguousarray(region), formats=self._formats, return_errors=True
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
