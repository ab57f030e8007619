"""What a decision means: the person's outcome beside the AI's proposal, and its audit form.

Verdict kinds (alerts, part verdicts) take ``confirm`` or ``overrule``; proposal kinds
(work orders, assistant drafts) take ``approve``, ``reject`` or ``edit``. Each becomes an
:class:`Outcome`: what ``ai.decision`` records it as (approved / rejected / edited) and
the outcome stored in ``human_outcome``. Every refusal here is an :class:`InputError`
that says what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lineguard.contracts.audit import FieldChange
from lineguard.contracts.errors import InputError
from lineguard.server.review.kinds import ClassList, Decision, OverruleLabel, SubjectKind
from lineguard.vision.classes import UNKNOWN_CLASS

__all__ = ["Outcome", "diff", "proposal_outcome", "require_reason", "verdict_outcome"]


def require_reason(reason: str, what: str) -> None:
    if not reason.strip():
        msg = f"{what} needs a reason: say why in 'reason'"
        raise InputError(msg)


def _json_text(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 500 else text[:497] + "..."


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[FieldChange]:
    return [
        FieldChange(field=k, before=_json_text(before.get(k)), after=_json_text(after.get(k)))
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    ]


@dataclass(frozen=True, slots=True)
class Outcome:
    audited_as: Literal["approved", "rejected", "edited"]
    outcome: dict[str, Any]


def verdict_outcome(
    kind: SubjectKind,
    proposal: Mapping[str, Any],
    decision: Decision,
    label: OverruleLabel | None,
    defect_class: str | None,
    classes: ClassList | None = None,
) -> Outcome:
    """``classes``: what the model behind the verdict knows (``None``: a kind that does not
    check classes). A class it does not know is refused; see :class:`ClassList` for the
    package without classes and the unknown model."""
    if proposal.get("judged") is False:
        msg = f"this {kind.name} carries no verdict to confirm or overrule: resolve it instead"
        raise InputError(msg)
    ai = {"verdict": proposal.get("verdict"), "defect_class": proposal.get("defect_class")}
    if decision is Decision.CONFIRM:
        if label is not None or defect_class is not None:
            msg = "a confirmation takes no label or defect_class: overrule to change the verdict"
            raise InputError(msg)
        return Outcome("approved", ai | {"label": "confirmed"})
    if label is None:
        msg = "an overrule needs a label: false_call, confirmed_defect or other_class"
        raise InputError(msg)
    if label == "false_call":
        if defect_class is not None:
            msg = "a false call has no defect_class"
            raise InputError(msg)
        return Outcome("rejected", {"verdict": "pass", "defect_class": None, "label": label})
    chosen = defect_class or (ai["defect_class"] if label == "confirmed_defect" else None)
    if label == "other_class" and (chosen is None or chosen == ai["defect_class"]):
        msg = f"other_class needs a defect_class different from the AI's ({ai['defect_class']!r})"
        raise InputError(msg)
    if label == "confirmed_defect" and ai["verdict"] == "fail" and chosen == ai["defect_class"]:
        msg = "the AI already called this a defect of that class: confirm it instead"
        raise InputError(msg)
    if defect_class is not None and classes is not None and classes.names:
        allowed = dict.fromkeys([*classes.names, UNKNOWN_CLASS])  # a region unlike every type
        if defect_class not in allowed:
            msg = (
                f"defect class {defect_class!r} is not one of the model's classes: {', '.join(allowed)} "
                f"(from {classes.source})"
            )
            raise InputError(msg)
    return Outcome("edited", {"verdict": "fail", "defect_class": chosen, "label": label})


def proposal_outcome(
    kind: SubjectKind, proposal: Mapping[str, Any], decision: Decision, changes: Mapping[str, Any] | None
) -> Outcome:
    if decision is Decision.APPROVE:
        return Outcome("approved", dict(proposal))
    if decision is Decision.REJECT:
        return Outcome("rejected", {})
    if not changes:
        msg = "an edit needs 'changes': the proposal fields with their new values"
        raise InputError(msg)
    allowed = kind.editable or frozenset(proposal)
    unknown = sorted(set(changes) - allowed)
    if unknown:
        msg = f"cannot edit {', '.join(unknown)}: editable fields are {', '.join(sorted(allowed))}"
        raise InputError(msg)
    edited = dict(proposal) | dict(changes)
    if edited == dict(proposal):
        msg = "the changes leave the proposal as it was: approve it instead"
        raise InputError(msg)
    return Outcome("edited", edited)
