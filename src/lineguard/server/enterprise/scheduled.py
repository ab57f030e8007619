"""The roll-up loop for the app's lifetime (found by ``create_app``): one leader sends.

Off unless ``enterprise.enabled``. Where it is on, the sender is built at start, so a
roll-up URL missing from the egress allowlist stops the start with a config error naming
both. Every ``interval_s`` the process leading :data:`ROLLUP_DUTY` runs one round in a
worker thread; the others only check whether they should take over. A failing round is
logged and the loop goes on: the plant never waits on its roll-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lineguard.server.background import background_task
from lineguard.server.context import ServerContext
from lineguard.server.enterprise.sender import RollupSender
from lineguard.server.storage import Leadership

__all__ = ["ROLLUP_DUTY", "lifespan", "rollup_loop", "sender_of"]

#: Two replicas recounting and sending at once would race on the queue's revisions.
ROLLUP_DUTY = "enterprise-rollup"

log = logging.getLogger(__name__)


def sender_of(context: ServerContext) -> RollupSender:
    settings = context.settings
    return RollupSender(
        config=settings.enterprise,
        plant_id=settings.enterprise.plant_id or settings.site_id,
        site_id=settings.site_id,
        sessions=context.sessions,
        audit=context.audit,
        gate=context.egress,
    )


async def rollup_loop(sender: RollupSender, leadership: Leadership | None) -> None:
    while True:
        try:
            if leadership is None or await asyncio.to_thread(leadership.holds, ROLLUP_DUTY):
                await asyncio.to_thread(sender.run_once)
        except Exception:
            log.exception("enterprise roll-up round failed; will retry")
        await asyncio.sleep(sender.config.interval_s)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    context: ServerContext = app.state.lineguard
    if not context.settings.enterprise.enabled:
        yield
        return
    sender = sender_of(context)
    async with background_task(rollup_loop(sender, context.leadership), name="enterprise-rollup"):
        yield
