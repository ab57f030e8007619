"""``POST /api/v1/assistant/ask`` and ``GET /api/v1/assistant/workflows`` on the real app, as
every role: the workflow decides (200 where granted, 403 where not, 401 without a
session), and the same question gets different answers for different people."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lineguard.config.assistant import DEFAULT_WORKFLOWS
from lineguard.server.auth.catalog import ROLES, Role
from lineguard.server.auth.dependencies import CSRF_HEADER, SESSION_COOKIE
from lineguard.server.auth.matrix import MATRIX_SITE
from lineguard.server.plantdata import import_records
from lineguard.server.protection import NoEncryption
from tests.support.plant import seed_plant
from tests.unit.server.auth.harness import AuthHarness, running_harness
from tests.unit.server.conftest import AuditTrail


@pytest.fixture
def harness(db_url: str, tmp_path: Path) -> Iterator[tuple[AuthHarness, dict[Role, tuple[str, str]]]]:
    with running_harness(db_url, tmp_path / "server") as h:
        records = [r.model_copy(update={"lines": r.lines}) for r in seed_plant().records]
        import_records(h.context.sessions, site_id=MATRIX_SITE, records=records, sealer=NoEncryption(),
                       actor="cli:seed", audit=AuditTrail())  # fmt: skip
        people = {}
        for role in ROLES:
            person = h.add_person(f"a.{role.value.replace('_', '-')}", [role])
            csrf = h.sign_in(person)
            people[role] = (h.session_cookie() or "", csrf)
        yield h, people


def _ask(h: AuthHarness, who: tuple[str, str] | None, workflow: str, question: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    h.client.cookies.clear()
    headers = {}
    if who is not None:
        h.client.cookies.set(SESSION_COOKIE, who[0])
        headers[CSRF_HEADER] = who[1]
    response = h.client.post(
        "/api/v1/assistant/ask", json={"question": question, "workflow": workflow}, headers=headers
    )
    return response.status_code, response.json()


def test_every_role_in_every_workflow_gets_what_the_workflow_grants(
    harness: tuple[AuthHarness, dict[Role, tuple[str, str]]],
) -> None:
    h, people = harness
    for flow in DEFAULT_WORKFLOWS:
        assert _ask(h, None, flow.name, "How many production orders are there?")[0] == 401
        for role, who in people.items():
            status, body = _ask(h, who, flow.name, "How many production orders are there?")
            if role.value in flow.roles:
                assert status == 200, (flow.name, role, body)
                assert set(body) >= {"answer", "citations", "scope", "refused"}
            else:
                assert status == 403, (flow.name, role, body)
                assert body["code"] == "forbidden"
    h.client.cookies.clear()
    h.client.cookies.set(SESSION_COOKIE, people[Role.FINANCE_CONTROLLER][0])
    listed = h.client.get("/api/v1/assistant/workflows").json()
    assert [w["name"] for w in listed] == ["sales_update", "finance_review"]


def test_the_same_question_answers_differently_per_person(
    harness: tuple[AuthHarness, dict[Role, tuple[str, str]]],
) -> None:
    h, people = harness
    question = "What is the total order value?"
    _, supervisor = _ask(h, people[Role.PRODUCTION_SUPERVISOR], "production_assistant", question)
    _, finance = _ask(h, people[Role.FINANCE_CONTROLLER], "sales_update", question)
    assert supervisor["refused"] is True and supervisor["citations"] == []
    assert finance["refused"] is False and finance["answer"].startswith(
        "The total order value of sales orders is "
    )
    assert all(c["category"] == "customer_orders" for c in finance["citations"])
    status, body = _ask(h, people[Role.FINANCE_CONTROLLER], "sales_update", "q" * 100_001)
    assert status == 422  # over the request schema's bound: refused before the service
    status, body = _ask(h, people[Role.FINANCE_CONTROLLER], "sales_update", "q" * 5000)
    assert status == 400 and "at most 2000" in body["message"]
