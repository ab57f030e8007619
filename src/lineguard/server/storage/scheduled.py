"""The SQLite WAL checkpointer: runs for the server's lifetime (``create_app`` starts
every domain's ``scheduled.lifespan``).

A checkpoint copies the WAL back into the database file and fsyncs it. Left to
SQLite, it happens inside whichever commit crosses the threshold, and that request
pays for the fsync. Here a background thread checkpoints (PASSIVE: never waits for
readers or writers) every couple of seconds instead. PostgreSQL needs nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine, text

from lineguard.server.background import background_task

__all__ = ["CHECKPOINT_INTERVAL_S", "checkpoint", "lifespan"]

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S = 2.0


def checkpoint(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine: Engine = app.state.lineguard.engine
    if engine.dialect.name != "sqlite":
        yield
        return

    async def loop() -> None:
        while True:
            await asyncio.sleep(CHECKPOINT_INTERVAL_S)
            try:
                await asyncio.to_thread(checkpoint, engine)
            except Exception:  # a failed checkpoint is retried next time; the WAL stays valid
                log.exception("WAL checkpoint failed")

    try:
        async with background_task(loop(), name="sqlite-wal-checkpointer"):
            yield
    finally:
        await asyncio.to_thread(checkpoint, engine)
