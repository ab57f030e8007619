"""Periodic signed checkpoints for the running server (found by ``create_app``).

Every ``Checkpoints.interval_s`` seconds (default 300; ``ServerContext.checkpoints``)
and once at shutdown, the current Merkle root is signed if entries
were added since the last checkpoint, after re-walking them and comparing them with
what this process wrote (``checkpoint.create_checkpoint``); a span that disagrees is
never signed and is logged as tampering at every try. A checkpoint bounds what an attacker with
database access could cut off the end of the log unnoticed to the entries since it.
Checkpoints need the audit key, sealed under the server keyring or on the HSM
(``keyring.audit_key``); a server without a keyring (a benchmark baseline) logs that it
makes none, while a server told to use the HSM refuses to start without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI

from lineguard.contracts.errors import AuditChainError, LineGuardError
from lineguard.crypto import Envelope, KekProvider
from lineguard.server.audit.checkpoint import create_checkpoint
from lineguard.server.audit.keys import open_audit_key
from lineguard.server.audit.signing import AuditKey
from lineguard.server.audit.throttle import THROTTLE_ACTOR, AuditThrottle
from lineguard.server.audit.witness import ChainWitness
from lineguard.server.context import ServerContext
from lineguard.server.keystore import open_keyring

__all__ = ["DEFAULT_CHECKPOINT_INTERVAL_S", "Checkpoints", "checkpoint_now", "flush_throttle", "lifespan"]

log = logging.getLogger(__name__)

DEFAULT_CHECKPOINT_INTERVAL_S = 300.0


@dataclass
class Checkpoints:
    """The audit domain's state in a running server (``ServerContext.checkpoints``)."""

    interval_s: float = DEFAULT_CHECKPOINT_INTERVAL_S
    #: The key that signs checkpoints, once the lifespan has loaded it (None: none made).
    signer: AuditKey | None = None
    #: What unauthenticated requests may write (``throttle.AuditThrottle``); flushed here.
    throttle: AuditThrottle = field(default_factory=AuditThrottle)


def flush_throttle(context: ServerContext, *, close: bool = False) -> int:
    """Write the ``audit.suppressed`` summaries of ended windows (``close``: this one too); how many."""
    summaries = context.checkpoints.throttle.summaries(close=close)
    if summaries:
        with context.sessions.begin() as session:
            for summary in summaries:
                context.audit(session, summary, actor=THROTTLE_ACTOR)
    return len(summaries)


def checkpoint_now(context: ServerContext, signer: AuditKey) -> int | None:
    """Sign a checkpoint over the current log in its own transaction; its seq, or None."""
    with context.sessions.begin() as session:
        row = create_checkpoint(session, signer, site_id=context.settings.site_id)
        return None if row is None else row.seq


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    context: ServerContext = app.state.lineguard
    sealer = context.sealer

    def keys() -> KekProvider:
        return sealer.keys if isinstance(sealer, Envelope) else open_keyring(context.settings)

    try:
        signer = await asyncio.to_thread(open_audit_key, context.settings, keys)
    except LineGuardError as exc:
        if context.settings.keyring.audit_key == "pkcs11":
            # The operator asked for the key on the HSM: refuse to start rather than run unsigned.
            raise
        log.warning("audit checkpoints are off: no keyring to hold the audit key (%s)", exc.message)
        yield
        return
    ChainWitness().attach(context.sessions)  # every append of this process, checked before signing
    interval = context.checkpoints.interval_s
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
            try:
                await asyncio.to_thread(flush_throttle, context, close=stop.is_set())
                await asyncio.to_thread(checkpoint_now, context, signer)
            except AuditChainError as exc:
                log.error("AUDIT CHAIN TAMPERED since the last checkpoint; nothing signed: %s", exc.message)  # noqa: TRY400 - the message is the finding, a traceback adds nothing
            except Exception:
                log.exception("audit checkpoint failed; will retry")

    task = asyncio.create_task(loop(), name="audit-checkpoints")
    context.checkpoints.signer = signer
    try:
        yield
    finally:
        stop.set()
        await task
