"""Checking one label against the one expected for the current order.

The label region is cut from the frame, then, cheapest first:

1. **missing** — the region is blank (no contrast at all): there is no label to read;
2. **code** — the symbol is read (zxing-cpp); a failed checksum (the symbol's own or a GTIN's
   check digit) is ``bad_checksum``; no symbol on a present label is ``unreadable``; a symbol
   rotated by 180° is ``upside_down``; a GS1 element string gives GTIN, lot, date, quantity;
3. **text** — the printed lines are read (RapidOCR) for the fields the stage lists in
   ``text_fields``, on the region with dead printhead lines bridged
   (:mod:`~lineguard.edge.labels.restore`: always, whatever is read, so no retry can settle
   on the expected value); a line the classifier finds rotated by 180° is ``upside_down``;
   a field not found gets a second look on the contrast-equalised region, then is
   ``unreadable``;
4. **compare** — every field the expected label gives must have been read somewhere
   (``missing`` otherwise) and equal the expected value wherever it was read (``mismatch``).

Every problem found is reported, each naming its field; the label passes only with none.
Values read stay on the node: a failure says *which* field differs, never what the label said.

**Several views of one label** (:meth:`LabelVerifier.check_views`: the part's frames, the
decisive one first). The first view is read as above; if it passes, the label passes (one
read, as before). If it fails, the next views are read (at most :data:`MAX_VIEWS` in all:
OCR is the costly part, and three is what the benchmark measured), and the label passes
only when at least :data:`CONFIRMING_VIEWS` of them pass in full *and* more views pass
than fail. A
misread caused by noise, glare or the angle in one frame is outvoted; a wrong label stays
failed, because accepting it would take two independent reads of *its* print coming out as
exactly the expected content. Otherwise the failure the most views agree on is reported.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from lineguard.config.labels import ExpectedLabel, LabelField, LabelRegion, LabelStageConfig, canonical
from lineguard.contracts.errors import InputError
from lineguard.edge.labels.codes import CodeRead, CodeReader
from lineguard.edge.labels.gs1 import Gs1Error, parse_element_string
from lineguard.edge.labels.ocr import TextLine, TextReader
from lineguard.edge.labels.restore import bridge_print_gaps

__all__ = ["CONFIRMING_VIEWS", "MAX_VIEWS", "LabelCheck", "LabelFailure", "LabelVerifier", "Reason"]

#: Grey-level spread (std) below which the region holds no label at all.
BLANK_STD = 4.0
#: Views (besides the first, which failed) that must pass in full to overturn its failure.
CONFIRMING_VIEWS = 2
#: Views of one label read at most (the first and, when it fails, the next two).
MAX_VIEWS = 3


class Reason:
    """Reason codes of a failed label (``StageReason.code``)."""

    MISSING = "missing"
    UNREADABLE = "unreadable"
    MISMATCH = "mismatch"
    UPSIDE_DOWN = "upside_down"
    BAD_CHECKSUM = "bad_checksum"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class LabelFailure:
    reason: str
    #: The field (``lot``, ``gtin``…) or ``label`` / ``code`` / ``text`` for the label as a whole.
    subject: str
    message: str


@dataclass(frozen=True)
class LabelCheck:
    """The outcome of one label check; ``read`` stays on the node."""

    failures: list[LabelFailure]
    read: dict[str, str] = field(default_factory=dict)
    #: Views read to reach this outcome (1 unless the first view failed).
    views_read: int = 1

    @property
    def passed(self) -> bool:
        return not self.failures


def _crop(frame: np.ndarray[Any, Any], r: LabelRegion) -> np.ndarray[Any, Any]:
    height, width = frame.shape[:2]
    if r.x + r.width > width or r.y + r.height > height:
        msg = (
            f"label region {r.width}x{r.height} at ({r.x}, {r.y}) reaches outside the {width}x{height} frame"
        )
        raise InputError(msg, details=["fix the stage's region in edge.yaml"])
    return frame[r.y : r.y + r.height, r.x : r.x + r.width]


def _grey(region: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return region if region.ndim == 2 else region.mean(axis=2)


def _grey_u8(region: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if region.ndim == 2:
        return np.ascontiguousarray(region, np.uint8)
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_BGR2GRAY), np.uint8)


def _bgr(grey: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), np.uint8)


def _equalised(grey: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``grey`` with local contrast equalised (CLAHE), as BGR."""
    return _bgr(cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(grey))


