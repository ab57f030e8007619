"""One MQTT publisher per server, however many worker processes serve it.

Every worker process runs the app's lifespan; CMMS delivery is safe in all of them (rows
are leased), but two MQTT publishers with the same ``client_id`` would take the broker
session from each other in turn. The publisher therefore runs only in the process that
holds an exclusive ``flock`` on ``data_dir/mqtt-publisher.lock``; the others retry now
and then, so when that process dies (the kernel drops its lock) another one takes over.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["ProcessLeader"]


class ProcessLeader:
    def __init__(self, lock_file: Path) -> None:
        self._path = lock_file
        self._fd: int | None = None

    @property
    def leading(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if no other process (or other holder) has it; whether this one leads now."""
        if self._fd is not None:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
