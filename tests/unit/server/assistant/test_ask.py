"""Asking on SQLite and PostgreSQL with a real keyring: cited answers, sealed question log,
audit, recommendations into the review queue, retention, and bad input refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import RetentionConfig, ServerConfig
from lineguard.contracts.errors import CryptoError, InputError, PermissionDeniedError
from lineguard.crypto import Envelope, KdfParams, Keyring
from lineguard.server.assistant import (
    ASSISTANT_HOLD,
    ASSISTANT_WORK_ORDER,
    NOTHING,
    REFUSAL,
    SEALED_CATEGORY,
    AnswerOut,
    AssistantQuestionRow,
    ask,
)
from lineguard.server.auth import PolicyEngine
from lineguard.server.keystore import SqlDataKeyStore
from lineguard.server.plantdata import import_records
from lineguard.server.retention import run_sweep
from lineguard.server.review import Decision, ReviewItemRow, decide
from lineguard.server.storage import session_factory, upgrade_to_head
from tests.support.leak_run import NOW
from tests.support.plant import PROFILES, SITE, principal, seed_plant
from tests.unit.server.conftest import AuditTrail

PEOPLE = {p.name: p for p in PROFILES}
Plant = tuple[sessionmaker[Session], Envelope, ServerConfig]


@pytest.fixture
def plant(engine: Engine, tmp_path: Path) -> Plant:
    upgrade_to_head(engine)
    sessions = session_factory(engine)
    keyring = Keyring.create(tmp_path / "k.json", SecretStr("ask tests"), kdf=KdfParams.insecure_for_tests())
    envelope = Envelope(keyring, SqlDataKeyStore(sessions))
    import_records(sessions, site_id=SITE, records=seed_plant().records, sealer=envelope, actor="cli:t",
                   audit=AuditTrail())  # fmt: skip
    return sessions, envelope, ServerConfig(kind="server", site_id=SITE, data_dir=tmp_path / "d")


def run(plant: Plant, who: str, workflow: str, question: str, audit: AuditTrail | None = None) -> AnswerOut:
    sessions, envelope, settings = plant
    person = principal(PEOPLE[who], now=NOW)
    return ask(sessions, settings=settings, engine=PolicyEngine.load(), principal=person, question=question,
               workflow=workflow, sealer=envelope, audit=audit or AuditTrail(), now=NOW)  # fmt: skip


def test_an_answer_cites_its_records_and_the_question_is_sealed_and_audited(plant: Plant) -> None:
    audit = AuditTrail()
    answer = run(
        plant, "ps-line2", "production_assistant", "How many production orders are there on line 2?", audit
    )
    assert answer.answer.startswith("There are 20 production orders on line-2.") and not answer.refused
    assert answer.scope == (
        "Scope: production data (line-2), quality data (line-2) and maintenance data (line-2), "
        "Production assistant workflow."
    )
    assert [c.n for c in answer.citations] == [1, 2, 3, 4, 5] and answer.sentences[0].cites == [1, 2, 3, 4, 5]
    assert all(c.lines == ["line-2"] and c.record_type == "production_order" for c in answer.citations)
    name, fields = audit.events[-1]
    assert name == "ai.question"
    assert fields["question_id"] == answer.question_id and fields["workflow"] == "production_assistant"
    assert list(fields["cited"]) == [c.record_id for c in answer.citations]
    assert (fields["answerer"], fields["answerer_version"], fields["refused"]) == ("builtin", "1", False)
    assert fields["answer_sha256"] == hashlib.sha256(answer.answer.encode()).hexdigest()
    assert "production orders" not in json.dumps(fields)  # neither question nor answer in the log
    sessions, envelope, _ = plant
    with sessions() as session:
        row = session.get(AssistantQuestionRow, answer.question_id)
        assert row is not None and row.asked_by == "user:ps-line2"
        blob = bytes(row.text_sealed)
    assert b"production orders" not in blob
    opened = json.loads(envelope.open(blob, object_id=answer.question_id, category=SEALED_CATEGORY))
    assert opened == {"question": "How many production orders are there on line 2?", "answer": answer.answer}


def test_refusal_and_nothing_found_are_fixed_words(plant: Plant) -> None:
    refused = run(plant, "ps-site", "production_assistant", "What is the total stock value?")
    assert (refused.answer, refused.refused, refused.citations) == (REFUSAL, True, [])
    nothing = run(plant, "ps-site", "production_assistant", "Total downtime minutes for Gizmo 12")
    assert (nothing.answer, nothing.refused) == (NOTHING, False)
    hidden = run(plant, "ps-line2", "production_assistant", "Total downtime minutes for Press 4")  # on line 1
    assert (hidden.answer, hidden.refused) == (NOTHING, False)


def test_bad_input_is_refused_before_anything_is_searched_or_recorded(plant: Plant) -> None:
    audit = AuditTrail()
    with pytest.raises(InputError, match="the question is 102400 characters long; at most 2000 are answered"):
        run(plant, "fc-site", "finance_review", "x" * 102_400, audit)
    with pytest.raises(InputError, match="the question is empty"):
        run(plant, "fc-site", "finance_review", "   ", audit)
    with pytest.raises(PermissionDeniedError, match="no assistant workflow named 'payroll'"):
        run(plant, "fc-site", "payroll", "total stock value", audit)
    with pytest.raises(PermissionDeniedError, match="finance_review workflow is not granted to you"):
        run(plant, "ps-site", "finance_review", "total stock value", audit)
    with pytest.raises(PermissionDeniedError, match="not granted"):
        run(plant, "it-site", "production_assistant", "units produced", audit)
    assert audit.events == []
    sessions, _, _ = plant
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AssistantQuestionRow)) == 0


def test_a_proposed_action_becomes_a_review_item_and_its_decision_is_audited(plant: Plant) -> None:
    audit = AuditTrail()
    answer = run(plant, "mt-site", "maintenance_planner", "Raise a work order for Press 4", audit)
    assert answer.answer.startswith("Proposed for review: raise a work order for Press 4")
    assert answer.recommendation_id is not None
    assert [n for n, _ in audit.events] == ["ai.question", "ai.recommendation"]
    assert audit.events[1][1]["kind"] == "assistant_work_order"
    sessions, _, _ = plant
    with sessions() as session:
        item = session.get(ReviewItemRow, answer.recommendation_id)
        assert item is not None and item.line_id == "line-1"
        assert (
            item.ai_proposal["asset"] == "Press 4" and item.ai_proposal["question_id"] == answer.question_id
        )
        decide(session, kind=ASSISTANT_WORK_ORDER, item=item, version=item.version, decision=Decision.APPROVE,
               actor="user:mt-site", audit=audit, now=NOW)  # fmt: skip
    assert audit.events[-1][0] == "ai.decision" and audit.events[-1][1]["decision"] == "approved"
    hold = run(plant, "qe-site", "quality_assistant", "Should we hold lot LOT-3004?")
    assert hold.recommendation_id is not None
    with sessions() as session:
        item = session.get(ReviewItemRow, hold.recommendation_id)
        assert item is not None and item.subject_kind == ASSISTANT_HOLD.name
    # a lot the person may not read proposes nothing
    assert (
        run(plant, "qe-line1", "quality_assistant", "Should we hold lot LOT-3005?").recommendation_id is None
    )


def test_questions_age_out_under_their_own_retention(plant: Plant) -> None:
    answer = run(plant, "fc-site", "finance_review", "What is the total stock value?")
    sessions, envelope, _ = plant
    with sessions() as session:
        row = session.get(AssistantQuestionRow, answer.question_id)
        assert row is not None
        blob = bytes(row.text_sealed)
    later = NOW.replace(year=NOW.year + 1)
    result = run_sweep(
        sessions, RetentionConfig(assistant_questions_days=180, plant_data_days=36_500), now=later
    )
    assert result.deleted["assistant_questions"] == 1 and result.deleted["plant_data"] == 0
    with pytest.raises(CryptoError, match="crypto-shredded"):
        envelope.open(blob, object_id=answer.question_id, category=SEALED_CATEGORY)
