"""A person finder that returns what it is told: tests of the counting rules without the detector.

The real finder (the redaction detector, ``edge/pipeline/ppe.py``) runs in the pipeline and
end-to-end tests; this one pins exactly which boxes a frame holds, so a test can put a person
astride a privacy zone or outside every zone on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence

from lineguard.contracts.types import Frame
from lineguard.edge.ppe.counter import PersonBox

__all__ = ["ScriptedFinder"]


class ScriptedFinder:
    def __init__(self, frames: Sequence[Sequence[PersonBox]]) -> None:
        self._frames = [list(f) for f in frames]
        self.calls = 0

    def people(self, image: Frame) -> list[PersonBox]:
        found = self._frames[min(self.calls, len(self._frames) - 1)] if self._frames else []
        self.calls += 1
        return list(found)
