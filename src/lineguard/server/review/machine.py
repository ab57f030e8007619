"""The review state machine, as data: which step may start from which state.

::

                 acknowledge              assign               decide / resolve
      new ─────────────────► acknowledged ──────► assigned ─────────────────────► resolved
       │  \\___________________ assign ___________↗    │                              ▲
       │                                               │                              │
       └─ escalate (a person, or the system when ──► escalated ── acknowledge / assign / decide / resolve
          unacknowledged past the configured time)

* ``decide`` (confirm, overrule, approve, reject, edit) records the person's verdict
  beside the AI's and resolves the item; ``resolve`` closes it without a verdict (a
  camera-offline alert has nothing to confirm).
* ``escalate`` from any open state hands the item to a named role.
* ``resolved`` is final: every step on a resolved item is a conflict (409), never an
  overwrite of the decision someone else made.

A step on an item in a state it cannot start from raises :class:`ConflictError` naming
the state, who put it there and when.
"""

from __future__ import annotations

from enum import StrEnum

from lineguard.contracts.errors import ConflictError

__all__ = ["OPEN_STATES", "TRANSITIONS", "State", "Step", "next_state"]


class State(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class Step(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    ESCALATE = "escalate"
    DECIDE = "decide"
    RESOLVE = "resolve"


OPEN_STATES = frozenset({State.NEW, State.ACKNOWLEDGED, State.ASSIGNED, State.ESCALATED})

#: step → (states it may start from, the state it leads to).
TRANSITIONS: dict[Step, tuple[frozenset[State], State]] = {
    Step.ACKNOWLEDGE: (frozenset({State.NEW, State.ESCALATED}), State.ACKNOWLEDGED),
    Step.ASSIGN: (OPEN_STATES, State.ASSIGNED),
    Step.ESCALATE: (frozenset({State.NEW, State.ACKNOWLEDGED, State.ASSIGNED}), State.ESCALATED),
    Step.DECIDE: (OPEN_STATES, State.RESOLVED),
    Step.RESOLVE: (OPEN_STATES, State.RESOLVED),
}


def next_state(step: Step, current: State, *, review_id: str, by: str | None = None) -> State:
    """The state ``step`` leads to from ``current``; :class:`ConflictError` if it cannot start there."""
    sources, target = TRANSITIONS[step]
    if current not in sources:
        who = f" by {by}" if by else ""
        msg = (
            f"review {review_id} is {current.value}{who}: cannot {step.value} it "
            f"(expected one of {', '.join(sorted(s.value for s in sources))})"
        )
        raise ConflictError(msg)
    return target
