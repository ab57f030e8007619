"""A person's first sign-in without a browser: own password and an authenticator.

What someone does in the dashboard the first time (change the one-time password,
enroll TOTP), done through the same service functions, for CLI tests whose steps
authenticate the person (four-eyes registry steps).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pyotp

from lineguard.config import load_server_config
from lineguard.server.auth import AuthRuntime
from lineguard.server.auth.accounts import change_password, user_by_name
from lineguard.server.auth.login import enroll_without_browser
from lineguard.server.keystore import open_storage
from lineguard.server.protection import default_audit, default_sealer

__all__ = ["first_sign_in"]


def first_sign_in(config: Path, username: str, one_time_password: str) -> tuple[str, str]:
    """Set ``username``'s own password and authenticator; return (password, TOTP secret)."""
    settings = load_server_config(config)
    engine, sessions = open_storage(settings)
    password = f"own {secrets.token_urlsafe(12)} passphrase"
    try:
        with sessions() as session:
            runtime, audit = AuthRuntime.build(settings.site_id, settings.auth), default_audit(settings)
            user = user_by_name(session, username)
            assert user is not None, username
            change_password(
                session, runtime=runtime, user=user, current=one_time_password, new=password, audit=audit
            )
            session.commit()
            secret = enroll_without_browser(
                session,
                runtime=runtime,
                user=user,
                sealer=default_sealer(settings, sessions),
                code_of=lambda s: pyotp.TOTP(s).now(),
                audit=audit,
            )
    finally:
        engine.dispose()
    return password, secret
