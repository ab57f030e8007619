"""A value built on first use, exactly once, even when several requests ask at once.

Some of a server's state is expensive or needs a secret that not every deployment
configures (the plant CA is decrypted with its passphrase; the model registry opens
TUF keys under the keyring). ``create_app`` cannot build those eagerly, so it gives
them to the context as :class:`Once`: the first caller builds the value under a lock,
every later (or concurrent) caller gets the same object, and a failed build is not
remembered, so the next request tries again and sees the same typed error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Once"]

T = TypeVar("T")


class Once(Generic[T]):
    """``get()`` builds with ``build`` on first use; ``value`` pre-seeds it (tests, the CLI)."""

    def __init__(self, build: Callable[[], T], value: T | None = None) -> None:
        self._build = build
        self._value = value
        self._lock = threading.Lock()

    @classmethod
    def of(cls, value: T) -> Once[T]:
        """One that is already built: ``value``."""
        return cls(lambda: value, value)

    @property
    def built(self) -> bool:
        """Whether the value exists (built or pre-seeded) without building it."""
        return self._value is not None

    def get(self) -> T:
        value = self._value
        if value is not None:
            return value
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value
