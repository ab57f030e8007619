"""From frames to parts: one verdict per physical part.

A part is seen in several consecutive frames. :class:`PartFuser` collects the frames of
the part in view (its :class:`~lineguard.edge.decide.part_ids.Sighting` key) and closes
the part when the next one appears, when it has been in view for ``max_part_frames``
frames (a stuck conveyor), when no frame came for a while (``idle``), or at shutdown.
The closed part's verdict is fused:

**Fusion rule.** A part is judged on the frames where it is *complete* (fully inside
the ROI and alone in view — the frames the model was trained on). Its score is the
**median** of their scores, classified with the camera's threshold; if that passes but
at least one complete frame failed on its own, the part is **uncertain** (a person
looks). The decisive frame — regions, evidence image — is the complete frame with the
highest score. Stages that judge a part from several frames (gauging, labels:
:class:`~lineguard.contracts.types.MultiViewStage`) get its **views**: the complete frames,
in capture order, at most ``max_views`` of them kept with their images, the decisive one
included (thinned to every other one when more arrive, so a part that lingers is still seen
across the view, not only at its exit; 1, the default, keeps the decisive frame alone).

Why not the max: each frame has its own small chance of a false alarm (noise, flicker,
a position the model saw less often), and the max over six frames multiplies it by six —
measured on the demo line, that alone turned a 1-13 % per-frame false-alarm rate into
7-69 % of good parts rejected (docs/benchmarks.md). A real defect stays on the part while
it crosses the view, so it shows in most frames and the median keeps it; a defect that
shows in one frame only is not lost either: it makes the part uncertain. Restricting to
complete frames keeps a half-visible part at the ROI's edge, a worker walking past, or
two parts in one frame from deciding anything. When no frame of a part was complete it is
judged on all its frames and flagged ``partial_only`` (and goes to review).

**Too few views.** Under load the node may judge a part on fewer frames than it shows at
line speed (a dropped frame is a view lost). With ``parts.expected_frames_per_part`` set, a
part judged (``fused``) on fewer is marked ``views_short`` (and counted in
:attr:`PartFuser.short_parts`); with ``parts.min_frames_per_part`` set, a part judged on fewer
than that is ``uncertain`` — a person decides instead of an automatic pass or fail (counted
in :attr:`PartFuser.short_to_review`).

Bad input has a defined behaviour:

* a part id that never ends (stuck conveyor): the part is judged on its first
  ``max_part_frames`` frames, closed ``stuck`` and flagged; later frames with that id
  are diagnostic only (counted in :attr:`PartFuser.ignored_frames`) until the id changes;
* two parts in view: such frames are never judged on (the sighting is not complete) and
  the part is flagged ``two_parts_in_view``;
* frames out of order after a reconnect: a frame of a part already closed is not
  re-opened as a new part (counted in :attr:`PartFuser.late_frames`); a frame of the
  open part captured before its latest frame still counts, and the part is flagged
  ``out_of_order``.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lineguard.contracts.events import DefectRegion, PartAnomaly, PartClosedBy, PartIdSource, Verdict
from lineguard.edge.decide.part_ids import Sighting

__all__ = ["ClosedPart", "FrameJudgement", "PartFuser", "PartStep"]


@dataclass(frozen=True, slots=True)
class FrameJudgement:
    """What the model said about one frame (its inspection event)."""

    event_id: str
    frame_id: int
    captured_at: datetime
    verdict: Verdict
    score: float
    regions: tuple[DefectRegion, ...] = ()
    #: Whatever the caller needs back for the decisive frame (its image, for evidence).
    payload: Any = None


@dataclass
class ClosedPart:
    key: str
    part_id: str | None
    source: PartIdSource
    frames: list[FrameJudgement]
    #: The complete frame with the highest score (its regions and image represent the part).
    decisive: FrameJudgement
    #: How many frames the rule judged on (complete ones; all of them when none was).
    fused: int
    #: The median score of those frames, and the part's verdict.
    score: float
    verdict: Verdict
    closed_by: PartClosedBy
    anomalies: list[PartAnomaly]
    #: The complete frames kept with their payloads, in capture order (the decisive frame
    #: alone when none was complete): what multi-view stages judge.
    views: list[FrameJudgement] = field(default_factory=list)
    #: Frames a part is expected to be judged on (None: not configured), and whether this one
    #: was judged on fewer (``fused`` < ``frames_expected``).
    frames_expected: int | None = None
    views_short: bool = False


@dataclass
class _OpenPart:
    sighting: Sighting
    max_views: int = 1
    frames: list[FrameJudgement] = field(default_factory=list)
    complete: list[bool] = field(default_factory=list)
    anomalies: set[PartAnomaly] = field(default_factory=set)

    def add(self, sighting: Sighting, judgement: FrameJudgement) -> None:
        if self.frames and judgement.captured_at < self.frames[-1].captured_at:
            self.anomalies.add("out_of_order")
        self.frames.append(judgement)
        self.complete.append(sighting.complete)
        self.anomalies |= sighting.anomalies
        # The best frame and at most max_views complete frames keep their payloads (images):
        # memory per part is bounded. Over the bound, every other kept view is let go.
        best = max(range(len(self.frames)), key=self._rank)
        others = [
            i for i, f in enumerate(self.frames) if f.payload is not None and self.complete[i] and i != best
        ]
        while len(others) > self.max_views - 1:
            others = others[::2] if self.max_views > 2 else others[: self.max_views - 1]
        for i, f in enumerate(self.frames):
            if f.payload is not None and i != best and i not in others:
                self.frames[i] = FrameJudgement(
                    f.event_id, f.frame_id, f.captured_at, f.verdict, f.score, f.regions
                )

    def _rank(self, i: int) -> tuple[bool, float]:
        return (self.complete[i], self.frames[i].score)

    def close(
        self,
        closed_by: PartClosedBy,
        classify: Callable[[float], Verdict],
        *,
        expected: int | None = None,
        minimum: int | None = None,
    ) -> ClosedPart:
        judged = [f for f, c in zip(self.frames, self.complete, strict=True) if c]
        anomalies = set(self.anomalies)
        if not judged:
            anomalies.add("partial_only")
            judged = self.frames
        if closed_by == "stuck":
            anomalies.add("stuck")
        score = statistics.median(f.score for f in judged)
        verdict = classify(score)
        if verdict is Verdict.PASS and any(f.verdict is Verdict.FAIL for f in judged):
            verdict = Verdict.UNCERTAIN  # one frame saw something the others did not: a person looks
        fused = len(judged) if "partial_only" not in anomalies else 0
        if minimum is not None and fused < minimum:
            verdict = Verdict.UNCERTAIN  # too few views for an automatic pass or fail: a person looks
        best = max(range(len(self.frames)), key=self._rank)
        views = [f for f, c in zip(self.frames, self.complete, strict=True) if c and f.payload is not None]
        return ClosedPart(
            key=self.sighting.key or "",
            part_id=self.sighting.part_id,
            source=self.sighting.source,
            frames=self.frames,
            decisive=self.frames[best],
            fused=fused,
            score=score,
            verdict=verdict,
            closed_by=closed_by,
            anomalies=sorted(anomalies),
            views=views or [self.frames[best]],
            frames_expected=expected,
            views_short=expected is not None and fused < expected,
        )


@dataclass(frozen=True, slots=True)
class PartStep:
    """What one frame did: whether a part took it (else it is diagnostic only), and what it closed."""

    taken: bool
    closed: list[ClosedPart]


class PartFuser:
    """Frames in, closed parts out (see the module docstring for the rule)."""

    def __init__(
        self,
        classify: Callable[[float], Verdict],
        *,
        max_part_frames: int = 60,
        remember: int = 256,
        max_views: int = 1,
        expected_frames: int | None = None,
        min_frames: int | None = None,
    ) -> None:
        if max_part_frames < 1:
            msg = "max_part_frames must be at least 1"
            raise ValueError(msg)
        if max_views < 1:
            msg = "max_views must be at least 1"
            raise ValueError(msg)
        for name, value in (("expected_frames", expected_frames), ("min_frames", min_frames)):
            if value is not None and value < 1:
                msg = f"{name} must be at least 1, got {value}"
                raise ValueError(msg)
        #: Frames a part is expected to be judged on: configured, else the minimum for an
        #: automatic verdict (a part sent to review for too few frames is always marked short).
        self.expected_frames = expected_frames if expected_frames is not None else min_frames
        #: Fewer judged frames than this: the part is uncertain (review), not passed or failed.
        self.min_frames = min_frames
        #: Parts closed on fewer frames than expected, and those sent to review for it.
        self.short_parts = 0
        self.short_to_review = 0
        #: Frames a part keeps with their images for multi-view stages (1: the decisive one).
        self.max_views = max_views
        #: Score → verdict with the camera's threshold (the fused score is classified like a frame's).
        self.classify = classify
        self.max_part_frames = max_part_frames
        self._open: _OpenPart | None = None
        self._closed: deque[str] = deque(maxlen=remember)
        self._stuck_key: str | None = None
        self.late_frames = 0
        self.ignored_frames = 0

    def add(self, sighting: Sighting, judgement: FrameJudgement) -> PartStep:
        """Add one judged frame; say whether a part took it and which parts it closed."""
        key = sighting.key
        if key is None:  # nothing in view: the part that was there has left
            self._stuck_key = None
            return PartStep(False, self._close("next_part"))
        if key == self._stuck_key:
            self.ignored_frames += 1
            return PartStep(False, [])
        current = self._open
        if current is not None and current.sighting.key == key:
            current.add(sighting, judgement)
            if len(current.frames) >= self.max_part_frames:
                self._stuck_key = key
                return PartStep(True, self._close("stuck"))
            return PartStep(True, [])
        if key in self._closed:
            self.late_frames += 1  # a replayed or late frame of a part already judged
            return PartStep(False, [])
        self._stuck_key = None
        closed = self._close("next_part")
        self._open = _OpenPart(sighting, self.max_views)
        self._open.add(sighting, judgement)
        return PartStep(True, closed)

    def flush(self, closed_by: PartClosedBy = "shutdown") -> list[ClosedPart]:
        """Close the part in view: the camera stops (``shutdown``) or went quiet (``idle``)."""
        return self._close(closed_by)

    @property
    def has_open_part(self) -> bool:
        return self._open is not None

    def _close(self, closed_by: PartClosedBy) -> list[ClosedPart]:
        if self._open is None:
            return []
        part = self._open.close(
            closed_by, self.classify, expected=self.expected_frames, minimum=self.min_frames
        )
        self._open = None
        if part.views_short:
            self.short_parts += 1
        if self.min_frames is not None and part.fused < self.min_frames:
            self.short_to_review += 1
        self._closed.append(part.key)
        return [part]
