"""Schemathesis over the server's own OpenAPI description, as nobody and as every role, bounded.

One server (the real app, SQLite, migrated) holds one signed-in person per role of
``docs/permissions.md`` (password and TOTP, as in a browser). This runs in the normal
test suite, so in CI, and is bounded:

* without credentials, every operation gets schemathesis' explicit examples, its
  coverage cases (boundary and invalid values, 10-45 per operation) and
  ``MAX_EXAMPLES`` random ones: no server error, and no operation that documents
  401/403 (every guarded one: see ``auth.document_access_answers``) may succeed;
* as every role, every operation gets the explicit examples and ``MAX_ROLE_EXAMPLES``
  random ones (coverage cases off: seven roles times the coverage set took minutes on
  a loaded 2-core machine), each request sent once per role so generation is paid
  once: no server error, and no operation guarded by ``require(action)`` may succeed
  (2xx) for a role that the matrix built from the Cedar policy — the one
  ``docs/permissions.md`` is generated from — denies that action to.

The 2026-12 review ran the same tool against the demo; this keeps the result from
regressing. ``POST /auth/logout`` is sent only without credentials: as a role it would
end the session the rest of the run depends on (sign-out is tested in the unit tests),
and :func:`test_every_role_was_signed_in_throughout` checks, after the run, that every
session still works, so that no role silently fuzzed as nobody.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.schemas import BaseSchema
from tests.unit.server.auth.harness import AuthHarness, FakeClock, StrictAuditTrail, harness_settings

from lineguard.server.app import create_app
from lineguard.server.auth.catalog import ROLES, Action, Role
from lineguard.server.auth.dependencies import CSRF_HEADER, SESSION_COOKIE, declared_routes
from lineguard.server.auth.engine import PolicyEngine
from lineguard.server.auth.matrix import Matrix, build_matrix
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for, upgrade_to_head

MAX_EXAMPLES = 3
MAX_ROLE_EXAMPLES = 2
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
#: Sent only without credentials (see the module docstring).
ANONYMOUS_ONLY = {("POST", "/api/v1/auth/logout")}
#: The roles' schemathesis configuration: coverage cases off (see the module docstring).
ROLE_CONFIG = {"phases": {"coverage": {"enabled": False}}}


@dataclass(frozen=True)
class FuzzedServer:
    """The one server of this module, its signed-in roles and what the policy allows them."""

    app: FastAPI
    harness: AuthHarness
    #: role → (session cookie, CSRF token), one person per role, signed in with MFA.
    sessions: dict[Role, tuple[str, str]]
    matrix: Matrix
    #: (METHOD, path template) → the action a ``require(...)`` route checks.
    actions: dict[tuple[str, str], Action]


# Built by fixtures, not at import: every pytest-xdist worker collects this module, and
# migrating a database, signing seven people in and deriving the schemathesis tests at
# collection cost each worker ~10 s of CPU (docs/testing.md) for tests that one of them runs.
@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzedServer]:
    home = tmp_path_factory.mktemp("schemathesis")
    engine = create_engine_for(f"sqlite:///{home / 'fuzz.db'}")
    upgrade_to_head(engine)
    trail = StrictAuditTrail()
    app = create_app(harness_settings(home / "server"), engine=engine, sealer=NoEncryption(), audit=trail)
    harness = AuthHarness(
        app=app,
        client=TestClient(app, base_url="https://testserver", raise_server_exceptions=False),
        trail=trail,
        clock=FakeClock(),
    )
    app.state.lineguard.auth.clock = harness.clock
    actions = {
        (method, route.path): rule.action
        for route in declared_routes(app)
        if route.is_api
        for rule in route.rules
        if rule.kind == "permission" and rule.action is not None
        for method in route.methods
    }
    yield FuzzedServer(
        app=app,
        harness=harness,
        sessions=_sign_in_every_role(harness),
        matrix=build_matrix(PolicyEngine.load(), now=harness.clock.now),
        actions=actions,
    )
    engine.dispose()


def _sign_in_every_role(harness: AuthHarness) -> dict[Role, tuple[str, str]]:
    sessions = {}
    for role in ROLES:
        person = harness.add_person(f"fuzz.{role.value.replace('_', '-')}", [role])
        csrf = harness.sign_in(person)
        cookie = harness.session_cookie()
        assert cookie, role
        sessions[role] = (cookie, csrf)
    harness.client.cookies.clear()
    return sessions


@pytest.fixture(scope="module")
def api_schema(fuzzed: FuzzedServer) -> BaseSchema:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzzed.app)


@pytest.fixture(scope="module")
def api_schema_as_roles(fuzzed: FuzzedServer) -> BaseSchema:
    config = SchemathesisConfig.from_dict(ROLE_CONFIG)
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzzed.app, config=config)


# Loaded from the fixtures when the test runs: each test is one pytest item, each operation
# a subtest of it (a failure names its operation).
schema = schemathesis.pytest.from_fixture("api_schema")
role_schema = schemathesis.pytest.from_fixture("api_schema_as_roles")


@pytest.fixture(autouse=True)
def _item_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy loader reads (and restores) the item's ``_nodeid``, which pytest 9.2
    replaced by ``_id``: without it the loader stops with an AttributeError before any request."""
    request.node._nodeid = request.node.nodeid


