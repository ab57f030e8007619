"""Redaction recall: did every person disappear, and how much of the frame went with them?

A person counts as **redacted** when at least ``min_hidden`` (default 0.8) of their
visible pixels are hidden *and* at least ``min_head_hidden`` (0.95) of their visible
head is. Why these numbers: what identifies someone is the head and face, so the head
must be hidden almost entirely; for the rest of the body, a fringe of up to 20% — a
hand or a boot at the edge of a box — shows that someone was there but not who, while
a lower bar would count a person as hidden with half their body on show. Pixel
coverage (share of all person pixels hidden) is reported beside it, and so is the
false-redaction rate on frames without people: hiding costs evidence, never privacy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from lineguard.edge.redact._types import HiddenMask
from lineguard.edge.redact.evaluation._scenes import PersonTruth

__all__ = ["FalseRedaction", "RecallReport", "false_redaction", "score_people"]

MIN_HIDDEN = 0.8
MIN_HEAD_HIDDEN = 0.95


@dataclass
class RecallReport:
    """Person-level recall and pixel coverage over many frames."""

    people: int = 0
    redacted: int = 0
    person_pixels: int = 0
    hidden_person_pixels: int = 0
    #: (frame name, person index, body share hidden, head share hidden) of every miss.
    misses: list[tuple[str, int, float, float]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.redacted / self.people if self.people else 1.0

    @property
    def coverage(self) -> float:
        return self.hidden_person_pixels / self.person_pixels if self.person_pixels else 1.0

    def add(
        self,
        name: str,
        hidden: HiddenMask,
        people: Iterable[PersonTruth],
        *,
        min_hidden: float = MIN_HIDDEN,
        min_head_hidden: float = MIN_HEAD_HIDDEN,
    ) -> None:
        for index, person in enumerate(people):
            area = int(person.mask.sum())
            if area == 0:
                continue
            covered = int((hidden & person.mask).sum())
            head_area = int(person.head.sum())
            head_share = float((hidden & person.head).sum()) / head_area if head_area else 1.0
            body_share = covered / area
            self.people += 1
            self.person_pixels += area
            self.hidden_person_pixels += covered
            if body_share >= min_hidden and head_share >= min_head_hidden:
                self.redacted += 1
            else:
                self.misses.append((name, index, round(body_share, 3), round(head_share, 3)))


def score_people(
    name: str, hidden: HiddenMask, people: Iterable[PersonTruth], report: RecallReport | None = None
) -> RecallReport:
    """Add one frame's people to ``report`` (a new one if not given) and return it."""
    out = report or RecallReport()
    out.add(name, hidden, people)
    return out


@dataclass
class FalseRedaction:
    """How much is hidden on frames where nobody is."""

    frames: int = 0
    frames_with_any: int = 0
    hidden_fractions: list[float] = field(default_factory=list)

    def add(self, hidden: HiddenMask) -> None:
        self.frames += 1
        self.frames_with_any += bool(hidden.any())
        self.hidden_fractions.append(float(hidden.mean()))

    @property
    def frame_rate(self) -> float:
        return self.frames_with_any / self.frames if self.frames else 0.0

    @property
    def mean_hidden_fraction(self) -> float:
        return float(np.mean(self.hidden_fractions)) if self.hidden_fractions else 0.0


def false_redaction(hidden_masks: Iterable[HiddenMask]) -> FalseRedaction:
    out = FalseRedaction()
    for hidden in hidden_masks:
        out.add(hidden)
    return out
