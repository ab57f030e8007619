"""The part behind an inspection record: its fused verdict, its review and its other frames.

A node sends one :class:`PartVerdictRow` per physical part, naming the frame event that
decided it (``decisive_event_id``) and the frame range it was seen in. A record is
matched to its part by that name first, else by node, camera, frame range *and* time
(frame counters restart with the node, so a frame id alone could match an older part).
The part's frames are the records of the same node and camera inside both ranges; its
stage results (gauging measurements, label fields, their reasons) are those the same node
sent naming the part verdict.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from lineguard.contracts.stages import Measurement, StageReason
from lineguard.server.context import Sealer
from lineguard.server.dashboard.schemas import PartFrame, PartStage, PartView
from lineguard.server.dashboard.service import open_part_id
from lineguard.server.ingest import InspectionEventRow, PartVerdictRow, StageResultRow
from lineguard.server.review import PART_VERDICT, ReviewItemRow, ReviewItemView

__all__ = ["MAX_FRAMES", "part_of_record", "stages_of_part"]

#: Frames listed per part (a stuck conveyor's part may span many; the node closes it).
MAX_FRAMES = 100


def part_of_record(session: Session, *, record: InspectionEventRow, sealer: Sealer) -> PartView | None:
    """The part ``record`` was a frame of, or None when the node sent no part verdict for it."""
    p = PartVerdictRow
    same_place = and_(
        p.site_id == record.site_id, p.node_id == record.node_id, p.camera_id == record.camera_id
    )
    in_range = and_(
        p.first_frame_id <= record.frame_id,
        p.last_frame_id >= record.frame_id,
        p.first_seen_at <= record.captured_at,
        p.last_seen_at >= record.captured_at,
    )
    part = session.scalars(
        select(p)
        .where(same_place, or_(p.decisive_event_id == record.event_id, in_range))
        # The part this frame decided, if any, before one whose range merely covers it.
        .order_by((p.decisive_event_id == record.event_id).desc(), p.first_seen_at.desc())
        .limit(1)
    ).first()
    if part is None:
        return None
    e = InspectionEventRow
    frames = session.scalars(
        select(e)
        .where(
            e.site_id == part.site_id,
            e.node_id == part.node_id,
            e.camera_id == part.camera_id,
            e.frame_id.between(part.first_frame_id, part.last_frame_id),
            e.captured_at.between(part.first_seen_at, part.last_seen_at),
        )
        .order_by(e.captured_at, e.frame_id)
        .limit(MAX_FRAMES)
    ).all()
    stages = stages_of_part(session, part)
    review = session.scalars(
        select(ReviewItemRow).where(
            ReviewItemRow.subject_kind == PART_VERDICT.name,
            ReviewItemRow.subject_id == part.part_verdict_id,
        )
    ).one_or_none()
    return PartView(
        part_verdict_id=part.part_verdict_id,
        part_id=open_part_id(
            sealer,
            part.part_id_sealed,
            node_id=part.node_id,
            key=part.idempotency_key,
            category="part_verdicts",
        ),
        id_source=part.id_source,
        verdict=part.verdict,
        anomaly_score=part.anomaly_score,
        threshold=part.threshold,
        first_seen_at=part.first_seen_at,
        last_seen_at=part.last_seen_at,
        frames_seen=part.frames,
        frames_fused=part.frames_fused,
        frames_expected=part.frames_expected,
        views_short=part.views_short,
        decisive_event_id=part.decisive_event_id,
        frames=[
            PartFrame(
                event_id=f.event_id,
                frame_id=f.frame_id,
                captured_at=f.captured_at,
                verdict=f.verdict,
                anomaly_score=f.anomaly_score,
                has_evidence=f.evidence_ref is not None,
                decisive=f.event_id == part.decisive_event_id,
            )
            for f in frames
        ],
        stages=stages,
        review=None if review is None else ReviewItemView.of(review),
    )


def stages_of_part(session: Session, part: PartVerdictRow) -> list[PartStage]:
    """The stage results the part's node sent for it, in the order they were taken."""
    s = StageResultRow
    rows = session.scalars(
        select(s)
        .where(
            s.part_verdict_id == part.part_verdict_id, s.node_id == part.node_id, s.site_id == part.site_id
        )
        .order_by(s.captured_at, s.stage, s.row_id)
    ).all()
    return [
        PartStage(
            result_id=r.result_id,
            stage=r.stage,
            kind=r.kind,
            camera_id=r.camera_id,
            captured_at=r.captured_at,
            frame_id=r.frame_id,
            frame_ids=list(r.frame_ids or [r.frame_id]),
            verdict=r.verdict,
            reasons=[StageReason.model_validate(x) for x in r.reasons],
            measurements=[Measurement.model_validate(m) for m in r.measurements],
        )
        for r in rows
    ]
