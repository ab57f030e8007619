"""One label check's outcome, from its verdict and reason codes (``edge/labels/verify.py``).

A check that passed was **read** (code and text read, every expected field matched). A
failed check is a **mismatch** when any field differs from the expected label (the
worst news: the label is readable and wrong), else **upside_down** when that is what the
reader found, else **unreadable** (no label, no readable code or text, a code failing its
own checksum, two different codes). A check the stage could not judge (no expected label
for the order, the label region outside the frame) is **not_judged**: the part went to
review, never passed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

__all__ = ["UNREADABLE_CODES", "Outcome", "outcome_of"]

#: Reason codes of a label that could not be read as one label.
UNREADABLE_CODES = frozenset({"unreadable", "missing", "bad_checksum", "ambiguous"})


class Outcome(enum.StrEnum):
    READ = "read"
    MISMATCH = "mismatch"
    UNREADABLE = "unreadable"
    UPSIDE_DOWN = "upside_down"
    NOT_JUDGED = "not_judged"


def outcome_of(verdict: str, codes: Iterable[str]) -> Outcome:
    """The outcome of a check with ``verdict`` and these reason codes."""
    found = set(codes)
    if verdict == "pass":
        return Outcome.READ
    if verdict != "fail":
        return Outcome.NOT_JUDGED
    if "mismatch" in found:
        return Outcome.MISMATCH
    if "upside_down" in found and not found & UNREADABLE_CODES:
        return Outcome.UPSIDE_DOWN
    return Outcome.UNREADABLE
