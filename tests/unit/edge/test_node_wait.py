"""``EdgeNode.wait`` lets SIGTERM stop the node even when the kernel hands the signal to another
thread (an inference library's): Python runs the handler in the main thread only when that
thread runs, so the wait wakes at least once a second. Reproduced before the fix with a PPE
camera's person detector under ``strace -f``: the node ignored SIGTERM until killed, and the
open hour's PPE counts were lost."""

from __future__ import annotations

import signal
import threading
from types import SimpleNamespace

from lineguard.edge.app import EdgeNode


def test_a_signal_handed_to_another_thread_still_ends_the_wait() -> None:
    stop, idle = threading.Event(), threading.Event()
    previous = signal.signal(signal.SIGUSR1, lambda _signum, _frame: stop.set())
    other = threading.Thread(target=idle.wait, daemon=True)
    other.start()
    assert other.ident is not None
    try:
        threading.Timer(0.2, signal.pthread_kill, (other.ident, signal.SIGUSR1)).start()
        # An endless wait would never return (the suite's timeout would fail this test).
        EdgeNode.wait(SimpleNamespace(stop_event=stop))  # type: ignore[arg-type]
        assert stop.is_set()
    finally:
        idle.set()
        signal.signal(signal.SIGUSR1, previous)


def test_the_wait_ends_at_its_timeout_when_nothing_stops_the_node() -> None:
    stop = threading.Event()
    EdgeNode.wait(SimpleNamespace(stop_event=stop), 0.05)  # type: ignore[arg-type]
    assert not stop.is_set()
