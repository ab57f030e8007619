"""The plant assistant: answers from plant data that follow each person's permissions.

A question is asked in a **workflow** (``server.yaml`` ``assistant.workflows``: its own
data boundary). Before anything is retrieved, :func:`effective_scope` intersects the
person's grants (Cedar, per category × line), the workflow's categories and the line
filter of the question; every query then carries that one compiled condition
(:mod:`.scope`, :func:`lineguard.server.plantdata.readable_condition`). The built-in
answerer (:class:`BuiltinAnswerer`, no language model) turns the question into a plan
(:mod:`.intents`), computes it over the permitted records (:mod:`.queries`) and writes
short sentences, each citing the records it rests on; an optional local language model
may rephrase those permitted facts behind a grounding check (:mod:`.rephrase`,
:class:`AssistantState`). Every question is stored sealed
and audited (``ai.question``); a proposed action becomes a review item
(:data:`ASSISTANT_WORK_ORDER`, :data:`ASSISTANT_HOLD`). See docs/assistant.md.
"""

from lineguard.server.assistant.answerer import (
    ANSWERER,
    ANSWERER_VERSION,
    NOTHING,
    REFUSAL,
    BuiltinAnswerer,
    Draft,
)
from lineguard.server.assistant.intents import TOPICS, Plan, Topic, parse
from lineguard.server.assistant.kinds import ASSISTANT_HOLD, ASSISTANT_WORK_ORDER, KIND_OF_ACTION
from lineguard.server.assistant.models import AssistantQuestionRow
from lineguard.server.assistant.schemas import AnswerOut, AskRequest, Citation, SentenceOut, WorkflowOut
from lineguard.server.assistant.scope import EffectiveScope, effective_scope, workflow_named, workflows_for
from lineguard.server.assistant.service import SEALED_CATEGORY, ask, check_question, person_named
from lineguard.server.assistant.state import AssistantState

__all__ = [
    "ANSWERER",
    "ANSWERER_VERSION",
    "ASSISTANT_HOLD",
    "ASSISTANT_WORK_ORDER",
    "KIND_OF_ACTION",
    "NOTHING",
    "REFUSAL",
    "SEALED_CATEGORY",
    "TOPICS",
    "AnswerOut",
    "AskRequest",
    "AssistantQuestionRow",
    "AssistantState",
    "BuiltinAnswerer",
    "Citation",
    "Draft",
    "EffectiveScope",
    "Plan",
    "SentenceOut",
    "Topic",
    "WorkflowOut",
    "ask",
    "check_question",
    "effective_scope",
    "parse",
    "person_named",
    "workflow_named",
    "workflows_for",
]
