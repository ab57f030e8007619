"""Every route of the real server declares its access rule, and every role gets exactly the
answer the policy-generated matrix says: allowed where it says ✔, 403 elsewhere, 401
without a session.

The app is ``create_app`` with every domain's routers, on SQLite and PostgreSQL. A new
route without ``require(...)``, ``allow_authenticated()``, ``allow_public(...)`` or
``allow_node()`` fails :func:`test_every_route_declares_exactly_one_access_rule`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from tests.unit.server.auth.harness import AuthHarness, StrictAuditTrail, harness_settings, running_harness

from lineguard.contracts.errors import ConfigError
from lineguard.server.app import create_app
from lineguard.server.auth import allow_public, refuse_undeclared_routes
from lineguard.server.auth.catalog import ROLES, Action, Role
from lineguard.server.auth.dependencies import (
    AUDITED_READS,
    CSRF_HEADER,
    SESSION_COOKIE,
    DeclaredRoute,
    declared_routes,
)
from lineguard.server.auth.engine import PolicyEngine
from lineguard.server.auth.matrix import Matrix, build_matrix
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for

#: Framework routes that are not part of the JSON API: the OpenAPI description
#: (it describes the API, it returns no data; there is no Swagger UI page).
FRAMEWORK_ROUTES = {"/api/v1/openapi.json"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
READ_EVENTS = {"access.inspection_read", "access.evidence", "access.plant_data_read", "access.audit_read"}


def _app(tmp_path: Path) -> FastAPI:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'walk.db'}")
    return create_app(
        harness_settings(tmp_path), engine=engine, sealer=NoEncryption(), audit=StrictAuditTrail()
    )


def _undeclared(app: FastAPI) -> list[str]:
    problems = []
    for route in declared_routes(app):
        if not route.is_api:
            if route.path not in FRAMEWORK_ROUTES:
                problems.append(f"{route.path}: not an API route and not a known framework route")
            continue
        if len(route.rules) != 1:
            problems.append(f"{sorted(route.methods)} {route.path}: declares {len(route.rules)} access rules")
    return problems


def test_every_route_declares_exactly_one_access_rule(tmp_path: Path) -> None:
    app = _app(tmp_path)
    assert _undeclared(app) == []
    kinds = {rule.kind for route in declared_routes(app) for rule in route.rules}
    assert {"permission", "authenticated", "public"} <= kinds


def test_a_route_without_a_declaration_fails_the_walk(tmp_path: Path) -> None:
    app = _app(tmp_path)
    sneaky = APIRouter()

    @sneaky.get("/sneaky")
    def sneaky_route() -> dict[str, str]:
        return {"secret": "data"}

    app.include_router(sneaky, prefix="/api/v1")
    assert _undeclared(app) == ["['GET'] /api/v1/sneaky: declares 0 access rules"]


def test_the_server_refuses_to_start_with_an_undeclared_route(tmp_path: Path) -> None:
    """Deny by default at start-up, not only in this walk: the app never serves it."""
    app = _app(tmp_path)
    refuse_undeclared_routes(app)  # what create_app mounted is all declared
    sneaky = APIRouter()

    @sneaky.get("/sneaky")
    def sneaky_route() -> dict[str, str]:
        return {"secret": "data"}

    @sneaky.post("/twice", dependencies=[Depends(allow_public("a")), Depends(allow_public("b"))])
    def twice() -> None:
        return None

    app.include_router(sneaky, prefix="/api/v1")
    with pytest.raises(ConfigError) as refused:
        refuse_undeclared_routes(app)
    assert "['GET'] /api/v1/sneaky: declares 0 access rules" in refused.value.message
    assert "['POST'] /api/v1/twice: declares 2 access rules" in refused.value.message
    with pytest.raises(ConfigError, match="refusing to start"), TestClient(app):
        pass  # start-up (the lifespan) refuses before any request is served


# ---- every route × every role ---------------------------------------------------------


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "probe-0001", path)


def _call(h: AuthHarness, route: DeclaredRoute, method: str, csrf: str | None) -> int:
    headers = {CSRF_HEADER: csrf} if csrf and method in UNSAFE else {}
    kwargs: dict[str, object] = {"headers": headers}
    if method in {"POST", "PUT", "PATCH"}:
        kwargs["json"] = {}
    return h.client.request(method, _concrete(route.path), **kwargs).status_code  # type: ignore[arg-type]


@pytest.fixture
def walk(db_url: str, tmp_path: Path) -> Iterator[tuple[AuthHarness, dict[Role, tuple[str, str]]]]:
    """A running server with one signed-in person per role: role → (cookie, csrf)."""
    with running_harness(db_url, tmp_path / "server") as h:
        sessions = {}
        for role in ROLES:
            person = h.add_person(f"p.{role.value.replace('_', '-')}", [role])
            csrf = h.sign_in(person)
            sessions[role] = (h.session_cookie() or "", csrf)
        h.client.cookies.clear()
        yield h, sessions


def _as(h: AuthHarness, cookie: str | None) -> None:
    h.client.cookies.clear()
    if cookie is not None:
        h.client.cookies.set(SESSION_COOKIE, cookie)


def test_every_route_answers_every_role_as_the_matrix_says(
    walk: tuple[AuthHarness, dict[Role, tuple[str, str]]],
) -> None:
    h, sessions = walk
    matrix: Matrix = build_matrix(PolicyEngine.load(), now=h.clock.now)
    checked = 0
    mismatches = []
    for route in declared_routes(h.app):
        if not route.is_api or route.rules[0].kind != "permission":
            continue
        action = route.rules[0].action
        assert isinstance(action, Action)
        for method in sorted(route.methods):
            _as(h, None)
            anonymous = _call(h, route, method, None)
            if anonymous != 401:
                mismatches.append(f"{method} {route.path} without a session: {anonymous}, expected 401")
            for role, (cookie, csrf) in sessions.items():
                _as(h, cookie)
                before = len(h.trail.events)
                status = _call(h, route, method, csrf)
                allowed = matrix.allowed[(role, action)]
                checked += 1
                if allowed and (status in {401, 403} or status >= 500):
                    mismatches.append(f"{method} {route.path} as {role}: {status}, matrix allows {action}")
                if not allowed and status != 403:
                    mismatches.append(f"{method} {route.path} as {role}: {status}, expected 403 ({action})")
                new = [name for name, _, _ in h.trail.events[before:]]
                if not allowed and "access.denied" not in new:
                    mismatches.append(f"{method} {route.path} as {role}: denial not audited")
                if allowed and status == 200 and action in AUDITED_READS and not READ_EVENTS & set(new):
                    mismatches.append(f"{method} {route.path} as {role}: read of {action} not audited")
    assert mismatches == []
    assert checked >= len(ROLES) * 5


def test_own_account_routes_need_a_session_and_nothing_else(
    walk: tuple[AuthHarness, dict[Role, tuple[str, str]]],
) -> None:
    h, sessions = walk
    mismatches = []
    for route in declared_routes(h.app):
        if not route.is_api or route.rules[0].kind != "authenticated":
            continue
        for method in sorted(route.methods):
            _as(h, None)
            if (status := _call(h, route, method, None)) != 401:
                mismatches.append(f"{method} {route.path} without a session: {status}")
            if method != "GET":
                continue  # unsafe own-account calls (sign-out…) are exercised in the unit tests
            for role, (cookie, csrf) in sessions.items():
                _as(h, cookie)
                if (status := _call(h, route, method, csrf)) in {401, 403}:
                    mismatches.append(f"{method} {route.path} as {role}: {status}")
    assert mismatches == []


def test_public_and_node_routes_never_serve_a_browser_session_more_than_anyone(
    walk: tuple[AuthHarness, dict[Role, tuple[str, str]]],
) -> None:
    h, _ = walk
    _as(h, None)
    for route in declared_routes(h.app):
        if not route.is_api:
            continue
        kind = route.rules[0].kind
        for method in route.methods:
            status = _call(h, route, method, None)
            if kind == "public":
                assert status not in {401, 403}, (method, route.path, status)
            elif kind == "node":
                # No client certificate in this client: a node route must refuse.
                assert status in {401, 403}, (method, route.path, status)
