"""Waiting for something another thread or process does (a broker delivering, a loop settling)."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["until"]


def until(condition: Callable[[], bool], timeout_s: float = 15) -> None:
    """Poll ``condition`` every 50 ms; AssertionError when it is still false after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
