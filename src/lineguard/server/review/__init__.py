"""Review: the plant's record of human decisions on AI output.

One state machine (:mod:`.machine`) for every AI output a person acts on — defect
alerts, per-part verdicts, work-order recommendations, assistant drafts — each a
:class:`SubjectKind` (:mod:`.kinds`) that names its permissions and the decisions it
takes. The owning domain *proposes* a subject (:func:`propose_many`, audited
``ai.recommendation``); people acknowledge, assign, escalate, decide (confirm /
overrule, approve / reject / edit) and resolve it through :func:`review_router`'s
routes, every step versioned (409 on a concurrent change, never an overwrite), kept in
``review_steps`` and audited (``ai.decision``, ``review.state_changed``). The AI's
proposal is kept as made, the person's outcome beside it. Items nobody acknowledges in
time are escalated to a named role (:mod:`.scheduled`). See docs/review.md.
"""

from lineguard.server.review.kinds import (
    ALERT,
    PART_VERDICT,
    PROPOSAL_DECISIONS,
    THERMAL_MAINTENANCE,
    VERDICT_DECISIONS,
    Decision,
    OverruleLabel,
    SubjectKind,
)
from lineguard.server.review.machine import OPEN_STATES, State, Step
from lineguard.server.review.models import ReviewItemRow, ReviewStepRow
from lineguard.server.review.scheduled import Escalator, run_escalation
from lineguard.server.review.schemas import ReviewDetail, ReviewItemView, ReviewStepView
from lineguard.server.review.service import Proposal, get_item, list_items, propose_many, steps_of
from lineguard.server.review.views import review_router
from lineguard.server.review.workflow import (
    SYSTEM_ACTOR,
    acknowledge,
    assign,
    decide,
    escalate,
    escalate_overdue,
    resolve,
)

__all__ = [
    "ALERT",
    "OPEN_STATES",
    "PART_VERDICT",
    "PROPOSAL_DECISIONS",
    "SYSTEM_ACTOR",
    "THERMAL_MAINTENANCE",
    "VERDICT_DECISIONS",
    "Decision",
    "Escalator",
    "OverruleLabel",
    "Proposal",
    "ReviewDetail",
    "ReviewItemRow",
    "ReviewItemView",
    "ReviewStepRow",
    "ReviewStepView",
    "State",
    "Step",
    "SubjectKind",
    "acknowledge",
    "assign",
    "decide",
    "escalate",
    "escalate_overdue",
    "get_item",
    "list_items",
    "propose_many",
    "resolve",
    "review_router",
    "run_escalation",
    "steps_of",
]
