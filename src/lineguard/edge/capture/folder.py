"""Image-folder source: watches a directory and yields each new file once, oldest first.

Used where a line's existing vision system drops images into a share, and for replaying
recorded parts. A file still being written is skipped until its size stops changing;
a corrupt or truncated file raises :class:`~lineguard.contracts.errors.ImageDecodeError`
naming it (the capture worker counts it and moves on), and is never read again.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from lineguard.config.edge import FolderSource
from lineguard.contracts.errors import InputError
from lineguard.contracts.types import CapturedFrame, SourceState
from lineguard.edge.capture.base import BaseSource
from lineguard.vision.preprocess import read_image

__all__ = ["FolderFrameSource"]

_PART_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


class FolderFrameSource(BaseSource):
    def __init__(self, camera_id: str, config: FolderSource) -> None:
        super().__init__(camera_id)
        self.config = config
        self._seen: set[str] = set()
        self._pending: list[Path] = []
        self._sizes: dict[str, int] = {}
        self._next_scan = 0.0

    def open(self) -> None:
        if not self.config.path.is_dir():
            self._state = SourceState.FAILED
            self.last_error = f"{self.config.path} is not a directory"
            msg = f"camera {self.camera_id}: watched folder {self.config.path} does not exist"
            raise InputError(msg)
        self._state = SourceState.STREAMING

    def _scan(self) -> None:
        now = time.monotonic()
        if now < self._next_scan:
            return
        self._next_scan = now + self.config.poll_interval_ms / 1000
        try:
            found = sorted(
                self.config.path.glob(self.config.pattern), key=lambda p: (p.stat().st_mtime, p.name)
            )
        except OSError as exc:  # the share went away: report, keep watching
            self._state = SourceState.RECONNECTING
            self.last_error = str(exc)
            return
        if not self.config.path.is_dir():
            self._state = SourceState.RECONNECTING
            self.last_error = f"{self.config.path} vanished"
            return
        self._state = SourceState.STREAMING
        for path in found:
            key = str(path)
            if key in self._seen or not path.is_file():
                continue
            size = path.stat().st_size
            if self._sizes.get(key) != size:  # still growing (or new): look again next scan
                self._sizes[key] = size
                continue
            self._seen.add(key)
            self._sizes.pop(key, None)
            self._pending.append(path)

    def read(self) -> CapturedFrame | None:
        if self._state in (SourceState.ENDED, SourceState.FAILED):
            return None
        if not self._pending:
            self._scan()
            if not self._pending:
                time.sleep(min(0.02, self.config.poll_interval_ms / 1000))
                return None
        path = self._pending.pop(0)
        image = read_image(path)  # raises ImageDecodeError naming the file
        return self._frame(image, part_id=path.stem[:128] if _safe_id(path.stem) else None)

    def close(self) -> None:
        self._state = SourceState.ENDED


def _safe_id(stem: str) -> bool:
    """A file name usable as a part id on the wire (else the event carries none)."""
    return _PART_ID.fullmatch(stem) is not None
