"""``lineguard user``: accounts and roles from the server host.

The CLI works on the server's database directly (run it on the server host, as the
service account). It is how the first IT administrator comes to exist, and the
break-glass path when nobody can sign in: every command is written to the audit log as
``cli:<os user>``. Passwords are never typed on the command line: new accounts and
resets get a generated one-time password, printed once, that must be changed at the
first sign-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lineguard.cli.options import SERVER_CONFIG, cli_actor
from lineguard.contracts.errors import ConflictError, InputError, NotFoundError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lineguard.server.auth import AuthRuntime
    from lineguard.server.context import AuditHook

__all__ = ["user"]


@dataclass
class _Cli:
    session: Session
    runtime: AuthRuntime
    audit: AuditHook
    actor: str


@contextmanager
def _open(config_path: Path) -> Iterator[_Cli]:
    from lineguard.config import load_config
    from lineguard.config.server import ServerConfig
    from lineguard.server.auth import AuthRuntime
    from lineguard.server.protection import default_audit
    from lineguard.server.storage import opened_storage

    settings = load_config(config_path)
    if not isinstance(settings, ServerConfig):
        msg = f"{config_path} is an {settings.kind} config: expected the server's server.yaml"
        raise InputError(msg)
    with opened_storage(settings) as sessions, sessions() as session:
        runtime = AuthRuntime.build(settings.site_id, settings.auth)
        yield _Cli(session, runtime, default_audit(settings), cli_actor("user"))


def _find(cli: _Cli, username: str) -> Any:
    from lineguard.server.auth import user_by_name

    found = user_by_name(cli.session, username)
    if found is None:
        msg = f"no user named {username!r}: see `lineguard user list`"
        raise NotFoundError(msg)
    return found


def _until(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        msg = f"--until {value!r}: expected an ISO date or time such as 2027-01-31 or 2027-01-31T18:00Z"
        raise InputError(msg) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _lines(value: str | None) -> list[str] | None:
    return None if value is None else [part.strip() for part in value.split(",") if part.strip()]


def _print_password(username: str, password: str) -> None:
    click.echo(f"one-time password for {username}: {password}")
    click.echo(
        "  shown once; the user must change it at the first sign-in (and enroll MFA if their role needs it)"
    )


@click.group()
def user() -> None:
    """Manage user accounts and their roles on the plant server.

    \b
    Example:
      lineguard user create-admin a.admin --name "Alex Admin" --config server.yaml
    """


@user.command("create-admin")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="The person's full name.")
@SERVER_CONFIG
def create_admin(username: str, display_name: str, config_path: Path) -> None:
    """Create the first IT administrator, with a one-time password.

    Refused once an IT administrator exists: further accounts are created by an
    administrator (web or `lineguard user add`).

    \b
    Example:
      lineguard user create-admin a.admin --name "Alex Admin" --config server.yaml
    """
    from sqlalchemy import select

    from lineguard.server.auth import Role, RoleGrant, create_user, grant_role

    with _open(config_path) as cli:
        existing = cli.session.scalars(
            select(RoleGrant).where(
                RoleGrant.role == Role.IT_ADMINISTRATOR.value, RoleGrant.revoked_at.is_(None)
            )
        ).first()
        if existing is not None:
            msg = "an IT administrator exists already: use `lineguard user add ... --role it_administrator`"
            raise ConflictError(msg)
        account, password = create_user(
            cli.session,
            runtime=cli.runtime,
            username=username,
            display_name=display_name,
            by=cli.actor,
            audit=cli.audit,
        )
        grant_role(
            cli.session,
            runtime=cli.runtime,
            grantee=account,
            role=Role.IT_ADMINISTRATOR,
            by=None,
            by_label=cli.actor,
            audit=cli.audit,
        )
        cli.session.commit()
        click.echo(f"created IT administrator {account.username}")
        _print_password(account.username, password)


@user.command("add")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="The person's full name.")
@click.option("--role", "roles", multiple=True, help="Role to grant (repeatable).")
@click.option("--lines", default=None, help="Comma-separated lines the roles apply to (default: whole site).")
@click.option("--until", default=None, help="When the roles end (ISO date/time, UTC if no zone).")
@SERVER_CONFIG
def add(
    username: str,
    display_name: str,
    roles: tuple[str, ...],
    lines: str | None,
    until: str | None,
    config_path: Path,
) -> None:
    """Create an account for one person, optionally with roles.

    \b
    Example:
      lineguard user add j.doe --name "Jo Doe" --role quality_engineer --config server.yaml
      lineguard user add v.partner --name "Vic Vendor" --role external_partner \\
          --lines line-3 --until 2027-01-31 --config server.yaml
    """
    from lineguard.server.auth import Role, create_user, grant_role

    parsed_roles = [_role(r) for r in roles]
    with _open(config_path) as cli:
        account, password = create_user(
            cli.session,
            runtime=cli.runtime,
            username=username,
            display_name=display_name,
            by=cli.actor,
            audit=cli.audit,
        )
        for role in parsed_roles:
            grant_role(
                cli.session,
                runtime=cli.runtime,
                grantee=account,
                role=Role(role),
                lines=_lines(lines),
                until=_until(until),
                by=None,
                by_label=cli.actor,
                audit=cli.audit,
            )
        cli.session.commit()
        click.echo(
            f"created {account.username}" + (f" with {', '.join(parsed_roles)}" if parsed_roles else "")
        )
        _print_password(account.username, password)


def _role(value: str) -> str:
    from lineguard.server.auth import Role

    try:
        return Role(value).value
    except ValueError:
        msg = f"unknown role {value!r}: expected one of {', '.join(r.value for r in Role)}"
        raise InputError(msg) from None


@user.command("grant")
@click.argument("username")
@click.argument("role")
@click.option("--lines", default=None, help="Comma-separated lines (default: whole site).")
@click.option("--until", default=None, help="When the role ends (ISO date/time, UTC if no zone).")
@SERVER_CONFIG
def grant(username: str, role: str, lines: str | None, until: str | None, config_path: Path) -> None:
    """Grant ROLE to USERNAME (separation-of-duties rules apply).

    \b
    Example:
      lineguard user grant j.doe production_supervisor --lines line-1,line-2 --config server.yaml
    """
    from lineguard.server.auth import Role, describe, grant_role

    with _open(config_path) as cli:
        row = grant_role(
            cli.session,
            runtime=cli.runtime,
            grantee=_find(cli, username),
            role=Role(_role(role)),
            lines=_lines(lines),
            until=_until(until),
            by=None,
            by_label=cli.actor,
            audit=cli.audit,
        )
        cli.session.commit()
        click.echo(f"granted {row.role} to {username} on {describe(row)} (grant {row.id})")


@user.command("revoke")
@click.argument("grant_id")
@SERVER_CONFIG
def revoke(grant_id: str, config_path: Path) -> None:
    """Revoke one role grant (ids are shown by `lineguard user list`).

    \b
    Example:
      lineguard user revoke grt_0193c1d2e3f4... --config server.yaml
    """
    from lineguard.server.auth import revoke_role

    with _open(config_path) as cli:
        row = revoke_role(
            cli.session, runtime=cli.runtime, grant_id=grant_id, by=None, by_label=cli.actor, audit=cli.audit
        )
        cli.session.commit()
        click.echo(f"revoked {row.role} ({grant_id})")


@user.command("disable")
@click.argument("username")
@SERVER_CONFIG
def disable(username: str, config_path: Path) -> None:
    """Disable an account: its sessions end and its API tokens stop working at once.

    \b
    Example:
      lineguard user disable j.doe --config server.yaml
    """
    from lineguard.server.auth import disable_user

    with _open(config_path) as cli:
        disable_user(
            cli.session, runtime=cli.runtime, user=_find(cli, username), by=cli.actor, audit=cli.audit
        )
        cli.session.commit()
        click.echo(f"disabled {username}")


@user.command("unlock")
@click.argument("username")
@SERVER_CONFIG
def unlock(username: str, config_path: Path) -> None:
    """Clear an account's sign-in locks from every source address (audited).

    \b
    Example:
      lineguard user unlock j.doe --config server.yaml
    """
    from lineguard.server.auth import unlock_account

    with _open(config_path) as cli:
        cleared = unlock_account(cli.session, user=_find(cli, username), by=cli.actor, audit=cli.audit)
        cli.session.commit()
        click.echo(f"unlocked {username} ({cleared} source address(es) cleared)")


@user.command("reset-mfa")
@click.argument("username")
@SERVER_CONFIG
def reset_mfa(username: str, config_path: Path) -> None:
    """Remove a user's authenticator (lost phone); they enroll again at the next sign-in.

    \b
    Example:
      lineguard user reset-mfa j.doe --config server.yaml
    """
    from lineguard.server.auth import reset_mfa as reset

    with _open(config_path) as cli:
        reset(cli.session, runtime=cli.runtime, user=_find(cli, username), by=cli.actor, audit=cli.audit)
        cli.session.commit()
        click.echo(f"multi-factor authentication of {username} reset; their sessions ended")


@user.command("reset-password")
@click.argument("username")
@SERVER_CONFIG
def reset_password(username: str, config_path: Path) -> None:
    """Give a user a new one-time password (forgotten password); their sessions end.

    \b
    Example:
      lineguard user reset-password j.doe --config server.yaml
    """
    from lineguard.server.auth import reset_password as reset

    with _open(config_path) as cli:
        password = reset(
            cli.session, runtime=cli.runtime, user=_find(cli, username), by=cli.actor, audit=cli.audit
        )
        cli.session.commit()
        _print_password(username, password)


@user.command("list")
@SERVER_CONFIG
def list_users(config_path: Path) -> None:
    """List accounts with their state and active role grants.

    \b
    Example:
      lineguard user list --config server.yaml
    """
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import select

    from lineguard.server.auth import User, account_key, describe, grant_rows, locked_until

    table = Table("user", "name", "state", "MFA", "roles (grant id: scope)")
    with _open(config_path) as cli:
        now = cli.runtime.now()
        for account in cli.session.scalars(select(User).order_by(User.username)):
            state = (
                "disabled"
                if account.disabled
                else "must change password"
                if account.must_change_password
                else "ok"
            )
            lock = locked_until(cli.session, account=account_key(account.username), now=now)
            if lock is not None:
                state = f"locked until {lock:%Y-%m-%d %H:%M}Z (from some source)"
            roles = "\n".join(
                f"{g.role} ({g.id}: {describe(g)})"
                for g in grant_rows(cli.session, user_id=account.id, now=now)
            )
            table.add_row(
                account.username, account.display_name, state, "yes" if account.mfa_enabled else "no", roles
            )
    Console(width=200).print(table)
