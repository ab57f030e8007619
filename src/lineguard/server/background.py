"""One background task for the app's lifetime: the shape every domain's ``scheduled.lifespan`` shares.

The task starts when the server starts and is cancelled, and awaited, when it stops, so
no domain leaves a loop running past shutdown or swallows more than its cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any

__all__ = ["background_task"]


@contextlib.asynccontextmanager
async def background_task(loop: Coroutine[Any, Any, None], *, name: str) -> AsyncIterator[None]:
    """Run ``loop`` while the ``async with`` body runs; cancel and await it on the way out."""
    task = asyncio.create_task(loop, name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
