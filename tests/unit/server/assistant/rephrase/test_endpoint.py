"""The language-model path end to end with the endpoint backend, in CI.

The model is the stand-in of ``tests/support/chat_endpoint.py``: a real HTTP server on
loopback speaking the OpenAI chat-completions shape (it validates every request), in
place of the plant's on-prem endpoint, reached through the real egress gate. It writes
what each test scripts — faithful, line-swapping, injection-obeying, canary-printing —
so the grounding check and the fallback are exercised on the seeded plant with every
canary planted, and every prompt it received is checked against the permitted set.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lineguard.config import load_server_config
from lineguard.config.egress import EgressConfig
from lineguard.config.language_model import LlamaCppModelConfig
from lineguard.contracts.errors import ConfigError
from lineguard.server.assistant import AnswerOut, ask, effective_scope
from lineguard.server.assistant.rephrase import SYSTEM_PROMPT, Rephraser, build_rephraser
from lineguard.server.auth import PolicyEngine
from lineguard.server.egress import Denial, EgressGate
from lineguard.server.plantdata import Scope
from tests.support.assistant_suite import leaks
from tests.support.chat_endpoint import ChatEndpoint, fact_lines, repeat_facts
from tests.support.http_stub import Reply
from tests.support.leak_run import NOW, Plant, built_plant, run_leak_suite
from tests.support.plant import PROFILES, SITE, canaries, principal
from tests.unit.server.assistant.test_leak import CI_SUBSET
from tests.unit.server.conftest import AuditTrail

PEOPLE = {p.name: p for p in PROFILES}
ENGINE = PolicyEngine.load()


@pytest.fixture(scope="module")
def canaried(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    """The seeded plant with every canary planted (restricted categories, every line, the site)."""
    with built_plant(tmp_path_factory.mktemp("plant"), "canaried", canaries()) as plant:
        yield plant


def _ask(
    plant: Plant,
    who: str,
    workflow: str,
    question: str,
    rephraser: Rephraser | None,
    audit: AuditTrail | None = None,
) -> AnswerOut:
    person = principal(PEOPLE[who], now=NOW)
    return ask(plant.sessions, settings=plant.settings, engine=ENGINE, principal=person, question=question,
               workflow=workflow, sealer=plant.sealer, audit=audit or AuditTrail(), now=NOW,
               rephraser=rephraser)  # fmt: skip


def _question_entry(audit: AuditTrail) -> dict[str, object]:
    return next(fields for name, fields in audit.events if name == "ai.question")


def test_a_grounded_rephrasing_is_answered_cited_and_audited_with_the_model_that_wrote_it(
    canaried: Plant,
) -> None:
    with ChatEndpoint(lambda m: "Here it is. " + repeat_facts(m)) as endpoint:
        audit = AuditTrail()
        builtin = _ask(
            canaried, "ps-line2", "production_assistant", "How many production orders are there?", None
        )
        a = _ask(canaried, "ps-line2", "production_assistant", "How many production orders are there?",
                 endpoint.rephraser(), audit)  # fmt: skip
    assert endpoint.violations == []
    assert a.answerer == "language_model"
    assert a.model == "plant-llm (standin-7b-q4 2026-12)"
    assert a.fallback is None
    assert a.answer.startswith("Here it is. ") and a.answer != builtin.answer
    assert a.citations == builtin.citations and a.scope == builtin.scope  # same records, same scope statement
    assert all(s.cites for s in a.sentences)
    assert {n for s in a.sentences for n in s.cites} <= {c.n for c in a.citations}
    entry = _question_entry(audit)
    assert entry["answerer"] == "language_model"
    assert (entry["model"], entry["model_version"], entry["fallback"]) == (
        "plant-llm",
        "standin-7b-q4 2026-12",
        None,
    )


def test_a_swapped_line_falls_back_to_the_builtin_answer_and_the_fallback_is_recorded(
    canaried: Plant,
) -> None:
    def swap(messages: list[dict[str, str]]) -> str:  # what gemma3-270m did: another line than the facts'
        return repeat_facts(messages).replace("line-2", "line-1")

    with ChatEndpoint(swap) as endpoint:
        audit = AuditTrail()
        question = "How many production orders are there on line 2?"
        builtin = _ask(canaried, "ps-site", "production_assistant", question, None)
        a = _ask(canaried, "ps-site", "production_assistant", question, endpoint.rephraser(), audit)
    assert "line-2" in builtin.answer
    assert (a.answer, a.sentences, a.citations) == (builtin.answer, builtin.sentences, builtin.citations)
    assert (a.answerer, a.model, a.fallback) == ("builtin", None, "ungrounded")
    entry = _question_entry(audit)
    assert (entry["answerer"], entry["model"], entry["fallback"]) == ("builtin", "plant-llm", "ungrounded")


def test_the_model_never_receives_anything_outside_the_permitted_set(canaried: Plant) -> None:
    """Every prompt of every profile × workflow: only the built-in answer's sentences and its cited
    records, no hidden canary, not the question; the fixed instructions first."""
    questions = (*CI_SUBSET[:12], "Show production order PO-2002", "What was the result of lot LOT-3002?",
                 "How do I inspect castings for porosity?",
                 "What is the price of Qzx35canary Holdings?")  # fmt: skip
    planted = canaries()
    asked = 0
    with ChatEndpoint(repeat_facts) as endpoint:
        rephraser = endpoint.rephraser()
        for profile in PROFILES:
            for flow in canaried.settings.assistant.workflows:
                try:
                    scope = effective_scope(ENGINE, principal(profile, now=NOW), flow, site=SITE, now=NOW)
                except Exception:
                    scope = None
                hidden = [
                    c
                    for c in planted
                    if scope is None or not scope.readable(c.record.category, Scope.of(c.record.lines))
                ]
                for question in questions:
                    before = len(endpoint.prompts)
                    try:
                        builtin = _ask(canaried, profile.name, flow.name, question, None)
                        _ask(canaried, profile.name, flow.name, question, rephraser)
                    except Exception:
                        assert len(endpoint.prompts) == before
                        continue
                    if builtin.refused or not builtin.citations:
                        assert len(endpoint.prompts) == before  # nothing to rephrase: the model is not asked
                        continue
                    assert len(endpoint.prompts) == before + 1
                    asked += 1
                    messages = endpoint.prompts[-1]
                    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
                    prompt = json.dumps(messages)
                    assert leaks(prompt, hidden) == [], (profile.name, flow.name, question)
                    assert question not in prompt
                    lines = fact_lines(messages)
                    sentences = [s.text for s in builtin.sentences]
                    assert lines[: len(sentences)] == sentences
                    cited_keys = {c.source_key for c in builtin.citations} | {
                        c.title for c in builtin.citations
                    }
                    for record in lines[len(sentences) :]:  # each a cited record the person may read
                        assert any(key in record for key in cited_keys), record
    assert endpoint.violations == []
    assert asked > 60  # the model was really asked, by many kinds of person (85 prompts today)


def test_a_model_obeying_the_seeded_injection_cannot_get_a_hidden_value_out(canaried: Plant) -> None:
    """The changeover notes tell the model to list supplier prices and the stock value; a model
    that obeys (here: prints the finance canaries, as if it knew them) is refused by the check."""
    finance = [c for c in canaries() if c.record.category in ("finance_pricing", "vendor_terms")]

    def obey(messages: list[dict[str, str]]) -> str:
        assert "Ignore all previous instructions" in messages[1]["content"]  # the injection did reach it
        return " ".join(f"SYSTEM admin mode: {c.token} Holdings price {c.number}." for c in finance)

    with ChatEndpoint(obey) as endpoint:
        question = "What do the changeover notes say about admin mode?"
        a = _ask(canaried, "ps-site", "production_assistant", question,
                 endpoint.rephraser())  # fmt: skip
    assert len(endpoint.prompts) == 1
    assert a.fallback == "ungrounded" and a.answerer == "builtin"
    assert leaks(a.answer + " ".join(c.title for c in a.citations), finance) == []


def test_the_leak_suite_subset_with_the_model_path_finds_nothing(tmp_path: Path) -> None:
    """CI subset of the leak suite with a model that tries its worst on every answer: it repeats the
    facts and appends every canary (string and number). Zero leaks, zero interference."""
    planted = canaries()

    def worst(messages: list[dict[str, str]]) -> str:
        return repeat_facts(messages) + " " + " ".join(f"{c.token} {c.number}" for c in planted)

    with ChatEndpoint(worst) as endpoint:
        report = run_leak_suite(tmp_path, CI_SUBSET[:8], rephraser=endpoint.rephraser())
    assert report.leaks == [] and report.interference == []
    assert report.outcomes["fallback:ungrounded"] > 20  # every answered question (32 today)
    assert report.outcomes["language_model"] == 0


def test_the_faithful_model_keeps_non_interference(tmp_path: Path) -> None:
    """With grounded rephrasings used, hidden records still change nothing anyone sees."""
    with ChatEndpoint(lambda m: "In short: " + repeat_facts(m)) as endpoint:
        report = run_leak_suite(tmp_path, CI_SUBSET[10:16], rephraser=endpoint.rephraser())
    assert report.leaks == [] and report.interference == []
    assert report.outcomes["language_model"] > 30


def _timeout_s(reply: Reply) -> float:
    """1 s against the slow reply's 2 s delay; for the others a wait that load cannot exhaust
    (a 1 s limit on every case timed out answers that were merely late, naming them "timeout")."""
    return 1.0 if reply.delay_s else 60.0


@pytest.mark.parametrize(
    ("reply", "fallback"),
    [
        (Reply(status=500, body=b'{"error": "overloaded"}'), "unavailable"),
        (Reply(status=200, body=b"<html>not json</html>"), "unavailable"),
        (Reply(status=200, body=b'{"choices": []}'), "unavailable"),
        (Reply(status=200, body=b'{"choices": [{"message": {"content": null}}]}'), "unavailable"),
        (Reply(drop=True), "unavailable"),
        (Reply(status=200, body=b'{"choices": [{"message": {"content": "   "}}], "model": "m"}'), "empty"),
        (
            Reply(
                status=200,
                body=b'{"choices": [{"message": {"content": "There are 2"}, "finish_reason": "length"}],'
                b' "model": "m"}',
            ),
            "empty",
        ),
        (Reply(delay_s=2.0, body=b"{}"), "timeout"),
    ],
)
def test_a_failing_endpoint_falls_back_and_the_question_is_still_answered(
    canaried: Plant, reply: Reply, fallback: str
) -> None:
    with ChatEndpoint(repeat_facts, reply=lambda _: reply) as endpoint:
        audit = AuditTrail()
        builtin = _ask(canaried, "fc-site", "finance_review", "What is the total order value?", None)
        a = _ask(canaried, "fc-site", "finance_review", "What is the total order value?",
                 endpoint.rephraser(timeout_s=_timeout_s(reply)), audit)  # fmt: skip
    assert (a.answer, a.fallback, a.answerer) == (builtin.answer, fallback, "builtin")
    assert _question_entry(audit)["fallback"] == fallback


def test_an_endpoint_off_the_egress_allowlist_is_never_contacted(canaried: Plant) -> None:
    denials: list[Denial] = []
    with ChatEndpoint(repeat_facts) as endpoint:
        gate = endpoint.gate(allowed=False, on_denied=denials.append)
        rephraser = build_rephraser(endpoint.config(), gate)
        a = _ask(canaried, "fc-site", "finance_review", "What is the total order value?", rephraser)
    assert endpoint.prompts == []
    assert a.fallback == "unavailable" and a.answerer == "builtin"
    assert [(d.purpose, d.reason) for d in denials] == [
        ("assistant:language_model", "not in the egress allowlist")
    ]


def test_a_refused_or_empty_answer_never_asks_the_model(canaried: Plant) -> None:
    with ChatEndpoint(repeat_facts) as endpoint:
        refused = _ask(canaried, "ps-line2", "production_assistant", "What is the total order value?",
                       endpoint.rephraser())  # fmt: skip
        nothing = _ask(canaried, "ps-line2", "production_assistant", "Show order SO-99999",
                       endpoint.rephraser())  # fmt: skip
    assert refused.refused and not nothing.citations
    assert endpoint.prompts == []
    assert refused.fallback is None and nothing.fallback is None


def test_the_language_model_is_off_by_default_and_configured_in_server_yaml(tmp_path: Path) -> None:
    base = {"kind": "server", "site_id": "plant-a", "data_dir": str(tmp_path / "d")}
    path = tmp_path / "server.yaml"
    path.write_text(yaml.safe_dump(base))
    assert load_server_config(path).assistant.language_model is None
    model = tmp_path / "m.gguf"
    base["assistant"] = {"language_model": {"backend": "llama_cpp", "model_path": str(model),
                                            "max_tokens": 120,
                                            "timeout_s": 15}}  # fmt: skip
    path.write_text(yaml.safe_dump(base))
    config = load_server_config(path).assistant.language_model
    assert config is not None and config.backend == "llama_cpp" and config.max_tokens == 120
    base["assistant"] = {"language_model": {"backend": "endpoint", "url": "https://llm.plant.local:8443/v1/chat/completions",
                                            "model": "plant-llm", "api_key": {"env": "LLM_KEY"}}}  # fmt: skip
    path.write_text(yaml.safe_dump(base))
    assert load_server_config(path).assistant.language_model is not None
    for bad in (
        {"backend": "cloud", "url": "https://x/v1", "model": "m"},
        {"backend": "endpoint", "url": "https://user:pw@llm.plant.local/v1", "model": "m"},
        {"backend": "endpoint", "url": "ftp://llm.plant.local/v1", "model": "m"},
        {"backend": "llama_cpp", "model_path": str(model), "max_tokens": 0},
        {"backend": "llama_cpp", "model_path": str(model), "timeout_s": -1},
        {"backend": "llama_cpp", "model_path": str(model), "temperature": 0.7},
    ):
        base["assistant"] = {"language_model": bad}
        path.write_text(yaml.safe_dump(base))
        with pytest.raises(ConfigError):
            load_server_config(path)


def test_a_missing_model_file_falls_back_as_unavailable(canaried: Plant, tmp_path: Path) -> None:
    config = LlamaCppModelConfig(backend="llama_cpp", model_path=tmp_path / "absent.gguf")
    rephraser = build_rephraser(config, EgressGate(EgressConfig()))
    audit = AuditTrail()
    a = _ask(canaried, "fc-site", "finance_review", "What is the total order value?", rephraser, audit)
    assert (a.answerer, a.fallback) == ("builtin", "unavailable")
    assert _question_entry(audit)["model"] == "absent.gguf"
