"""A stage that says what it is told: for tests, demos and the conformance suite.

:class:`ScriptedStage` returns its outcomes in turn (the last one repeats), and raises
when the script holds an exception, so the runner's handling of a broken stage can be
exercised without a real check. :class:`ScriptedViewsStage` is the same as a
:class:`~lineguard.contracts.types.MultiViewStage`, and records the views it was given.
"""

from __future__ import annotations

from collections.abc import Sequence

from lineguard.contracts.events import BoundingBox
from lineguard.contracts.stages import StageKind
from lineguard.contracts.types import Frame, StageOutcome

__all__ = ["ScriptedStage", "ScriptedViewsStage"]


class ScriptedStage:
    def __init__(
        self,
        outcomes: Sequence[StageOutcome | Exception],
        *,
        name: str = "scripted",
        kind: StageKind = StageKind.GAUGING,
    ) -> None:
        if not outcomes:
            msg = "a scripted stage needs at least one outcome"
            raise ValueError(msg)
        self._outcomes = list(outcomes)
        self._name, self._kind = name, kind
        #: The ROI of every call, in order (what the stage was asked to judge).
        self.seen: list[BoundingBox] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> StageKind:
        return self._kind

    def inspect(self, image: Frame, roi: BoundingBox) -> StageOutcome:
        self.seen.append(roi)
        outcome = self._outcomes[min(len(self.seen), len(self._outcomes)) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class ScriptedViewsStage(ScriptedStage):
    """A scripted multi-view stage: ``views`` holds, per call, the images it was given."""

    def __init__(self, outcomes: Sequence[StageOutcome | Exception], **kw: object) -> None:
        super().__init__(outcomes, **kw)  # type: ignore[arg-type]
        self.views: list[list[Frame]] = []

    def inspect_views(self, views: Sequence[tuple[Frame, BoundingBox]]) -> StageOutcome:
        self.views.append([image for image, _ in views])
        return self.inspect(*views[0])
