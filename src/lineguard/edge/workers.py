"""Workers with an explicit lifecycle and the queues between them.

Every long-running loop of the node is a :class:`Worker`: ``setup()`` once,
``step()`` repeatedly until the node's shared stop event is set, ``teardown()`` once,
each in its own thread. An exception in ``step()`` is logged and counted and the loop
carries on; one bad frame never stops a camera.

Between stages sits a :class:`LatestQueue`: bounded, and under overload the *freshest*
item wins. A full queue drops its oldest item and counts the drop, so a slow model sees
the line as it is now instead of falling ever further behind; nothing is dropped
silently. That suits a live camera, whose next frame shows the same part again.

Where every frame is a part of its own — image files dropped into a folder by the line's
vision system, a recorded video replayed, a camera that takes one image per trigger —
a dropped frame is a part never judged. Such cameras get a :class:`BackpressureQueue`:
just as bounded, but a full queue makes the producer wait instead of dropping, so the
source is read at the pace the inspection keeps (the folder's files wait on disk). Both
queues satisfy :class:`FrameQueue`.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Generic, Protocol, TypeVar

__all__ = ["BackpressureQueue", "FrameQueue", "LatestQueue", "Worker"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class FrameQueue(Protocol[T]):
    """What a capture worker puts frames into and an inspect worker takes them from."""

    #: Items dropped so far to make room (always 0 for a queue that never drops).
    dropped: int

    def put(self, item: T) -> T | None:
        """Queue ``item``; return an item that was not kept (dropped, or refused on stop)."""
        ...

    def get(self, timeout: float) -> T | None: ...

    def __len__(self) -> int: ...


class _BoundedFifo(Generic[T]):
    """What both queues share: a bounded deque under a condition, taken oldest first."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            msg = f"queue size must be >= 1, got {maxsize}"
            raise ValueError(msg)
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self.dropped = 0

    def get(self, timeout: float) -> T | None:
        """The oldest item, waiting up to ``timeout`` seconds; ``None`` when none came."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()  # a producer waiting for room (BackpressureQueue)
            return item

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class LatestQueue(_BoundedFifo[T]):
    """A bounded FIFO whose ``put`` never blocks: when full, the oldest item is dropped."""

    def put(self, item: T) -> T | None:
        """Add ``item``; return the item dropped to make room, if any."""
        with self._cond:
            dropped: T | None = None
            if len(self._items) >= self.maxsize:
                dropped = self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify_all()
            return dropped


class BackpressureQueue(_BoundedFifo[T]):
    """A bounded FIFO that never drops: ``put`` waits while it is full.

    The producer slows to the consumer's pace. ``put`` gives up only when ``stop`` is set
    (the node is shutting down): the item is then returned, not queued, and counted in
    :attr:`abandoned`. :attr:`waits` counts the puts that found the queue full.
    ``dropped`` stays 0, so the camera's statistics read the same for both queues.
    """

    #: How often a waiting ``put`` looks at the stop event.
    poll_s = 0.1

    def __init__(self, maxsize: int, stop: threading.Event) -> None:
        super().__init__(maxsize)
        self.stop = stop
        self.waits = 0
        self.abandoned = 0

    def put(self, item: T) -> T | None:
        """Add ``item``, waiting while the queue is full; ``item`` back if the node stopped first."""
        with self._cond:
            if len(self._items) >= self.maxsize:
                self.waits += 1
            while len(self._items) >= self.maxsize:
                if self.stop.is_set():
                    self.abandoned += 1
                    return item
                self._cond.wait(self.poll_s)
            self._items.append(item)
            self._cond.notify_all()
            return None


class Worker:
    """Base of every loop in the node: ``setup → step until stop → teardown``.

    Subclasses override :meth:`setup`, :meth:`step` and :meth:`teardown`. ``step`` must
    return within a fraction of a second (wait on queues with short timeouts) so that a
    stop request is honoured promptly.
    """

    #: Pause after a failing step, so a persistent fault does not spin a core.
    error_backoff_s = 0.2

    def __init__(self, name: str, stop: threading.Event) -> None:
        self.name = name
        self.stop_event = stop
        self.errors = 0
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None

    def setup(self) -> None:
        """Acquire resources; runs in the worker's thread before the loop."""

    def step(self) -> None:
        """One unit of work; called until the stop event is set."""
        raise NotImplementedError

    def teardown(self) -> None:
        """Release resources; runs in the worker's thread after the loop, even after errors."""

    def record_error(self, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"

    def run(self) -> None:
        """The lifecycle, in the calling thread (``start`` runs it in a new one)."""
        try:
            self.setup()
        except Exception as exc:
            self.record_error(exc)
            log.error("%s: setup failed, worker not running: %s", self.name, exc)  # noqa: TRY400
            return
        try:
            while not self.stop_event.is_set():
                try:
                    self.step()
                except Exception as exc:
                    self.record_error(exc)
                    log.exception("%s: step failed (%d so far); carrying on", self.name, self.errors)
                    self.stop_event.wait(self.error_backoff_s)
        finally:
            try:
                self.teardown()
            except Exception:
                log.exception("%s: teardown failed", self.name)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