def _call(case: schemathesis.Case, fuzzed: FuzzedServer, role: Role | None) -> schemathesis.Response:
    headers = {"host": "testserver"}
    cookies = {}
    if role is not None:
        cookie, csrf = fuzzed.sessions[role]
        cookies[SESSION_COOKIE] = cookie
        if case.method.upper() in UNSAFE:
            headers[CSRF_HEADER] = csrf
    return case.call(base_url="https://testserver", headers=headers, cookies=cookies)


def _where(case: schemathesis.Case, role: Role | None, response: schemathesis.Response) -> str:
    who = role.value if role else "nobody"
    return f"{case.method} {case.formatted_path} as {who}: {response.status_code} {response.text[:300]}"


@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@schema.parametrize()
def test_no_server_error_and_no_success_without_credentials(
    case: schemathesis.Case, fuzzed: FuzzedServer
) -> None:
    response = _call(case, fuzzed, None)
    assert response.status_code < 500, _where(case, None, response)
    if "401" in case.operation.definition.raw.get("responses", {}):
        assert response.status_code >= 400, _where(case, None, response)


@settings(max_examples=MAX_ROLE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@role_schema.parametrize()
def test_no_server_error_and_no_success_the_policy_denies(
    case: schemathesis.Case, fuzzed: FuzzedServer
) -> None:
    method, template = case.method.upper(), case.operation.path
    if (method, template) in ANONYMOUS_ONLY:
        return
    action = fuzzed.actions.get((method, template))
    for role in ROLES:
        response = _call(case, fuzzed, role)
        assert response.status_code < 500, _where(case, role, response)
        if action is not None and not fuzzed.matrix.allowed[(role, action)]:
            assert not 200 <= response.status_code < 300, _where(case, role, response)


def test_the_run_covers_guarded_operations_and_denials(fuzzed: FuzzedServer) -> None:
    """The map from operations to actions is not empty, and every role is denied something."""
    assert len(fuzzed.actions) >= 40
    for role in ROLES:
        assert any(not fuzzed.matrix.allowed[(role, action)] for action in fuzzed.actions.values()), role


@pytest.mark.parametrize("role", list(ROLES), ids=lambda role: role.value)
def test_every_role_was_signed_in_throughout(role: Role, fuzzed: FuzzedServer) -> None:
    """Runs after the fuzzing (file order): each session still answers as its person."""
    cookie, _ = fuzzed.sessions[role]
    client = fuzzed.harness.client
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie)
    response = client.get("/api/v1/auth/me")
    client.cookies.clear()
    assert response.status_code == 200, response.text
    assert response.json()["username"] == f"fuzz.{role.value.replace('_', '-')}"
