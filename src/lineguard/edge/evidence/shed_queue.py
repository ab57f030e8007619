"""The evidence queue: when evidence must be shed, passing samples go first.

Evidence waits here between the inspection path (which must never block) and the
redaction writer (which may fall behind under load). The queue is bounded by item count
and by bytes; when a new item does not fit, it evicts by priority:

1. the oldest queued **pass** sample (an audit sample; the next one will do),
2. then the oldest **uncertain** part,
3. a **fail** only when the queue holds nothing else — the evidence of a failed part is
   what a reviewer needs, and losing it is counted apart from everything else.

An arrival of lower priority than everything queued is itself the one dropped (a pass
sample never pushes out a failed part). ``get`` serves fails first, then uncertain
parts, then passes, oldest first within each. Every drop is counted per category, so
the node's status shows what was lost, not just how much.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from lineguard.contracts.events import Verdict

__all__ = ["PRIORITY", "ShedQueue"]

T = TypeVar("T")

#: Served first, shed last.
PRIORITY: tuple[Verdict, ...] = (Verdict.FAIL, Verdict.UNCERTAIN, Verdict.PASS)


class ShedQueue(Generic[T]):
    """Bounded, never blocking ``put``; sheds by :data:`PRIORITY` (lowest first, oldest first)."""

    def __init__(self, maxsize: int, max_bytes: int, size_of: Callable[[T], int]) -> None:
        if maxsize < 1 or max_bytes < 1:
            msg = f"queue bounds must be >= 1, got {maxsize} items and {max_bytes} bytes"
            raise ValueError(msg)
        self.maxsize, self.max_bytes, self._size_of = maxsize, max_bytes, size_of
        self._items: dict[Verdict, deque[T]] = {v: deque() for v in PRIORITY}
        self._bytes = 0
        self._cond = threading.Condition()
        #: Items shed, per verdict category.
        self.dropped_by: dict[Verdict, int] = dict.fromkeys(PRIORITY, 0)

    @property
    def dropped(self) -> int:
        with self._cond:
            return sum(self.dropped_by.values())

    def put(self, item: T, category: Verdict) -> list[T]:
        """Queue ``item``; return what was shed to make room (possibly ``item`` itself)."""
        size = self._size_of(item)
        shed: list[T] = []
        with self._cond:
            while self._count() and (self._count() + 1 > self.maxsize or self._bytes + size > self.max_bytes):
                lowest = next(v for v in reversed(PRIORITY) if self._items[v])
                if PRIORITY.index(lowest) < PRIORITY.index(category):
                    # Everything queued matters more than the arrival: shed the arrival.
                    self.dropped_by[category] += 1
                    shed.append(item)
                    return shed
                old = self._items[lowest].popleft()
                self._bytes -= self._size_of(old)
                self.dropped_by[lowest] += 1
                shed.append(old)
            self._items[category].append(item)
            self._bytes += size
            self._cond.notify()
            return shed

    def get(self, timeout: float) -> T | None:
        """The most important, oldest item, waiting up to ``timeout`` seconds; ``None`` if none."""
        with self._cond:
            if not self._count():
                self._cond.wait(timeout)
            for verdict in PRIORITY:
                if self._items[verdict]:
                    item = self._items[verdict].popleft()
                    self._bytes -= self._size_of(item)
                    return item
            return None

    def _count(self) -> int:
        return sum(len(q) for q in self._items.values())

    def __len__(self) -> int:
        with self._cond:
            return self._count()

    @property
    def queued_bytes(self) -> int:
        with self._cond:
            return self._bytes
