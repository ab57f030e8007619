"""``lineguard user``: the first administrator, accounts and roles from the server host."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from lineguard.cli.main import cli
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.auth.models import RoleGrant, User
from lineguard.server.storage import create_engine_for, session_factory
from tests.support.server_yaml import write_server_yaml


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    return write_server_yaml(tmp_path, db_url)


def run(*args: str, config: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(config)])
    return result.exit_code, result.output


def test_first_admin_gets_a_one_time_password_and_only_once(config: Path, db_url: str) -> None:
    code, out = run("user", "create-admin", "a.admin", "--name", "Alex Admin", config=config)
    assert code == 0, out
    password = re.search(r"one-time password for a.admin: (\S+)", out)
    assert password and len(password.group(1)) >= 16
    code, out = run("user", "create-admin", "b.admin", "--name", "Bo Admin", config=config)
    assert code == 2
    assert "exists already" in out and "Traceback" not in out
    engine = create_engine_for(db_url)
    with session_factory(engine)() as session:
        admin = session.scalars(select(User).where(User.username == "a.admin")).one()
        assert admin.must_change_password and admin.password_hash.startswith("$argon2id$")
        assert password.group(1) not in admin.password_hash
        assert session.scalars(select(RoleGrant.role).where(RoleGrant.user_id == admin.id)).all() == [
            "it_administrator"
        ]
        names = session.scalars(select(AuditEntryRow.name)).all()
        assert "user.created" in names and "user.role_granted" in names
    engine.dispose()


def test_add_grant_list_disable(config: Path) -> None:
    code, out = run("user", "add", "j.doe", "--name", "Jo Doe", "--role", "quality_engineer", config=config)
    assert code == 0, out
    code, out = run(
        "user", "add", "v.vendor", "--name", "Vic", "--role", "external_partner", "--lines", "line-3",
        "--until", "2099-01-01", config=config,
    )  # fmt: skip
    assert code == 2 and "time-boxed" in out  # more than 90 days away
    code, out = run("user", "grant", "j.doe", "it_administrator", config=config)
    assert code == 2 and "separation of duties" in out
    code, out = run("user", "grant", "j.doe", "wizard", config=config)
    assert code == 2 and "unknown role 'wizard'" in out
    code, out = run("user", "list", config=config)
    assert code == 0 and "j.doe" in out and "quality_engineer" in out and "must change password" in out
    assert run("user", "reset-mfa", "j.doe", config=config)[0] == 0
    assert "one-time password for j.doe" in run("user", "reset-password", "j.doe", config=config)[1]
    assert run("user", "disable", "j.doe", config=config)[0] == 0
    assert "disabled" in run("user", "list", config=config)[1]
    code, out = run("user", "disable", "nobody", config=config)
    assert code == 2 and "no user named 'nobody'" in out


def test_shared_account_names_are_refused(config: Path) -> None:
    code, out = run("user", "add", "operator", "--name", "Night shift", config=config)
    assert code == 2
    assert "shared account" in out