class LabelVerifier:
    """Checks labels for one stage; the readers are injected (real ones in production)."""

    def __init__(
        self, config: LabelStageConfig, *, codes: CodeReader | None, text: TextReader | None
    ) -> None:
        if config.code_required and codes is None:
            msg = f"label stage {config.name!r} requires a code but has no code reader"
            raise InputError(msg)
        if config.text_fields and text is None:
            msg = f"label stage {config.name!r} checks printed text but has no text reader"
            raise InputError(msg)
        self.config = config
        self._codes = codes
        self._text = text
        self._patterns = {f: re.compile(p) for f, p in config.text_patterns.items()}

    def check(
        self, frame: np.ndarray[Any, Any], expected: ExpectedLabel, region_box: LabelRegion | None = None
    ) -> LabelCheck:
        """Check the label in ``region_box`` (default: the stage's configured region)."""
        box = region_box or self.config.region
        if box is None:
            msg = f"label stage {self.config.name!r} has no region: configure one or pass the camera's ROI"
            raise InputError(msg)
        region = _crop(frame, box)
        if float(_grey(region).std()) < BLANK_STD:
            return LabelCheck([LabelFailure(Reason.MISSING, "label", "no label in the label region")])
        failures: list[LabelFailure] = []
        from_code: dict[LabelField, str] = {}
        if self._codes is not None:
            from_code = self._code_fields(self._codes.read(region), expected, failures)
        from_text: dict[LabelField, str] = {}
        if self._text is not None and self.config.text_fields:
            from_text = self._text_fields(region, failures)
        self._compare(expected, from_code, from_text, failures)
        read = {f"code.{k.value}": v for k, v in from_code.items()}
        read |= {f"text.{k.value}": v for k, v in from_text.items()}
        return LabelCheck(failures, read)

    def check_views(
        self,
        frames: Sequence[np.ndarray[Any, Any]],
        expected: ExpectedLabel,
        region_box: LabelRegion | None = None,
    ) -> LabelCheck:
        """Check one label seen in several ``frames`` (the decisive one first; module docstring)."""
        if not frames:
            msg = "check_views needs at least one frame"
            raise InputError(msg)
        first = self.check(frames[0], expected, region_box)
        if first.passed or len(frames) == 1:
            return first
        checks = [first, *(self.check(frame, expected, region_box) for frame in frames[1:MAX_VIEWS])]
        passed = [c for c in checks[1:] if c.passed]
        if len(passed) >= CONFIRMING_VIEWS and len(passed) > len(checks) - len(passed):
            return LabelCheck([], passed[0].read, views_read=len(checks))
        # The failure most views agree on (ties: the earliest view's), each view's reasons as a set.
        failing = [c for c in checks if not c.passed]
        votes = Counter(frozenset((f.reason, f.subject) for f in c.failures) for c in failing)
        top = max(votes.values())
        chosen = next(
            c for c in failing if votes[frozenset((f.reason, f.subject) for f in c.failures)] == top
        )
        return LabelCheck(chosen.failures, chosen.read, views_read=len(checks))

    # -- code ----------------------------------------------------------------------------

    def _code_fields(
        self, reads: list[CodeRead], expected: ExpectedLabel, failures: list[LabelFailure]
    ) -> dict[LabelField, str]:
        good = list({r.text: r for r in reads if r.error is None}.values())
        if not good:
            if any(r.error == "checksum" for r in reads):
                # A symbol found whose own check failed (a misprint or damage): never read past it.
                failures.append(LabelFailure(Reason.BAD_CHECKSUM, "code", "the code's own checksum fails"))
            elif self.config.code_required:
                failures.append(LabelFailure(Reason.UNREADABLE, "code", "no readable code on the label"))
            return {}
        if len(good) > 1:
            failures.append(
                LabelFailure(Reason.AMBIGUOUS, "code", f"{len(good)} different codes on one label")
            )
            return {}
        symbol = good[0]
        if symbol.upside_down:
            failures.append(LabelFailure(Reason.UPSIDE_DOWN, "label", "the code reads upside down"))
        if symbol.gs1 or symbol.text.startswith("("):
            return self._gs1_fields(symbol, expected, failures)
        if symbol.format in {"EAN13", "EAN8"}:
            return {LabelField.GTIN: symbol.text.zfill(14)}
        return {LabelField.PART_NUMBER: symbol.text.strip().upper()}

    @staticmethod
    def _gs1_fields(
        symbol: CodeRead, expected: ExpectedLabel, failures: list[LabelFailure]
    ) -> dict[LabelField, str]:
        try:
            parsed = parse_element_string(symbol.text)
        except Gs1Error as exc:  # its message quotes the code: only the field leaves the node
            if "check digit" in exc.message:
                failures.append(
                    LabelFailure(Reason.BAD_CHECKSUM, exc.field, "the GTIN's check digit is wrong")
                )
            else:
                failures.append(
                    LabelFailure(Reason.UNREADABLE, exc.field, f"the code's {exc.field} is not valid GS1")
                )
            return {}
        fields: dict[LabelField, str] = {}
        date = parsed.expiry_date if expected.date_ai == "17" else parsed.production_date
        for name, value in (
            (LabelField.GTIN, parsed.gtin),
            (LabelField.LOT, parsed.lot),
            (LabelField.DATE, date.isoformat() if isinstance(date, dt.date) else None),
            (LabelField.QUANTITY, None if parsed.quantity is None else str(parsed.quantity)),
        ):
            if value is not None:
                fields[name] = value
        return fields

    # -- text ----------------------------------------------------------------------------

    def _find(self, lines: list[TextLine], names: list[LabelField]) -> dict[LabelField, str]:
        found: dict[LabelField, str] = {}
        for name in names:
            for line in lines:
                match = self._patterns[name].search(line.text.upper().strip())
                if match:
                    found[name] = match.group(1)
                    break
        return found

    def _text_fields(
        self, region: np.ndarray[Any, Any], failures: list[LabelFailure]
    ) -> dict[LabelField, str]:
        assert self._text is not None  # noqa: S101 - only called with a text reader
        bridged = bridge_print_gaps(_grey_u8(region))
        lines = self._text.read(_bgr(bridged))
        if not lines:
            failures.append(LabelFailure(Reason.UNREADABLE, "text", "no printed text could be read"))
            return {}
        flipped = sum(line.upside_down for line in lines)
        if flipped * 2 > len(lines):
            failures.append(
                LabelFailure(
                    Reason.UPSIDE_DOWN, "label", f"{flipped} of {len(lines)} text lines are upside down"
                )
            )
        found = self._find(lines, self.config.text_fields)
        missing = [name for name in self.config.text_fields if name not in found]
        if missing:
            # A second look, contrast-equalised, for the lines the first pass did not find (glare,
            # faint print). Only *finding* a field is retried: a value read and found different
            # is not read again until it agrees.
            found |= self._find(self._text.read(_equalised(bridged)), missing)
        for name in self.config.text_fields:
            if name not in found:
                failures.append(
                    LabelFailure(Reason.UNREADABLE, name.value, f"{name.value} not found in the printed text")
                )
        return found

    # -- compare -------------------------------------------------------------------------

    def _compare(
        self,
        expected: ExpectedLabel,
        from_code: dict[LabelField, str],
        from_text: dict[LabelField, str],
        failures: list[LabelFailure],
    ) -> None:
        already = {f.subject for f in failures}
        for name in expected.checked_fields():
            want = canonical(expected.text_value(name) or "")
            seen = [
                (where, got)
                for where, got in (("code", from_code.get(name)), ("text", from_text.get(name)))
                if got is not None
            ]
            if not seen:
                if name.value not in already and not already & {"code", "label", "text"}:
                    failures.append(
                        LabelFailure(Reason.MISSING, name.value, f"the label does not carry {name.value}")
                    )
                continue
            wrong = [where for where, got in seen if canonical(got) != want]
            if wrong:
                failures.append(
                    LabelFailure(
                        Reason.MISMATCH,
                        name.value,
                        f"{name.value} differs from the expected label (read in the {' and '.join(wrong)})",
                    )
                )
