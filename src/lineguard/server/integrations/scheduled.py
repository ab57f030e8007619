"""The delivery loop for the app's lifetime (found by ``create_app``).

Every ``integrations.delivery.poll_interval_s`` — or at once when a work order was
queued (``state.wake``) — one :meth:`Dispatcher.run_once` runs in a worker thread, and
again straight away while rounds keep finding work. A failing round is logged and the
loop goes on; shutdown cancels it between rounds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lineguard.server.background import background_task
from lineguard.server.integrations.state import IntegrationsState

__all__ = ["delivery_loop", "lifespan"]

log = logging.getLogger(__name__)


async def delivery_loop(state: IntegrationsState) -> None:
    interval = state.config.delivery.poll_interval_s
    while True:
        try:
            report = await asyncio.to_thread(state.dispatcher.run_once)
        except Exception:
            log.exception("CMMS delivery round failed; will retry")
            report = None
        if report is not None and report.settled:
            continue
        await asyncio.to_thread(state.wake.wait, interval)
        state.wake.clear()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: IntegrationsState = app.state.lineguard.integrations
    if not state.connectors:
        yield
        return
    async with background_task(delivery_loop(state), name="cmms-delivery"):
        try:
            yield
        finally:
            state.wake.set()  # let a round waiting in its thread finish now, not at its next tick
