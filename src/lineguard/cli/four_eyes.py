"""The person behind a four-eyes step, authenticated at the terminal of the server host.

Registering or approving a model and signing off an access review are each one
person's own act: ``--as USERNAME`` only names them, and :func:`confirm_at_terminal`
asks for that person's password and a fresh authenticator code (from the terminal or
stdin, never the command line) and checks them with ``auth.confirm_person`` — the
sign-in's lockout, replay protection and auditing — so access to the host's service
account does not stand in for anyone (review finding 11).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from lineguard.config.server import ServerConfig
    from lineguard.server.auth import AuthRuntime
    from lineguard.server.context import AuditHook

__all__ = ["confirm_at_terminal"]


def confirm_at_terminal(
    *,
    settings: ServerConfig,
    session: Session,
    sessions: sessionmaker[Session],
    runtime: AuthRuntime,
    audit: AuditHook,
    username: str,
    purpose: str,
    via: str,
) -> None:
    """``username`` proves themself for ``purpose`` (password, then a fresh code); a typed
    ``AuthenticationError`` (counted and audited like a failed sign-in) otherwise."""
    from lineguard.server.auth import confirm_person
    from lineguard.server.protection import default_sealer

    password = click.prompt(f"password of {username}", hide_input=True, err=True)
    code = click.prompt(f"authenticator code of {username}", err=True)
    confirm_person(
        session,
        runtime=runtime,
        username=username,
        password=password,
        code=str(code).strip(),
        sealer=default_sealer(settings, sessions),
        purpose=purpose,
        via=via,
        audit=audit,
    )
