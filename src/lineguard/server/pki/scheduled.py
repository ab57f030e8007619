"""Follow ``lineguard ca rotate`` / ``retire`` while running, and keep the server certificate current.

Every :data:`CHECK_INTERVAL_S` each process looks at ``data_dir/ca/``: its
:class:`~.live.LiveCa` (which issues node and replica certificates and answers with the
trust bundle) is re-read when the files changed, and through its subscribers the internal
relay's TLS contexts follow. The same look asks :class:`~.server_cert.ServerCertificateKeeper`
whether the server's own TLS certificate is due (expiring, or of a CA just retired); if
so the process re-issues it under the issuing locks, where the first process of the
whole set does it and the others find it current (``server_cert.py``). The HTTPS listener
of every process then serves the new pair from its next handshake (``server/tls/reload.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lineguard.contracts.audit import ServerCertificateRenewed
from lineguard.contracts.errors import ConfigError
from lineguard.server.background import background_task
from lineguard.server.context import ServerContext
from lineguard.server.pki.live import CHECK_INTERVAL_S
from lineguard.server.pki.role import ISSUER_ENV
from lineguard.server.pki.server_cert import (
    ServerCertificateKeeper,
    database_issue_lock,
    renew_server_certificate,
)

__all__ = ["SYSTEM_ACTOR", "check_issuer_setup", "keep_server_certificate", "lifespan"]

log = logging.getLogger(__name__)

#: Who the audit log names for what the server's PKI loop does by itself.
SYSTEM_ACTOR = "system:pki"


def keep_server_certificate(
    context: ServerContext, keeper: ServerCertificateKeeper
) -> ServerCertificateRenewed | None:
    """One look (blocking): re-issue the server certificate if due, audit it; the event, or None.

    Issuers only: a non-issuer process cannot sign, and follows the pair an issuer writes.
    A renewal whose audit failed (a database blip after the new pair was written) is
    audited at the next look, before anything else: that look finds the pair current, so
    without :attr:`~.server_cert.ServerCertificateKeeper.unaudited` it would never be.
    """
    if keeper.unaudited is not None:
        _audit_renewal(context, keeper.unaudited)
        keeper.unaudited = None
    if not context.ca.issuer or not context.ca.built:
        return None  # the CA is opened on first use (its passphrase may be unset): nothing to issue with
    if keeper.due(context.ca.get()) is None:
        return None
    settings = context.settings
    event = renew_server_certificate(
        settings.data_dir,
        settings.pki.ca_passphrase.resolve(),
        context.ca.current,
        names=list(settings.pki.server_names),
        database_lock=database_issue_lock(context.engine),
    )
    if event is not None:
        keeper.unaudited = event
        _audit_renewal(context, event)
        keeper.unaudited = None
    return event


def _audit_renewal(context: ServerContext, event: ServerCertificateRenewed) -> None:
    with context.sessions() as session:
        context.audit(session, event, actor=SYSTEM_ACTOR)
        session.commit()


def check_issuer_setup(context: ServerContext) -> None:
    """A non-issuer needs an issuer to sign for it, reached over the relay: PostgreSQL only.

    On SQLite (one host, one relay-less process set) nothing could ever sign its nodes'
    certificates, so it refuses to start (:class:`ConfigError`) instead of answering every
    enrollment with "try again".
    """
    if context.ca.issuer or context.engine.dialect.name == "postgresql":
        return
    msg = (
        f"{ISSUER_ENV}=false needs a CA issuer replica to sign for this one, which needs PostgreSQL "
        f"(database.url) and several replicas; on {context.engine.dialect.name} this server must be "
        f"the issuer: unset {ISSUER_ENV} and give it the CA passphrase"
    )
    raise ConfigError(msg)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    context: ServerContext = app.state.lineguard
    check_issuer_setup(context)
    keeper = ServerCertificateKeeper(context.settings.data_dir, list(context.settings.pki.server_names))

    async def follow() -> None:
        failing = False  # a failure said once, not every look, until a look succeeds again
        while True:
            await asyncio.sleep(CHECK_INTERVAL_S)
            try:
                await asyncio.to_thread(context.ca.refresh)
            except Exception:  # a file system hiccup: the next look tries again
                log.exception("looking for a plant CA change failed")
            try:
                await asyncio.to_thread(keep_server_certificate, context, keeper)
                failing = False
            except Exception:  # the database or the CA key unavailable now: the next look tries again
                if not failing:
                    log.exception("keeping the server TLS certificate current failed; looking again")
                failing = True

    async with background_task(follow(), name="pki-follow-ca"):
        yield
