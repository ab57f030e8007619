"""Correctness: over 100 questions with answers computed from the seed (not from the database),
asked as every profile; at least 95 % right per profile, every citation readable by the person.

The oracle filters the seed records in Python with the person's effective scope and
computes counts, sums, leaders and lookups itself; the answerer reads the sealed
database through SQL. A question whose category the workflow or the person lacks must
be refused; one with nothing readable must get the "nothing found" answer.
"""

from __future__ import annotations

import pytest

from lineguard.contracts.errors import PermissionDeniedError
from lineguard.server.assistant import NOTHING, ask, effective_scope, workflows_for
from lineguard.server.auth import Category, PolicyEngine
from lineguard.server.plantdata import Scope
from tests.support.assistant_suite import known_questions, readable_seed
from tests.support.leak_run import NOW, Plant
from tests.support.plant import PROFILES, SITE, Profile, principal, seed_plant
from tests.unit.server.conftest import AuditTrail

QUESTIONS = known_questions()


def test_there_are_over_a_hundred_known_questions() -> None:
    assert len(QUESTIONS) >= 100
    assert len({k.question for k in QUESTIONS}) == len(QUESTIONS)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_answers_are_right_and_cite_only_readable_records(seeded: Plant, profile: Profile) -> None:
    engine = PolicyEngine.load()
    person = principal(profile, now=NOW)
    flows = workflows_for(seeded.settings.assistant, person, NOW)
    seed = seed_plant().records
    by_key = {r.source_key: r for r in seed}  # keys are unique across the seed's sources
    assert len(by_key) == len(seed)
    right, wrong = 0, []
    for known in QUESTIONS:
        flow = next((w for w in flows if known.category in w.categories), flows[0] if flows else None)
        if flow is None:  # no workflow at all (IT administrator, auditor): refused before anything
            with pytest.raises(PermissionDeniedError, match="not granted to you"):
                ask(seeded.sessions, settings=seeded.settings, engine=engine, principal=person,
                    question=known.question, workflow="production_assistant", sealer=seeded.sealer,
                    audit=AuditTrail(), now=NOW)  # fmt: skip
            right += 1
            continue
        scope = effective_scope(engine, person, flow, site=SITE, now=NOW, line_filter=known.lines)
        answer = ask(seeded.sessions, settings=seeded.settings, engine=engine, principal=person,
                     question=known.question, workflow=flow.name, sealer=seeded.sealer, audit=AuditTrail(),
                     now=NOW)  # fmt: skip
        for citation in answer.citations:
            record = by_key[citation.source_key]
            assert scope.readable(record.category, Scope.of(record.lines)), (known.question, citation)
        if not scope.allows(Category(known.category)):
            ok = answer.refused
        else:
            expected = known.expect(readable_seed(scope, seed))
            ok = answer.answer == NOTHING if expected is None else all(e in answer.answer for e in expected)
        if ok:
            right += 1
        else:
            wrong.append(f"{flow.name}: {known.question!r} -> {answer.answer[:200]}")
    assert right / len(QUESTIONS) >= 0.95, "\n".join(wrong)
