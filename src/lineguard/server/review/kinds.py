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
* for verdict kinds, where the classes of the model that made the verdict come from
  (``known_classes``: the registry, by the model the proposal names), so an overrule to
  a class the package does not know is refused (see :class:`ClassList`).

Another domain plugs in by defining its kind (a module constant) and mounting
``review_router(kind)`` in its own ``views.py`` (see docs/review.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy.orm import Session

from lineguard.server.auth import Action
from lineguard.server.registry import model_classes

__all__ = [
    "ALERT",
    "PART_VERDICT",
    "PROPOSAL_DECISIONS",
    "THERMAL_MAINTENANCE",
    "VERDICT_DECISIONS",
    "ClassList",
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


@dataclass(frozen=True, slots=True)
class ClassList:
    """The defect classes of the model that made a verdict, as far as the server knows them.

    * ``names`` non-empty: the package names classes; an overrule must use one of them
      (or ``unknown_anomaly``), anything else is refused with the list;
    * ``names == ()``: the package names none (every region is "anomaly"); a person's
      class is a **new label**, accepted: labelling is how a plant gets its first classes
      (exported, it becomes ``train/<class>`` for the next model);
    * ``names is None``: unknown (the model was never registered on this server, was
      registered before the registry kept classes, or the proposal predates the model
      reference): a well-formed name is accepted **unchecked**, and the step says so.
    """

    names: tuple[str, ...] | None
    source: str

    @property
    def check(self) -> Literal["checked", "new_label", "unchecked"]:
        if self.names is None:
            return "unchecked"
        return "checked" if self.names else "new_label"


#: ``known_classes(session, proposal)``: the classes of the model behind a verdict proposal.
KnownClasses = Callable[[Session, Mapping[str, Any]], ClassList]


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
    known_classes: KnownClasses | None = None

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


def _classes_of_model(session: Session, proposal: Mapping[str, Any]) -> ClassList:
    """The proposal's own ``classes`` list when it carries one, else the registry's classes
    of the model it names (``model``: ``model_id`` + ``sha256``, set by ingest)."""
    listed = proposal.get("classes")
    if isinstance(listed, list) and listed:
        return ClassList(tuple(map(str, listed)), "the proposal")
    model = proposal.get("model")
    if not isinstance(model, Mapping):
        return ClassList(None, "no model named by the proposal")
    model_id, sha256 = model.get("model_id"), model.get("sha256")
    if not isinstance(model_id, str) or not isinstance(sha256, str):
        return ClassList(None, "no model named by the proposal")
    names = model_classes(session, model_id=model_id, sha256=sha256)
    where = f"model {model_id} ({sha256[:12]})"
    if names is None:
        return ClassList(None, f"{where} is not registered here with its classes")
    return ClassList(tuple(names), f"the registered package of {where}")


ALERT = SubjectKind(
    name="alert",
    title="Alert",
    read=Action.INSPECTION_RESULTS_READ,
    triage=Action.INSPECTION_RESULTS_ACKNOWLEDGE,
    decide=Action.INSPECTION_RESULTS_WRITE,
    decisions=VERDICT_DECISIONS,
    known_classes=_classes_of_model,
)

PART_VERDICT = SubjectKind(
    name="part_verdict",
    title="Part verdict",
    read=Action.INSPECTION_RESULTS_READ,
    triage=Action.INSPECTION_RESULTS_ACKNOWLEDGE,
    decide=Action.INSPECTION_RESULTS_WRITE,
    decisions=VERDICT_DECISIONS,
    known_classes=_classes_of_model,
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
