"""Where thermal frames come from: a folder of TIFF/PNG16 files (multi-page TIFF too), or a stream hook.

:class:`ThermalFolderReader` reads a folder in name order. A frame's time comes from its
name when it carries one (``…20261205T061500Z…``, UTC) and otherwise from the first
frame's time plus ``frame_period_s`` per frame. A file that is not a radiometric frame
(wrong bit depth, colour, corrupt) is *rejected*: kept in :attr:`rejected` with the reason,
never turned into temperatures, and the reader goes on; ``strict=True`` raises instead.

:class:`ThermalStream` is the hook for GigE Vision / USB thermal cameras: anything that
yields raw 16-bit frames with their capture time. No vendor SDK ships here, so no
implementation does either; the monitor takes any iterable of :class:`ThermalFrame`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from lineguard.config.thermal import ThermalFolderSource
from lineguard.contracts.errors import ImageDecodeError, InputError
from lineguard.edge.thermal.frames import ThermalFrame, to_celsius

__all__ = ["ThermalFolderReader", "ThermalStream"]

_STAMP = re.compile(r"(\d{8}T\d{6})Z?")


class ThermalStream(Protocol):
    """A live thermal camera: raw single-channel 16-bit frames and their capture time (UTC)."""

    def frames(self) -> Iterator[tuple[np.ndarray[Any, Any], dt.datetime]]: ...


def _stamp(name: str) -> dt.datetime | None:
    match = _STAMP.search(name)
    if match is None:
        return None
    return dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)


class ThermalFolderReader:
    """Frames of a folder, oldest name first, in °C."""

    def __init__(self, config: ThermalFolderSource, *, start_at: dt.datetime, strict: bool = False) -> None:
        if not config.path.is_dir():
            msg = f"thermal folder {config.path} does not exist"
            raise InputError(msg)
        self.config = config
        self.start_at = start_at
        self.strict = strict
        #: (file name, reason) of every file that was not a usable frame.
        self.rejected: list[tuple[str, str]] = []
        self._polled: str | None = None  # the last file name :meth:`poll` read
        self._index = 0

    def _pages(self, path: Path) -> list[np.ndarray[Any, Any]]:
        if path.suffix.lower() in {".tif", ".tiff"}:
            ok, pages = cv2.imreadmulti(str(path), flags=cv2.IMREAD_UNCHANGED)
            if ok and pages:
                return list(pages)
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is None:
            msg = f"{path.name}: not a readable image (corrupt, truncated or not TIFF/PNG)"
            raise ImageDecodeError(msg)
        return [raw]

    def _frames_of(self, path: Path, index: int) -> list[ThermalFrame]:
        """The frames of one file (``[]`` when rejected); ``index`` numbers unstamped frames."""
        period = dt.timedelta(seconds=self.config.frame_period_s)
        try:
            pages = [to_celsius(p, self.config.calibration, name=path.name) for p in self._pages(path)]
        except InputError as exc:
            if self.strict:
                raise
            self.rejected.append((path.name, exc.message))
            return []
        stamped = _stamp(path.name)
        return [
            ThermalFrame(
                celsius, stamped + n * period if stamped else self.start_at + (index + n) * period, path.name
            )
            for n, celsius in enumerate(pages)
        ]

    def __iter__(self) -> Iterator[ThermalFrame]:
        index = 0
        for path in sorted(self.config.path.glob(self.config.pattern)):
            frames = self._frames_of(path, index)
            index += max(len(frames), 1)
            yield from frames

    def poll(self, max_files: int) -> list[ThermalFrame]:
        """Frames of up to ``max_files`` files whose names sort after the last file polled.

        For a folder the camera keeps writing into: files must be named so that name order is
        time order (a timestamp in the name does it); a file named earlier than one already
        read is never read. A vanished folder raises :class:`InputError`."""
        if not self.config.path.is_dir():
            msg = f"thermal folder {self.config.path} does not exist"
            raise InputError(msg)
        paths = sorted(
            p
            for p in self.config.path.glob(self.config.pattern)
            if self._polled is None or p.name > self._polled
        )[:max_files]
        frames: list[ThermalFrame] = []
        for path in paths:
            read = self._frames_of(path, self._index)
            self._index += max(len(read), 1)
            self._polled = path.name
            frames += read
        return frames
