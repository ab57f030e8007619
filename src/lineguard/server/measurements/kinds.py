"""Process drift as a subject of the one review state machine (``lineguard.server.review``).

A drift signal is a recommendation, not a verdict: nothing failed yet. A quality engineer
or a supervisor approves it (someone acts: a tool change, a fixture check), rejects it (a
known, harmless shift) or edits the proposed action; a maintenance technician may
acknowledge and escalate it.
"""

from __future__ import annotations

from lineguard.server.auth import Action
from lineguard.server.review import PROPOSAL_DECISIONS, SubjectKind

__all__ = ["SPC_DRIFT"]

SPC_DRIFT = SubjectKind(
    name="spc_drift",
    title="Process drift (SPC)",
    read=Action.INSPECTION_RESULTS_READ,
    triage=Action.INSPECTION_RESULTS_ACKNOWLEDGE,
    decide=Action.INSPECTION_RESULTS_WRITE,
    decisions=PROPOSAL_DECISIONS,
    editable=frozenset({"action"}),
)
