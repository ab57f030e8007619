"""Assistant routes (thin): ask a question, list one's workflows, and the review routes of
assistant recommendations (``/reviews/assistant_work_order``, ``/reviews/assistant_hold``).

``POST /assistant/ask`` is open to every signed-in person because what it may return is
decided per question, before retrieval, by the workflow and the person's grants
(:mod:`.scope`); a workflow not granted to the person is refused (403), and every
question is audited (``ai.question``) whatever the outcome.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from lineguard.server.assistant.kinds import ASSISTANT_HOLD, ASSISTANT_WORK_ORDER
from lineguard.server.assistant.schemas import AnswerOut, AskRequest, WorkflowOut
from lineguard.server.assistant.scope import workflows_for
from lineguard.server.assistant.service import ask
from lineguard.server.auth import Principal, allow_authenticated
from lineguard.server.context import get_context
from lineguard.server.review import review_router

__all__ = ["router"]

api = APIRouter(prefix="/assistant", tags=["assistant"])
Person = Annotated[Principal, Depends(allow_authenticated())]


@api.post("/ask", summary="Ask the plant assistant; the answer cites every record it rests on")
def post_ask(person: Person, body: AskRequest, request: Request) -> AnswerOut:
    context = get_context(request)
    return ask(
        context.sessions,
        settings=context.settings,
        engine=context.auth.engine,
        principal=person,
        question=body.question,
        workflow=body.workflow,
        lines=body.lines,
        sealer=context.sealer,
        audit=context.audit,
        now=context.auth.now(),
        rephraser=context.assistant.rephraser,
    )


@api.get("/workflows", summary="The assistant workflows this person may use")
def get_workflows(person: Person, request: Request) -> list[WorkflowOut]:
    context = get_context(request)
    return [
        WorkflowOut(name=w.name, title=w.title, categories=list(w.categories))
        for w in workflows_for(context.settings.assistant, person, context.auth.now())
    ]


router = APIRouter()
router.include_router(api)
router.include_router(review_router(ASSISTANT_WORK_ORDER))
router.include_router(review_router(ASSISTANT_HOLD))
