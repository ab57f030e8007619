"""Waiting for something another thread or process does (a broker delivering, a loop settling)."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["until"]


def until(
    condition: Callable[[], bool], timeout_s: float = 15, *, what: str = "condition", every_s: float = 0.05
) -> None:
    """Poll ``condition`` every ``every_s``; AssertionError naming ``what`` if false after ``timeout_s``.

    ``every_s`` longer than the default where one check is itself costly (TLS handshakes).
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            msg = f"not within {timeout_s:.0f} s: {what}"
            raise AssertionError(msg)
        time.sleep(every_s)
