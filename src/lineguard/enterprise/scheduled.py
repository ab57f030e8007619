"""``serve``'s signed checkpoints: every ``audit_checkpoint_interval_s`` and once at shutdown.

The roll-up opens its audit key when it starts and refuses to start without it (its log
is signed or it does not run). Each round is the plant's ``create_checkpoint`` over the
roll-up's tables (:func:`.audit.checkpoint`): the span since the last checkpoint is
re-walked and compared with what this process wrote (a ``ChainWitness`` on its session
factory) before anything is signed; a span that disagrees is never signed and is logged
as tampering at every try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.enterprise import EnterpriseServiceConfig
from lineguard.contracts.errors import AuditChainError
from lineguard.enterprise.audit import checkpoint, open_rollup_audit_key
from lineguard.server.audit import AuditKey, ChainWitness

__all__ = ["checkpoint_now", "lifespan"]

log = logging.getLogger(__name__)


def checkpoint_now(sessions: sessionmaker[Session], signer: AuditKey) -> int | None:
    """One checkpoint in its own transaction; its seq, or None if nothing is new."""
    with sessions.begin() as session:
        return checkpoint(session, signer)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    config: EnterpriseServiceConfig = app.state.enterprise_config
    sessions: sessionmaker[Session] = app.state.enterprise_sessions
    signer = await asyncio.to_thread(open_rollup_audit_key, config)
    ChainWitness().attach(sessions)
    app.state.enterprise_audit_key = signer
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=config.audit_checkpoint_interval_s)
            try:
                await asyncio.to_thread(checkpoint_now, sessions, signer)
            except AuditChainError as exc:
                finding = exc.message
                log.error("ROLL-UP AUDIT LOG TAMPERED since the last checkpoint; nothing signed: %s", finding)  # noqa: TRY400
            except Exception:
                log.exception("roll-up audit checkpoint failed; will retry")

    task = asyncio.create_task(loop(), name="enterprise-audit-checkpoints")
    try:
        yield
    finally:
        stop.set()
        await task
