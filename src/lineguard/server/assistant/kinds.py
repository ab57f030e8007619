"""Assistant recommendations as subjects of the one review state machine (``lineguard.server.review``).

When an answer proposes an action, it becomes a review item beside the work-order
recommendations: people approve, edit, reject or escalate it, each step audited as
``ai.decision`` (its proposal as ``ai.recommendation``). Two kinds, because the people
who may act differ:

* ``assistant_work_order`` — "raise a work order for Press 4": maintenance people decide
  (``maintenance_data.write``), anyone with ``maintenance_data.read`` on its line sees it;
* ``assistant_hold`` — "hold lot L-7": quality decides (``quality_data.write``).
"""

from __future__ import annotations

from lineguard.server.auth import Action
from lineguard.server.review import PROPOSAL_DECISIONS, SubjectKind

__all__ = ["ASSISTANT_HOLD", "ASSISTANT_WORK_ORDER", "KIND_OF_ACTION"]

ASSISTANT_WORK_ORDER = SubjectKind(
    name="assistant_work_order",
    title="Assistant: raise a work order",
    read=Action.MAINTENANCE_DATA_READ,
    triage=Action.MAINTENANCE_DATA_WRITE,
    decide=Action.MAINTENANCE_DATA_WRITE,
    decisions=PROPOSAL_DECISIONS,
    editable=frozenset({"asset", "note"}),
)

ASSISTANT_HOLD = SubjectKind(
    name="assistant_hold",
    title="Assistant: hold a lot",
    read=Action.QUALITY_DATA_READ,
    triage=Action.QUALITY_DATA_WRITE,
    decide=Action.QUALITY_DATA_WRITE,
    decisions=PROPOSAL_DECISIONS,
    editable=frozenset({"lot", "note"}),
)

#: The plan's action → the review kind its recommendation becomes.
KIND_OF_ACTION = {"work_order": ASSISTANT_WORK_ORDER, "hold_lot": ASSISTANT_HOLD}
