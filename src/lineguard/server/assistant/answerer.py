"""The built-in answerer: a plan over permitted records, composed into cited sentences.

No language model: :func:`~lineguard.server.assistant.intents.parse` turns the question
into a plan, :mod:`.queries` computes it over the records the :class:`EffectiveScope`
allows, and :class:`BuiltinAnswerer` writes short sentences, **each with the records it
rests on**. Wording never depends on records outside the scope: a question the scope
cannot answer gets :data:`REFUSAL` (decided from the scope and the question alone), one
that finds nothing gets :data:`NOTHING` — the same words whether hidden records exist
or not. Nothing of the question is copied into an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lineguard.server.assistant.intents import Plan, Topic, parse
from lineguard.server.assistant.periods import describe_period
from lineguard.server.assistant.queries import (
    Group,
    aggregate,
    by_month,
    grouped,
    lookup,
    match_entities,
    month_label,
    name_of,
    open_rows,
    search,
)
from lineguard.server.assistant.scope import EffectiveScope
from lineguard.server.context import Sealer
from lineguard.server.plantdata import IndexKey, RecordBody, tokens

__all__ = ["ANSWERER", "ANSWERER_VERSION", "NOTHING", "REFUSAL", "BuiltinAnswerer", "Draft", "line_filter_of"]

ANSWERER = "builtin"
ANSWERER_VERSION = "1"
REFUSAL = "I can't answer that from the data this workflow lets you use."
NOTHING = "I found no records about that in the data you may use here."
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass
class Draft:
    """An answer before it is stored: sentences, each with the record ids it cites."""

    sentences: list[tuple[str, list[str]]] = field(default_factory=list)
    refused: bool = False
    #: A proposed action for the review queue: (kind, target name, content).
    recommendation: tuple[str, str, dict[str, Any]] | None = None
    bodies: dict[str, RecordBody] = field(default_factory=dict)


def line_filter_of(question: str) -> frozenset[str] | None:
    """The lines a question is about (``line 2``, ``lines 1 and 2``), if it names any."""
    return parse(question).lines


def _num(value: float) -> str:
    if abs(value - round(value)) < 1e-9:
        return str(round(value))
    return f"{value:.2f}"


def _records(n: int) -> str:
    return f"{n} record" if n == 1 else f"{n} records"


def _measure_label(plan: Plan, topic: Topic) -> str:
    if plan.measure == "amount" and topic.amount is not None:
        return topic.amount
    if plan.measure == "count":
        return topic.noun
    return topic.quantity


def _when(plan: Plan) -> str:
    return describe_period(plan.period)


class BuiltinAnswerer:
    """Rules over permitted records; see the module docstring."""

    name = ANSWERER
    version = ANSWERER_VERSION

    def __init__(self, *, cite_per_figure: int = 5) -> None:
        self.cite = cite_per_figure

    def answer(
        self,
        session: Session,
        scope: EffectiveScope,
        question: str,
        *,
        key: IndexKey,
        sealer: Sealer,
        now: datetime | None = None,
    ) -> Draft:
        """``now``: the moment of asking, for relative dates ("last month")."""
        plan = parse(question, now=now)
        if scope.empty or (plan.topic is not None and not scope.allows(plan.topic.category)):
            return Draft(refused=True)
        matches = match_entities(session, scope, key, plan)
        draft = Draft()
        topic = plan.topic
        if plan.operation == "recommend":
            self._recommend(session, scope, plan, matches, sealer, draft)
        elif plan.operation in ("count", "sum", "average") and topic is not None:
            self._total(session, scope, plan, topic, matches, sealer, draft)
        elif plan.operation in ("top", "compare", "trend") and topic is not None:
            self._groups(session, scope, plan, topic, matches, sealer, draft)
        elif "unknown" in matches:
            return draft  # the question names something no permitted record names
        elif matches:
            ids = lookup(session, scope, plan, topic, matches, limit=5)
            for body in open_rows(session, scope, ids, sealer=sealer):
                draft.bodies[body.record_id] = body
                draft.sentences.append((_describe(body, question), [body.record_id]))
        if not draft.sentences and plan.operation in ("lookup", "search"):
            ids = search(session, scope, key, question, limit=3)
            for body in open_rows(session, scope, ids, sealer=sealer):
                draft.bodies[body.record_id] = body
                draft.sentences.append((_describe(body, question), [body.record_id]))
        return draft

    def _entity_text(
        self,
        session: Session,
        scope: EffectiveScope,
        matches: dict[str, set[str]],
        cited: list[str],
        sealer: Sealer,
        draft: Draft,
    ) -> str:
        if not matches or not cited:
            return ""
        bodies = open_rows(session, scope, cited[:1], sealer=sealer)
        names = []
        for dim in sorted(d for d in matches if d != "unknown"):
            for body in bodies:
                value = name_of(body, dim)  # type: ignore[arg-type]
                if value:
                    names.append(value)
        return f" for {' and '.join(dict.fromkeys(names))}" if names else ""

    def _total(
        self,
        session: Session,
        scope: EffectiveScope,
        plan: Plan,
        topic: Topic,
        matches: dict[str, set[str]],
        sealer: Sealer,
        draft: Draft,
    ) -> None:
        total = aggregate(session, scope, plan, topic, matches, cite=self.cite)
        if total.records == 0:
            return
        where = (
            self._entity_text(session, scope, matches, total.cited, sealer, draft)
            + _lines_text(plan)
            + _when(plan)
        )
        if plan.operation == "count" or plan.measure == "count":
            text = f"There are {total.records} {topic.noun}{where}."
        else:
            kind, basis = ("average", "over") if plan.operation == "average" else ("total", "from")
            figure = f"{_num(total.value)} ({basis} {_records(total.records)})"
            text = f"The {kind} {_measure_label(plan, topic)} of {topic.noun}{where} is {figure}."
        draft.sentences.append((text, total.cited))

    def _groups(
        self,
        session: Session,
        scope: EffectiveScope,
        plan: Plan,
        topic: Topic,
        matches: dict[str, set[str]],
        sealer: Sealer,
        draft: Draft,
    ) -> None:
        label = _measure_label(plan, topic)
        if plan.operation == "trend":
            groups = by_month(session, scope, plan, topic, matches, cite=self.cite)
            for g in groups:
                draft.sentences.append(
                    (f"{month_label(g.key)}: {_num(g.value)} {label} ({_records(g.records)}).", g.cited)
                )
            return
        dim = "line" if plan.operation == "compare" else (plan.group_by or "line")
        groups = grouped(session, scope, plan, topic, matches, dim=dim, cite=self.cite)
        if plan.operation == "compare" and plan.lines is not None:
            groups = [g for g in groups if g.key in plan.lines]
        names = self._names(session, scope, groups, dim, sealer)
        rank = 0
        for g in groups:
            name = g.key if dim == "line" else names.get(g.key)
            if not name:
                continue
            rank += 1
            prefix = f"{rank}. " if plan.operation == "top" and len(groups) > 1 else ""
            draft.sentences.append(
                (f"{prefix}{name}: {_num(g.value)} {label} ({_records(g.records)}).", g.cited)
            )

    def _names(
        self, session: Session, scope: EffectiveScope, groups: list[Group], dim: str, sealer: Sealer
    ) -> dict[str, str]:
        if dim == "line":
            return {}
        samples = [g.sample for g in groups if g.sample]
        bodies = {b.record_id: b for b in open_rows(session, scope, samples, sealer=sealer)}
        out = {}
        for g in groups:
            body = bodies.get(g.sample or "")
            name = name_of(body, dim) if body is not None else None  # type: ignore[arg-type]
            if name:
                out[g.key] = name
        return out

    def _recommend(
        self,
        session: Session,
        scope: EffectiveScope,
        plan: Plan,
        matches: dict[str, set[str]],
        sealer: Sealer,
        draft: Draft,
    ) -> None:
        dim = "lot" if plan.action == "hold_lot" else "asset"
        wanted = {dim: matches[dim]} if dim in matches else {}
        if not wanted:
            return
        ids = lookup(session, scope, plan, plan.topic, wanted, limit=self.cite)
        bodies = open_rows(session, scope, ids, sealer=sealer)
        if not bodies:
            return
        target = name_of(bodies[0], dim) or bodies[0].source_key  # type: ignore[arg-type]
        lines = sorted({line for b in bodies for line in (b.lines or ())})
        content: dict[str, Any]
        if plan.action == "hold_lot":
            text = f"Proposed for review: hold lot {target} ({_records(len(bodies))} about it)."
            content = {"action": "hold_lot", "lot": target}
        else:
            text = f"Proposed for review: raise a work order for {target} ({_records(len(bodies))} about it)."
            content = {"action": "raise_work_order", "asset": target}
        content.update({"lines": lines, "cited": [b.record_id for b in bodies]})
        draft.sentences.append((text, [b.record_id for b in bodies]))
        draft.recommendation = (plan.action or "work_order", target, content)


def _lines_text(plan: Plan) -> str:
    if plan.lines is None:
        return ""
    return " on " + ", ".join(sorted(plan.lines))


def _describe(body: RecordBody, question: str) -> str:
    """One sentence about a record: its key facts, or the best-matching sentence of a document."""
    name = body.title or body.source_key
    if body.kind == "document":
        words = set(tokens(question))
        best, score = "", -1
        for sentence in _SENTENCE.split(body.text):
            s = sentence.strip()
            if not s:
                continue
            hits = len(words & set(tokens(s)))
            if hits > score:
                best, score = s, hits
        return f"{name}: {best[:300]}"
    facts = []
    for field_name, value in list(body.fields.items())[:10]:
        if value is None or value == "":
            continue
        text = str(value)
        if isinstance(value, float):
            text = _num(value)
        facts.append(f"{field_name.replace('_', ' ')} {text[:120]}")
    kind = body.record_type.replace("_", " ")
    when = f" on {body.occurred_at.date().isoformat()}" if body.occurred_at else ""
    where = f" ({', '.join(body.lines)})" if body.lines else ""
    return f"{kind.capitalize()} {body.source_key}{where}{when}: {'; '.join(facts)}."
