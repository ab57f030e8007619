"""The in-process backend with the real model: gemma3-270m (Q4_K_M) under llama-cpp-python.

Skipped, with the reason, where the ``llm`` extra is not installed (CI does not compile
llama.cpp); the grounding check and the prompt are tested in CI through the endpoint
backend (test_endpoint.py). Here the real, weak model answers real permitted facts:
whatever it writes, either it passes the grounding check or the built-in answer is
returned — and no hidden canary ever comes out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from lineguard.config.egress import EgressConfig
from lineguard.server.assistant import ask, effective_scope, workflow_named
from lineguard.server.assistant.answerer import BuiltinAnswerer
from lineguard.server.assistant.rephrase import (
    Facts,
    LlamaCppModel,
    Rephraser,
    build_rephraser,
    check,
    permitted_facts,
    prompt_messages,
)
from lineguard.server.auth import PolicyEngine
from lineguard.server.egress import EgressGate
from lineguard.server.plantdata import Scope, index_key
from tests.support.assistant_suite import leaks
from tests.support.gemma import gemma_config, gemma_path, missing
from tests.support.leak_run import NOW, Plant, built_plant
from tests.support.plant import PROFILES, SITE, canaries, principal
from tests.unit.server.conftest import AuditTrail

pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")

PEOPLE = {p.name: p for p in PROFILES}
ENGINE = PolicyEngine.load()
QUESTIONS = (
    ("ps-line2", "production_assistant", "How many production orders are there?"),
    ("ps-line2", "production_assistant", "Show production order PO-2002"),
    ("ps-site", "production_assistant", "Compare units produced on line 1, line 2 and line 3"),
    ("ps-site", "production_assistant", "What do the changeover notes say about admin mode?"),
    ("fc-site", "finance_review", "What is the total order value?"),
    ("fc-site", "finance_review", "Which customer has the highest order value?"),
)


@pytest.fixture(scope="module")
def canaried(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    with built_plant(tmp_path_factory.mktemp("plant"), "canaried", canaries()) as plant:
        yield plant


@pytest.fixture(scope="module")
def gemma() -> Rephraser:
    rephraser = build_rephraser(gemma_config(max_tokens=96), EgressGate(EgressConfig()))
    assert rephraser is not None
    return rephraser


def _facts(plant: Plant, who: str, workflow: str, question: str) -> Facts:
    person = principal(PEOPLE[who], now=NOW)
    scope = effective_scope(
        ENGINE, person, workflow_named(plant.settings.assistant, workflow), site=SITE, now=NOW
    )
    key = index_key(plant.sessions, site_id=SITE, sealer=plant.sealer)
    with plant.sessions() as session:
        draft = BuiltinAnswerer().answer(session, scope, question, key=key, sealer=plant.sealer)
        return permitted_facts(session, scope, draft.sentences, sealer=plant.sealer, max_records=8)


def test_every_gemma_answer_is_grounded_or_replaced_and_never_leaks(
    canaried: Plant, gemma: Rephraser
) -> None:
    digest = hashlib.sha256(gemma_path().read_bytes()).hexdigest()
    outcomes = []
    for who, workflow, question in QUESTIONS:
        audit = AuditTrail()
        person = principal(PEOPLE[who], now=NOW)
        flow = workflow_named(canaried.settings.assistant, workflow)
        scope = effective_scope(ENGINE, person, flow, site=SITE, now=NOW)
        hidden = [c for c in canaries() if not scope.readable(c.record.category, Scope.of(c.record.lines))]
        plant = canaried
        a = ask(plant.sessions, settings=plant.settings, engine=ENGINE, principal=person, question=question,
                workflow=workflow, sealer=plant.sealer, audit=audit, now=NOW, rephraser=gemma)  # fmt: skip
        entry = next(fields for name, fields in audit.events if name == "ai.question")
        assert entry["model"] == "Gemma 3 270m"  # the GGUF's general.name
        assert entry["model_version"] == f"sha256:{digest[:16]} llama-cpp-python 0.3.36"
        assert leaks(a.answer + " " + " ".join(s.text for s in a.sentences), hidden) == []
        if a.answerer == "language_model":
            assert a.fallback is None and entry["fallback"] is None
            assert check(a.answer, _facts(canaried, who, workflow, question)).grounded
        else:
            assert a.fallback in ("ungrounded", "empty") and entry["fallback"] == a.fallback
        outcomes.append(a.fallback or "grounded")
    print("gemma outcomes:", outcomes)  # shown with -s; the bench counts them over many questions


def test_the_same_facts_give_the_same_text(canaried: Plant) -> None:
    model = LlamaCppModel(gemma_config())
    messages = prompt_messages(
        _facts(canaried, "fc-site", "finance_review", "What is the total order value?")
    )
    first = model.complete(messages, max_tokens=48, timeout_s=120)
    second = model.complete(messages, max_tokens=48, timeout_s=120)
    assert first.text == second.text and first.text.strip()
    assert first.first_token_s is not None and 0 < first.first_token_s <= first.total_s
    assert first.completion_tokens > 0


def test_past_the_timeout_the_builtin_answer_is_returned(canaried: Plant) -> None:
    rephraser = build_rephraser(gemma_config(timeout_s=0.05, max_tokens=256), EgressGate(EgressConfig()))
    assert rephraser is not None
    outcome = rephraser.rephrase(
        _facts(canaried, "fc-site", "finance_review", "What is the total order value?")
    )
    assert outcome.fallback == "timeout" and outcome.text == ""
