"""Waiting for something another thread or process does (a broker delivering, a loop settling)."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["until"]


def until(
    condition: Callable[[], bool], timeout_s: float = 60, *, what: str = "condition", every_s: float = 0.05
) -> None:
    """Poll ``condition`` every ``every_s``; AssertionError naming ``what`` if false after ``timeout_s``.

    ``every_s`` longer than the default where one check is itself costly (TLS handshakes).
    The deadline is a wait, not a timing assertion: 60 s, since at load ~30 (CI beside other
    work) a process can stand still for seconds at a time (docs/testing.md).
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            msg = f"not within {timeout_s:.0f} s: {what}"
            raise AssertionError(msg)
        time.sleep(every_s)
