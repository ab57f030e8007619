"""The language model through the real app: ``POST /api/v1/assistant/ask`` on a server whose
``server.yaml`` configures the endpoint backend (the chat-completions stand-in of
tests/support/chat_endpoint.py, allowed by the egress section) — the route uses the
app's one rephraser, and the answer says whose words it is."""

from __future__ import annotations

from pathlib import Path

from lineguard.config.assistant import AssistantConfig
from lineguard.config.egress import EgressConfig
from lineguard.server.auth.catalog import Role
from lineguard.server.auth.dependencies import CSRF_HEADER, SESSION_COOKIE
from lineguard.server.auth.matrix import MATRIX_SITE
from lineguard.server.plantdata import import_records
from lineguard.server.protection import NoEncryption
from tests.support.chat_endpoint import ChatEndpoint, repeat_facts
from tests.support.plant import seed_plant
from tests.unit.server.auth.harness import running_harness
from tests.unit.server.conftest import AuditTrail


def test_the_route_rephrases_through_the_configured_endpoint_and_says_so(db_url: str, tmp_path: Path) -> None:
    with ChatEndpoint(lambda m: "Summary: " + repeat_facts(m)) as endpoint:
        port = int(endpoint.url.split(":")[2].split("/")[0])
        sections = {
            "assistant": AssistantConfig(language_model=endpoint.config()),
            "egress": EgressConfig.model_validate(
                {"allow": [{"scheme": "http", "host": "127.0.0.1", "port": port}]}
            ),
        }
        with running_harness(db_url, tmp_path / "server", sections=sections) as h:
            import_records(h.context.sessions, site_id=MATRIX_SITE, records=seed_plant().records,
                           sealer=NoEncryption(), actor="cli:seed", audit=AuditTrail())  # fmt: skip
            csrf = h.sign_in(h.add_person("f.controller", [Role.FINANCE_CONTROLLER]))
            h.client.cookies.set(SESSION_COOKIE, h.session_cookie() or "")
            response = h.client.post(
                "/api/v1/assistant/ask",
                json={"question": "What is the total order value?", "workflow": "finance_review"},
                headers={CSRF_HEADER: csrf},
            )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answerer"] == "language_model" and body["fallback"] is None
    assert body["model"] == "plant-llm (standin-7b-q4 2026-12)"
    assert body["answer"].startswith("Summary: ") and body["citations"]
    assert len(endpoint.prompts) == 1 and endpoint.violations == []
