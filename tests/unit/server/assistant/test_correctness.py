"""Correctness: over 100 questions with answers computed from the seed (not from the database),
asked as every profile; at least 95 % right per profile, every citation readable by the person.

The oracle filters the seed records in Python with the person's effective scope and
computes counts, sums, leaders and lookups itself; the answerer reads the sealed
database through SQL. A question whose category the workflow or the person lacks must
be refused; one with nothing readable must get the "nothing found" answer.
"""

from __future__ import annotations

import pytest

from tests.support.assistant_suite import erp_type_questions, known_questions, score_profile
from tests.support.leak_run import Plant
from tests.support.plant import PROFILES, Profile

QUESTIONS = known_questions()


def test_there_are_over_a_hundred_known_questions() -> None:
    assert len(QUESTIONS) >= 100
    assert len({k.question for k in QUESTIONS}) == len(QUESTIONS)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_answers_are_right_and_cite_only_readable_records(seeded: Plant, profile: Profile) -> None:
    score = score_profile(seeded, profile)
    assert score.total == len(QUESTIONS)
    assert score.unreadable == []
    assert score.right / score.total >= 0.95, "\n".join(score.wrong)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_every_erp_record_type_has_a_topic_that_answers_right(seeded: Plant, profile: Profile) -> None:
    """Order lines, supplier terms, product costs and scrap costs: every known answer right for
    every profile — refused where the workflow or the person lacks the category (a sales
    update never reaches supplier terms or costs; a scrap cost is finance-level)."""
    questions = erp_type_questions()
    score = score_profile(seeded, profile, questions)
    assert score.total == len(questions) >= 20
    assert score.unreadable == []
    assert score.right == score.total, "\n".join(score.wrong)
