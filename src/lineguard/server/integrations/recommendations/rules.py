"""Where work-order recommendations come from: node triggers and the server's own rules.

Each source turns stored facts into review :class:`Proposal` s whose ``subject_id`` is
stable, so proposing the same thing twice opens nothing new:

* ``node_trigger`` — every row of ``work_order_triggers`` (a node saw too many failing
  parts at a station), followed by row id;
* ``defect_burst`` — at least ``defects`` defect alerts of one class on one line within
  ``window_minutes`` (the alerts' own times), at most one open recommendation per line and class;
* ``camera_stalled`` — a camera whose health says ``failed``/``ended`` or that sent none
  for ``after_minutes``, at most one open recommendation per camera.

Content is metadata: the description is written here from structured fields (counts,
station, class), never copied from a node's sealed free text, and evidence is a
reference, never an image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lineguard.config.integrations import AssetRef, RecommendationRules
from lineguard.server.ingest import AlertRow, CameraHealthRow, InspectionEventRow, NodeHealthRow, WorkOrderRow
from lineguard.server.integrations.recommendations.kind import WORK_ORDER
from lineguard.server.review import OPEN_STATES, Proposal, ReviewItemRow

__all__ = ["RULES", "burst_proposals", "stalled_camera_proposals", "trigger_proposals"]

#: Every rule that can raise a recommendation (the auto-approval policy is per rule).
RULES = ("node_trigger", "defect_burst", "camera_stalled")


def _asset(assets: Mapping[str, AssetRef], line_id: str, station_id: str | None) -> AssetRef:
    if station_id and f"{line_id}/{station_id}" in assets:
        return assets[f"{line_id}/{station_id}"]
    return assets.get(line_id, AssetRef())


def _content(
    rule: str, source: str, title: str, description: str, priority: str, line_id: str, station_id: str | None,
    camera_id: str | None, defect_class: str | None, assets: Mapping[str, AssetRef], evidence_ref: str | None,
    event_ids: Sequence[str], alert_ids: Sequence[str],
) -> dict[str, Any]:  # fmt: skip
    asset = _asset(assets, line_id, station_id)
    return {
        "rule": rule,
        "source": source,
        "title": title[:200],
        "description": description[:2000],
        "priority": priority,
        "line_id": line_id,
        "station_id": station_id,
        "camera_id": camera_id,
        "asset_id": asset.asset_id,
        "location_id": asset.location_id,
        "defect_class": defect_class,
        "evidence_ref": evidence_ref,
        "event_ids": list(event_ids)[:100],
        "alert_ids": list(alert_ids)[:100],
    }


def _first_evidence(session: Session, event_ids: Sequence[str]) -> str | None:
    """The evidence reference of the first of ``event_ids`` that has one (a reference, never an image)."""
    if not event_ids:
        return None
    return session.scalar(
        select(InspectionEventRow.evidence_ref)
        .where(InspectionEventRow.event_id.in_(list(event_ids)), InspectionEventRow.evidence_ref.is_not(None))
        .limit(1)
    )


def _has_open(session: Session, prefix: str) -> bool:
    found = session.scalar(
        select(ReviewItemRow.review_id)
        .where(
            ReviewItemRow.subject_kind == WORK_ORDER.name,
            ReviewItemRow.subject_id.startswith(prefix, autoescape=True),
            ReviewItemRow.state.in_([s.value for s in OPEN_STATES]),
        )
        .limit(1)
    )
    return found is not None


def trigger_proposals(
    session: Session, *, after_row_id: int, limit: int, assets: Mapping[str, AssetRef]
) -> tuple[list[Proposal], int]:
    """Proposals for the triggers after ``after_row_id``, and the last row id read."""
    rows = session.scalars(
        select(WorkOrderRow)
        .where(WorkOrderRow.row_id > after_row_id)
        .order_by(WorkOrderRow.row_id)
        .limit(limit)
    ).all()
    proposals = []
    for t in rows:
        events = list(t.event_ids or [])
        evidence = _first_evidence(session, events)
        alerts = (
            list(session.scalars(select(AlertRow.alert_id).where(AlertRow.event_id.in_(events))))
            if events
            else []
        )
        cls = f", defect class {t.defect_class}" if t.defect_class else ""
        description = (
            f"{len(events)} failing parts at station {t.station_id} on line {t.line_id}{cls} "
            f"(node {t.node_id})."
        )
        proposals.append(
            Proposal(
                subject_id=t.trigger_id,
                site_id=t.site_id,
                line_id=t.line_id,
                raised_at=t.created_at,
                content=_content(
                    "node_trigger", f"node:{t.node_id}", f"Inspect station {t.station_id} on {t.line_id}",
                    description, t.priority, t.line_id, t.station_id, None, t.defect_class, assets, evidence,
                    events, alerts,
                ),
            )
        )  # fmt: skip
    return proposals, (rows[-1].row_id if rows else after_row_id)


def burst_proposals(
    session: Session, *, rules: RecommendationRules, now: datetime, assets: Mapping[str, AssetRef]
) -> list[Proposal]:
    rule = rules.defect_burst
    if not rule.enabled:
        return []
    since = now - timedelta(minutes=rule.window_minutes)
    groups = session.execute(
        select(AlertRow.site_id, AlertRow.line_id, AlertRow.defect_class, func.count())
        .where(AlertRow.kind == "defect", AlertRow.defect_class.is_not(None), AlertRow.raised_at >= since,
               AlertRow.raised_at <= now)
        .group_by(AlertRow.site_id, AlertRow.line_id, AlertRow.defect_class)
        .having(func.count() >= rule.defects)
    ).all()  # fmt: skip
    proposals = []
    for site_id, line_id, defect_class, count in groups:
        prefix = f"burst:{site_id}:{line_id}:{defect_class}:"
        if _has_open(session, prefix):
            continue
        alerts = session.execute(
            select(AlertRow.alert_id, AlertRow.event_id, AlertRow.camera_id, AlertRow.raised_at)
            .where(AlertRow.kind == "defect", AlertRow.site_id == site_id, AlertRow.line_id == line_id,
                   AlertRow.defect_class == defect_class, AlertRow.raised_at >= since,
                   AlertRow.raised_at <= now)
            .order_by(AlertRow.raised_at, AlertRow.alert_id)
        ).all()  # fmt: skip
        events = [a.event_id for a in alerts if a.event_id]
        evidence = _first_evidence(session, events)
        cameras = sorted({a.camera_id for a in alerts if a.camera_id})
        description = (
            f"{count} {defect_class} defects on line {line_id} within {rule.window_minutes} minutes "
            f"(rule defect_burst: {rule.defects} or more)"
            f"{'; cameras ' + ', '.join(cameras) if cameras else ''}."
        )
        proposals.append(
            Proposal(
                subject_id=f"{prefix}{alerts[-1].alert_id}",
                site_id=site_id,
                line_id=line_id,
                raised_at=alerts[-1].raised_at,
                content=_content(
                    "defect_burst", "rule:defect_burst", f"Recurring {defect_class} defects on {line_id}",
                    description, rule.priority, line_id, None, cameras[0] if len(cameras) == 1 else None,
                    defect_class, assets, evidence, events, [a.alert_id for a in alerts],
                ),
            )
        )  # fmt: skip
    return proposals


def stalled_camera_proposals(
    session: Session, *, rules: RecommendationRules, now: datetime, assets: Mapping[str, AssetRef]
) -> list[Proposal]:
    rule = rules.camera_stalled
    if not rule.enabled:
        return []
    silent_since = now - timedelta(minutes=rule.after_minutes)
    rows = session.execute(
        select(CameraHealthRow, NodeHealthRow.site_id, NodeHealthRow.line_id)
        .join(NodeHealthRow, NodeHealthRow.node_id == CameraHealthRow.node_id)
        .where(CameraHealthRow.state.in_(["failed", "ended"]) | (CameraHealthRow.updated_at < silent_since))
    ).all()
    proposals = []
    for camera, site_id, line_id in rows:
        prefix = f"stall:{camera.node_id}:{camera.camera_id}:"
        if _has_open(session, prefix):
            continue
        why = (
            f"reports {camera.state}" if camera.state in {"failed", "ended"}
            else f"sent no health for {rule.after_minutes} minutes or more"
        )  # fmt: skip
        proposals.append(
            Proposal(
                subject_id=f"{prefix}{int(camera.updated_at.timestamp())}",
                site_id=site_id,
                line_id=line_id,
                raised_at=camera.updated_at,
                content=_content(
                    "camera_stalled", "rule:camera_stalled",
                    f"Camera {camera.camera_id} stalled on {line_id}",
                    f"Camera {camera.camera_id} (node {camera.node_id}) {why} (rule camera_stalled).",
                    rule.priority, line_id, None, camera.camera_id, None, assets, None, [], [],
                ),
            )
        )  # fmt: skip
    return proposals
