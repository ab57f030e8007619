"""Asking the plant assistant: check, scope, answer, cite, record — in that order.

:func:`ask` is the one entry point (the API route and ``lineguard ask`` call it):

1. the question is checked (not blank, not longer than ``assistant.max_question_chars``)
   and the workflow must exist and be granted to the person — else a typed error,
   nothing searched;
2. the effective scope (person × workflow × line filter, :mod:`.scope`) is computed
   **before** any record is touched;
3. the answerer drafts cited sentences from records inside that scope only; when a
   language model is configured (``assistant.language_model``), it rephrases those
   sentences and cited records — nothing else — and its text replaces the built-in one
   only if it passes the grounding check (:mod:`.rephrase`);
4. the answer, its citations (each re-checked against the scope) and its scope
   statement are returned; the question and answer are stored sealed in
   ``assistant_questions``, audited as ``ai.question``, and a proposed action becomes a
   review item (``ai.recommendation``) — all in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.contracts.audit import AiQuestionAnswered
from lineguard.contracts.errors import InputError, PermissionDeniedError
from lineguard.contracts.ids import new_id
from lineguard.server.assistant.answerer import NOTHING, REFUSAL, BuiltinAnswerer, Draft, line_filter_of
from lineguard.server.assistant.kinds import KIND_OF_ACTION
from lineguard.server.assistant.models import AssistantQuestionRow
from lineguard.server.assistant.rephrase import Facts, Rephrased, Rephraser, compose, permitted_facts
from lineguard.server.assistant.schemas import AnswerOut, Citation, SentenceOut
from lineguard.server.assistant.scope import EffectiveScope, effective_scope, workflow_named
from lineguard.server.auth import PolicyEngine, Principal, Subject, active_grants, user_by_name
from lineguard.server.context import AuditHook, Sealer
from lineguard.server.keystore import staged_sealer
from lineguard.server.plantdata import PlantRecordRow, index_key, lines_of
from lineguard.server.review import Proposal, propose_many
from lineguard.server.storage import insert_rows

__all__ = ["SEALED_CATEGORY", "ask", "check_question", "person_named"]

#: Envelope category of stored questions and answers (object id: the question id).
SEALED_CATEGORY = "assistant_questions"


def check_question(question: str, *, max_chars: int) -> str:
    """The question, or :class:`InputError` saying why not (its text is never echoed)."""
    text = question.strip()
    if not text:
        msg = "the question is empty"
        raise InputError(msg)
    if len(text) > max_chars:
        msg = f"the question is {len(text)} characters long; at most {max_chars} are answered"
        raise InputError(msg)
    return text


def person_named(session: Session, username: str, *, now: datetime) -> Principal:
    """The person ``username`` as the assistant sees them at the server's command line.

    Unknown and disabled accounts are refused (fail closed, one wording for both). The
    person counts as having passed a second factor only if they have one enrolled, so
    data the policy keeps behind MFA stays out of reach of an account without it.
    """
    user = user_by_name(session, username)
    if user is None or user.disabled:
        msg = "no enabled account by that name"
        raise PermissionDeniedError(msg)
    grants = active_grants(session, user_id=user.id, now=now)
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        subject=Subject(user.id, grants, mfa=user.totp_sealed is not None),
    )


def _line_filter(question: str, lines: Sequence[str] | None) -> frozenset[str] | None:
    asked = line_filter_of(question)
    given = frozenset(line.strip() for line in lines if line.strip()) if lines is not None else None
    if given is None:
        return asked
    return given if asked is None else given & asked


def _citations(
    session: Session, scope: EffectiveScope, draft: Draft
) -> tuple[list[SentenceOut], list[Citation]]:
    order: dict[str, int] = {}
    for _, ids in draft.sentences:
        for rid in ids:
            order.setdefault(rid, len(order) + 1)
    rows = (
        {
            r.record_id: r
            for r in session.scalars(
                select(PlantRecordRow).where(scope.condition(), PlantRecordRow.record_id.in_(list(order)))
            )
        }
        if order
        else {}
    )
    lines = lines_of(session, list(rows))
    citations = []
    for rid, n in order.items():
        row = rows.get(rid)
        if row is None:  # cannot happen: every id came from a query under the same scope
            msg = "an answer cited a record outside its scope; nothing was answered"
            raise InputError(msg)
        body = draft.bodies.get(rid)
        citations.append(
            Citation(
                n=n,
                record_id=rid,
                category=row.category,
                record_type=row.record_type,
                source_key=row.source_key,
                title=(body.title if body is not None and body.title else row.source_key),
                lines=None if row.site_wide else sorted(lines.get(rid, ())),
            )
        )
    sentences = [SentenceOut(text=text, cites=[order[r] for r in ids]) for text, ids in draft.sentences]
    return sentences, citations


def ask(
    sessions: sessionmaker[Session],
    *,
    settings: ServerConfig,
    engine: PolicyEngine,
    principal: Principal,
    question: str,
    workflow: str,
    sealer: Sealer,
    audit: AuditHook,
    lines: Sequence[str] | None = None,
    now: datetime | None = None,
    answerer: BuiltinAnswerer | None = None,
    actor: str | None = None,
    rephraser: Rephraser | None = None,
) -> AnswerOut:
    """Answer ``question`` for ``principal`` in ``workflow``; see the module docstring.

    ``actor``: how the audit log names who asked (default: the principal, ``user:<name>``).
    ``rephraser``: the configured language model (``assistant.language_model``), if any.
    """
    moment = now or datetime.now(UTC)
    who = actor or principal.actor
    config = settings.assistant
    text = check_question(question, max_chars=config.max_question_chars)
    flow = workflow_named(config, workflow)
    scope = effective_scope(
        engine, principal, flow, site=settings.site_id, now=moment, line_filter=_line_filter(text, lines)
    )
    bot = answerer or BuiltinAnswerer(cite_per_figure=config.max_citations_per_figure)
    key = index_key(sessions, site_id=settings.site_id, sealer=sealer)
    with sessions() as session:
        draft = bot.answer(session, scope, text, key=key, sealer=sealer, now=moment)
        sentences, citations = _citations(session, scope, draft)
        facts: Facts | None = None
        if rephraser is not None and sentences and not draft.refused and draft.recommendation is None:
            facts = permitted_facts(
                session, scope, draft.sentences, sealer=sealer, max_records=rephraser.max_fact_records
            )
    if draft.refused:
        answer_text, sentences, citations = REFUSAL, [], []
    elif not sentences:
        answer_text = NOTHING
    else:
        answer_text = " ".join(f"{s.text} " + "".join(f"[{n}]" for n in s.cites) for s in sentences)
    rephrased: Rephrased | None = None
    if rephraser is not None and facts is not None:  # outside the session: a model may take seconds
        rephrased = rephraser.rephrase(facts)
        if rephrased.fallback is None:
            answer_text, sentences = compose(rephrased, citations)
    used = rephrased if rephrased is not None and rephrased.fallback is None else None
    answerer_name = "language_model" if used is not None else bot.name
    question_id = new_id("ask")
    recommendation_id = None
    staged, key_rows = staged_sealer(sealer)
    sealed = staged.seal(
        json.dumps({"question": text, "answer": answer_text}).encode(),
        object_id=question_id,
        category=SEALED_CATEGORY,
    )
    answer_sha = hashlib.sha256(answer_text.encode()).hexdigest()
    cited = [c.record_id for c in citations]
    statement = scope.describe()
    with sessions.begin() as session:
        insert_rows(
            session,
            cast(Table, AssistantQuestionRow.__table__),
            [
                {
                    "question_id": question_id,
                    "site_id": settings.site_id,
                    "asked_by": who,
                    "workflow": flow.name,
                    "asked_at": moment,
                    "scope": statement[:500],
                    "text_sealed": sealed,
                    "answer_sha256": answer_sha,
                    "refused": draft.refused,
                    "cited": cited,
                    "answerer": answerer_name,
                    "answerer_version": bot.version,
                }
            ],
        )
        keys = key_rows({(SEALED_CATEGORY, question_id)})
        if keys is not None:
            insert_rows(session, keys.table, keys.rows)
        audit(
            session,
            AiQuestionAnswered(
                question_id=question_id,
                workflow=flow.name,
                scope=statement[:500],
                cited=tuple(cited[:200]),
                answerer=answerer_name,
                answerer_version=bot.version,
                answer_sha256=answer_sha,
                refused=draft.refused,
                model=rephrased.model if rephrased is not None else None,
                model_version=rephrased.model_version if rephrased is not None else None,
                fallback=rephrased.fallback if rephrased is not None else None,
            ),
            actor=who,
        )
        if draft.recommendation is not None and not draft.refused:
            action, target, content = draft.recommendation
            lines_of_target = content.get("lines") or []
            proposal = Proposal(
                subject_id=question_id,
                site_id=settings.site_id,
                line_id=lines_of_target[0] if len(lines_of_target) == 1 else None,
                raised_at=moment,
                content={**content, "question_id": question_id, "asked_by": who, "title": target[:200]},
            )
            made = propose_many(
                session,
                kind=KIND_OF_ACTION[action],
                proposals=[proposal],
                actor=who,
                audit=audit,
                now=moment,
            )
            recommendation_id = made[0] if made else None
    return AnswerOut(
        answer=answer_text,
        citations=citations,
        scope=statement,
        refused=draft.refused,
        sentences=sentences,
        workflow=flow.name,
        question_id=question_id,
        answerer=answerer_name,
        recommendation_id=recommendation_id,
        model=f"{used.model} ({used.model_version})" if used is not None else None,
        fallback=rephrased.fallback if rephrased is not None else None,
    )
