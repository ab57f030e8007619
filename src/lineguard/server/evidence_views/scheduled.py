"""The relay for the app's lifetime, and a sweep that drops images nobody fetched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lineguard.server.background import background_task
from lineguard.server.context import ServerContext

__all__ = ["PURGE_INTERVAL_S", "lifespan"]

PURGE_INTERVAL_S = 5.0


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    context: ServerContext = app.state.lineguard
    relay = context.evidence_views.relay

    async def purge() -> None:
        while True:
            await asyncio.sleep(PURGE_INTERVAL_S)
            relay.purge()

    try:
        async with background_task(purge(), name="evidence-views-purge"):
            yield
    finally:
        relay.purge()
