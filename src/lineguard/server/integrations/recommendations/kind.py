"""Work-order recommendations as a subject of the one review state machine (``lineguard.server.review``).

A maintenance technician (``maintenance_data.write``) approves, edits, rejects or
escalates a recommendation; anyone with ``maintenance_data.read`` on its line sees it.
Only the fields below may be edited; the rest (its source rule, evidence, events) is
what the recommendation *is* and stays as proposed.
"""

from __future__ import annotations

from lineguard.server.auth import Action
from lineguard.server.review import PROPOSAL_DECISIONS, SubjectKind

__all__ = ["EDITABLE", "WORK_ORDER"]

EDITABLE = frozenset({"title", "description", "priority", "station_id", "asset_id", "location_id"})

WORK_ORDER = SubjectKind(
    name="work_order",
    title="Work-order recommendation",
    read=Action.MAINTENANCE_DATA_READ,
    triage=Action.MAINTENANCE_DATA_WRITE,
    decide=Action.MAINTENANCE_DATA_WRITE,
    decisions=PROPOSAL_DECISIONS,
    editable=EDITABLE,
)
