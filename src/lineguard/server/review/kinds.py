"""Subject kinds: what can be reviewed, who may do what to it, and which decisions it takes.

The review workflow is one state machine for every AI output a person acts on. A
:class:`SubjectKind` binds it to one kind of subject:

* the permission each route of that kind declares: ``read`` (list, show), ``triage``
  (acknowledge, escalate) and ``decide`` (assign, decide, resolve). A maintenance
  technician holds ``inspection_results.acknowledge`` but not ``inspection_results.write``,
  so on alerts they may acknowledge and escalate but never overrule a verdict;
* the decisions it accepts: verdicts (alerts, per-part verdicts) are *confirmed* or
  *overruled* with a label; proposals (work orders, assistant drafts) are *approved*,
  *rejected* or *edited*;
* for verdict kinds, an optional check of a class name against the classes the model
  package knows (``class_check``), so an overrule to a class that does not exist is refused.

Another domain plugs in by defining its kind (a module constant) and mounting
``review_router(kind)`` in its own ``views.py`` (see docs/review.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from lineguard.server.auth import Action

__all__ = [
    "ALERT",
    "PART_VERDICT",
    "PROPOSAL_DECISIONS",
    "THERMAL_MAINTENANCE",
    "VERDICT_DECISIONS",
    "Decision",
    "OverruleLabel",
    "SubjectKind",
]


class Decision(StrEnum):
    """What a person decides about an AI output (the ``ai.decision`` it is audited as)."""

    CONFIRM = "confirm"  # the AI verdict is right: approved
    OVERRULE = "overrule"  # the AI verdict is wrong: rejected (false call) or edited
    APPROVE = "approve"  # the proposal goes ahead as made: approved
    REJECT = "reject"  # the proposal is dropped: rejected
    EDIT = "edit"  # the proposal goes ahead changed (diff kept): edited


#: How an overrule corrects a verdict.
OverruleLabel = Literal["false_call", "confirmed_defect", "other_class"]

VERDICT_DECISIONS = frozenset({Decision.CONFIRM, Decision.OVERRULE})
PROPOSAL_DECISIONS = frozenset({Decision.APPROVE, Decision.REJECT, Decision.EDIT})

#: ``class_check(proposal, defect_class)`` returns a problem message, or ``None`` if the class is known.
ClassCheck = Callable[[Mapping[str, Any], str], str | None]


@dataclass(frozen=True, slots=True)
class SubjectKind:
    """One kind of reviewed subject; ``name`` appears in URLs (``/reviews/<name>/…``) and audit."""

    name: str
    title: str
    read: Action
    triage: Action
    decide: Action
    decisions: frozenset[Decision]
    #: Proposal fields an ``edit`` may change (empty: every field of the proposal).
    editable: frozenset[str] = field(default_factory=frozenset)
    class_check: ClassCheck | None = None

    def __post_init__(self) -> None:
        if not self.decisions:
            msg = f"subject kind {self.name!r} accepts no decision"
            raise ValueError(msg)
        if not self.name.replace("_", "").isalnum() or not self.name.islower():
            msg = f"subject kind {self.name!r}: use lower-case letters, digits and '_'"
            raise ValueError(msg)

    @property
    def judges_verdicts(self) -> bool:
        return Decision.OVERRULE in self.decisions


def _classes_of_proposal(proposal: Mapping[str, Any], defect_class: str) -> str | None:
    """A class is known when the proposal lists the model's classes and names it there.

    Proposals without a ``classes`` list (models before named defect classes) accept any
    well-formed name; the contract pattern is checked by the request schema.
    """
    classes = proposal.get("classes")
    if isinstance(classes, list) and classes and defect_class not in classes:
        return (
            f"defect class {defect_class!r} is not one of the model's classes: {', '.join(map(str, classes))}"
        )
    return None


ALERT = SubjectKind(
    name="alert",
    title="Alert",
    read=Action.INSPECTION_RESULTS_READ,
    triage=Action.INSPECTION_RESULTS_ACKNOWLEDGE,
    decide=Action.INSPECTION_RESULTS_WRITE,
    decisions=VERDICT_DECISIONS,
    class_check=_classes_of_proposal,
)

PART_VERDICT = SubjectKind(
    name="part_verdict",
    title="Part verdict",
    read=Action.INSPECTION_RESULTS_READ,
    triage=Action.INSPECTION_RESULTS_ACKNOWLEDGE,
    decide=Action.INSPECTION_RESULTS_WRITE,
    decisions=VERDICT_DECISIONS,
    class_check=_classes_of_proposal,
)

#: A thermal camera's trend crossed its limit: a maintenance technician approves (an
#: inspection is scheduled), edits the priority or note, or rejects it with a reason.
THERMAL_MAINTENANCE = SubjectKind(
    name="thermal_maintenance",
    title="Thermal maintenance recommendation",
    read=Action.MAINTENANCE_DATA_READ,
    triage=Action.MAINTENANCE_DATA_WRITE,
    decide=Action.MAINTENANCE_DATA_WRITE,
    decisions=PROPOSAL_DECISIONS,
    editable=frozenset({"priority", "note"}),
)
