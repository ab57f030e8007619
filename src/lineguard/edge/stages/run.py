"""Run a camera's stages on one part and say what the part's verdict becomes.

A :class:`~lineguard.contracts.types.MultiViewStage` gets every view of the part (its
complete frames, decisive one included); any other stage gets the decisive frame. A result
names the decisive frame (``frame_id``) and, when the stage says which views it rests on
(:attr:`~lineguard.contracts.types.StageOutcome.views`), those frames (``frame_ids``); a stage
that names a view it was not given is a bug, treated like one that raises.

A stage that raises is a bug, not a verdict: the runner catches it, counts it, and
reports that stage ``uncertain`` (reason ``stage_error``) so the part goes to a person
instead of passing on a check that never ran.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lineguard.config.edge import NodeConfig
from lineguard.contracts.events import BoundingBox, Verdict
from lineguard.contracts.ids import new_id
from lineguard.contracts.stages import MAX_FRAMES_PER_RESULT, PartStageVerdict, StageReason, StageResult
from lineguard.contracts.types import Frame, InspectionStage, MultiViewStage, StageOutcome

__all__ = ["PartContext", "StageRunner"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PartContext:
    """The part the stages judge: where it was seen, and the verdict id it will carry."""

    camera_id: str
    station_id: str
    part_verdict_id: str | None
    frame_id: int
    captured_at: datetime
    #: The frame ids of the views handed to multi-view stages, in the same order (decisive first).
    view_frame_ids: tuple[int, ...] = ()


class StageRunner:
    """Runs each stage in order; returns the results to send and each stage's say in the part."""

    def __init__(self, node: NodeConfig, stages: Sequence[InspectionStage]) -> None:
        self.node, self.stages = node, list(stages)
        #: Stage name → exceptions caught (each made that part uncertain).
        self.errors: dict[str, int] = {s.name: 0 for s in self.stages}

    def __bool__(self) -> bool:
        return bool(self.stages)

    def _outcome(
        self,
        stage: InspectionStage,
        image: Frame,
        roi: BoundingBox,
        views: Sequence[tuple[Frame, BoundingBox]],
    ) -> StageOutcome:
        try:
            if isinstance(stage, MultiViewStage):
                return stage.inspect_views(views)
            return stage.inspect(image, roi)
        except Exception as exc:  # a bug in a stage must not pass the part nor stop the camera
            self.errors[stage.name] += 1
            log.exception("stage %s failed on a part", stage.name)
            reason = StageReason(
                code="stage_error",
                subject=stage.kind.value,
                message=f"the stage failed: {type(exc).__name__}"[:300],
            )
            return StageOutcome(Verdict.UNCERTAIN, reasons=(reason,))

    def _frames_of(
        self, stage: InspectionStage, outcome: StageOutcome, part: PartContext, views: int
    ) -> tuple[StageOutcome, list[int]]:
        """The frame ids the outcome rests on ([]: the decisive frame alone), or a stage_error outcome
        when the stage named views it was not given."""
        if not outcome.views:
            return outcome, []
        named = list(outcome.views)
        if (
            len(set(named)) != len(named)
            or len(named) > MAX_FRAMES_PER_RESULT
            or not all(0 <= i < views for i in named)
        ):
            self.errors[stage.name] += 1
            log.error("stage %s named views %s of the %d it was given", stage.name, named, views)
            reason = StageReason(
                code="stage_error",
                subject=stage.kind.value,
                message=f"the stage named views {named[:8]} of the {views} it was given"[:300],
            )
            return StageOutcome(Verdict.UNCERTAIN, reasons=(reason,), inputs=outcome.inputs), []
        ids = list(part.view_frame_ids) if len(part.view_frame_ids) == views else None
        if ids is None:  # the caller gave no ids for these views: only the decisive one is known
            ids = [part.frame_id] if views == 1 else []
        return outcome, [ids[i] for i in named] if ids else []

    def judge(
        self,
        image: Frame,
        roi: BoundingBox,
        part: PartContext,
        views: Sequence[tuple[Frame, BoundingBox]] = (),
    ) -> tuple[list[StageResult], list[PartStageVerdict]]:
        """Judge the part: ``image``/``roi`` is its decisive frame, ``views`` its complete frames,
        the decisive one first (default: the decisive frame alone)."""
        views = list(views) or [(image, roi)]
        results: list[StageResult] = []
        verdicts: list[PartStageVerdict] = []
        for stage in self.stages:
            started = time.perf_counter_ns()
            outcome = self._outcome(stage, image, roi, views)
            outcome, frame_ids = self._frames_of(stage, outcome, part, len(views))
            result_id = new_id("stg")
            result = StageResult(
                result_id=result_id,
                idempotency_key=f"{self.node.node_id}:{result_id}",
                node_id=self.node.node_id,
                site_id=self.node.site_id,
                line_id=self.node.line_id,
                station_id=part.station_id,
                camera_id=part.camera_id,
                stage=stage.name,
                kind=stage.kind,
                part_verdict_id=part.part_verdict_id,
                frame_id=part.frame_id,
                frame_ids=frame_ids,
                captured_at=part.captured_at,
                verdict=outcome.verdict,
                reasons=list(outcome.reasons),
                measurements=list(outcome.measurements),
                inputs=list(outcome.inputs),
                latency_ms=(time.perf_counter_ns() - started) / 1e6,
            )
            results.append(result)
            verdicts.append(
                PartStageVerdict(
                    stage=stage.name, kind=stage.kind, verdict=outcome.verdict, result_id=result_id
                )
            )
        return results, verdicts
