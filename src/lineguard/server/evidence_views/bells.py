"""Node long polls waiting in this process, and the bell that wakes them from any thread.

Both relays use it: the in-memory one rings when a view is opened here; the shared one
also rings when a PostgreSQL notification says a view was opened in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # relay.py builds on this module
    from lineguard.server.evidence_views.relay import View

__all__ = ["NodeBells"]


class NodeBells:
    """Per node, the long polls waiting now; :meth:`ring` is safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    def ring(self, node_id: str) -> None:
        with self._lock:
            waiting = list(self._waiting.get(node_id, ()))
        for loop, bell in waiting:
            with contextlib.suppress(RuntimeError):  # that loop closed meanwhile
                loop.call_soon_threadsafe(bell.set)

    async def wait(
        self,
        node_id: str,
        wait_s: float,
        look: Callable[[], Awaitable[list[View]]],
        *,
        recheck_s: float | None = None,
    ) -> list[View]:
        """``look()`` until it finds something or ``wait_s`` passes; woken by :meth:`ring`
        (and, with ``recheck_s``, at least that often)."""
        loop = asyncio.get_running_loop()
        bell = asyncio.Event()
        waiter = (loop, bell)
        deadline = loop.time() + max(wait_s, 0.0)
        with self._lock:  # registered before the first look, so no ring is missed
            self._waiting.setdefault(node_id, set()).add(waiter)
        try:
            while True:
                bell.clear()
                found = await look()
                remaining = deadline - loop.time()
                if found or remaining <= 0:
                    return found
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        bell.wait(), remaining if recheck_s is None else min(remaining, recheck_s)
                    )
        finally:
            with self._lock:
                waiting = self._waiting.get(node_id)
                if waiting is not None:
                    waiting.discard(waiter)
                    if not waiting:
                        del self._waiting[node_id]
