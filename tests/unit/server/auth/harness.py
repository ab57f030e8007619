"""A real server app on a real database, with people in it, for access-control tests.

``AuthHarness`` builds ``create_app`` on the ``db_url`` engine (SQLite or PostgreSQL),
speaks HTTPS to it through Starlette's TestClient (so ``Secure`` cookies flow), drives
a movable clock instead of sleeping, and records every audit event after checking it
against its typed contract in ``lineguard.contracts.audit``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from lineguard.config.server import AuthConfig, ServerConfig
from lineguard.contracts.audit import AuditEvent
from lineguard.server.app import create_app
from lineguard.server.auth import accounts, grants, totp
from lineguard.server.auth.catalog import Role
from lineguard.server.auth.dependencies import CSRF_HEADER, SESSION_COOKIE
from lineguard.server.auth.matrix import MATRIX_SITE, sample_grant
from lineguard.server.auth.runtime import AuthRuntime
from lineguard.server.context import ServerContext
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for
from tests.support.audit_calls import checked_audit_call

PASSWORD = "correct horse battery staple"
START = datetime(2026, 11, 23, 6, 0, 7, tzinfo=UTC)


class StrictAuditTrail:
    """The audit hook: every event must build its contract class and name a valid actor."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, session: Session, event: AuditEvent, /, *, actor: str) -> None:
        name, fields = checked_audit_call(event, actor)
        self.events.append((name, actor, fields))

    def names(self) -> list[str]:
        return [name for name, _, _ in self.events]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [fields for n, _, fields in self.events if n == name]


@dataclass
class FakeClock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Person:
    id: str
    username: str
    password: str
    secret: str | None
    roles: tuple[Role, ...] = ()


@dataclass
class AuthHarness:
    app: FastAPI
    client: TestClient
    trail: StrictAuditTrail
    clock: FakeClock
    csrf: dict[str, str] = field(default_factory=dict)

    @property
    def context(self) -> ServerContext:
        context = self.app.state.lineguard
        assert isinstance(context, ServerContext)
        return context

    @property
    def runtime(self) -> AuthRuntime:
        return self.context.auth

    def add_person(
        self,
        username: str,
        roles: Iterable[Role] = (),
        *,
        mfa: bool = True,
        lines: Iterable[str] | None = None,
        one_time: bool = False,
    ) -> Person:
        """A person with roles granted the matrix way (site-wide, or line-1 for partners)."""
        roles = tuple(roles)
        with self.context.sessions() as session:
            user, otp = accounts.create_user(
                session,
                runtime=self.runtime,
                username=username,
                display_name=username.title(),
                by="cli:test",
                audit=self.trail,
            )
            password = otp if one_time else PASSWORD
            if not one_time:
                user.password_hash = self.runtime.hasher.hash(PASSWORD)
                user.must_change_password = False
            secret = totp.new_secret() if mfa else None
            if secret is not None:
                user.totp_sealed = secret.encode()
            for role in roles:
                shape = sample_grant(role, now=self.clock.now, site=MATRIX_SITE)
                grants.grant_role(
                    session,
                    runtime=self.runtime,
                    grantee=user,
                    role=role,
                    lines=shape.lines if lines is None else lines,
                    until=shape.until,
                    by=None,
                    by_label="cli:test",
                    audit=self.trail,
                )
            session.commit()
            return Person(user.id, user.username, password, secret, roles)

    def code(self, person: Person) -> str:
        assert person.secret is not None
        return pyotp.TOTP(person.secret).at(self.clock.now)

    def login(self, person: Person, *, password: str | None = None) -> Any:
        return self.client.post(
            "/api/v1/auth/login", json={"username": person.username, "password": password or person.password}
        )

    def sign_in(self, person: Person) -> str:
        """Full sign-in (password, then a fresh code); return the CSRF token."""
        self.client.cookies.clear()
        self.clock.advance(seconds=31)  # a fresh TOTP step: codes are single-use
        response = self.login(person)
        assert response.status_code == 200, response.text
        body = response.json()
        if body["state"] == "mfa_pending":
            response = self.client.post(
                "/api/v1/auth/login/mfa",
                json={"code": self.code(person)},
                headers={CSRF_HEADER: body["csrf_token"]},
            )
            assert response.status_code == 200, response.text
            body = response.json()
        return str(body["csrf_token"])

    def session_cookie(self) -> str | None:
        return self.client.cookies.get(SESSION_COOKIE)


def harness_settings(data_dir: Path, **auth: Any) -> ServerConfig:
    cheap = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1, **auth}
    return ServerConfig(kind="server", site_id=MATRIX_SITE, data_dir=data_dir, auth=AuthConfig(**cheap))


@contextmanager
def running_harness(
    db_url: str, data_dir: Path, *, sections: dict[str, Any] | None = None, **auth: Any
) -> Iterator[AuthHarness]:
    """A running app; ``sections`` replaces whole config sections (``{"dashboard": DashboardConfig(…)}``)."""
    engine = create_engine_for(db_url)
    trail = StrictAuditTrail()
    clock = FakeClock()
    settings = harness_settings(data_dir, **auth).model_copy(update=sections or {})
    app = create_app(settings, engine=engine, sealer=NoEncryption(), audit=trail)
    try:
        with TestClient(app, base_url="https://testserver", raise_server_exceptions=True) as client:
            app.state.lineguard.auth.clock = clock
            yield AuthHarness(app=app, client=client, trail=trail, clock=clock)
    finally:
        engine.dispose()
