"""Ends the renewal grace of node certificates whose renewed successor never came back.

After a renewal the previous certificate stays accepted until the renewed one is first
presented or ``pki.renewal_grace_hours`` pass (``renewal.py``). Authentication refuses
it from the end of its grace by itself; this loop (every :data:`SWEEP_INTERVAL_S`, in
each process, rows locked and skipped when another process holds them) marks it revoked
and audits ``node.certificate_superseded`` (``grace_ended``), so the log says when a node
went dark mid-renewal and ``lineguard ca retire`` stops counting the certificate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lineguard.server.background import background_task
from lineguard.server.context import ServerContext
from lineguard.server.nodes.renewal import retire_lapsed_certificates

__all__ = ["SWEEP_INTERVAL_S", "lifespan", "sweep_once"]

log = logging.getLogger(__name__)

#: A grace is hours long; a minute late in writing its end down changes nothing.
SWEEP_INTERVAL_S = 60.0


def sweep_once(context: ServerContext) -> int:
    """One sweep (blocking): how many certificates' grace it ended."""
    with context.sessions() as session:
        ended = retire_lapsed_certificates(session, audit=context.audit)
    if ended:
        log.warning("%d node certificate(s) superseded: their renewed certificate was never presented", ended)
    return ended


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    context: ServerContext = app.state.lineguard

    async def loop() -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                await asyncio.to_thread(sweep_once, context)
            except Exception:  # the database unavailable now: the next sweep tries again
                log.exception("ending lapsed node certificate graces failed")

    async with background_task(loop(), name="node-certificate-grace"):
        yield
