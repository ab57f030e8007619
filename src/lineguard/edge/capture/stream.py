"""OpenCV ``VideoCapture`` sources: video files, RTSP / HTTP-MJPEG streams, USB cameras.

Network streams and USB cameras come and go: when a read fails the source goes to
``reconnecting`` and tries again after an exponential backoff (0.5 s doubling up to the
configured cap), reporting its state and last error all the while; ``read()`` never
blocks longer than one attempt. A video file ends (or loops) instead.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import cv2
import numpy as np

from lineguard.config.edge import RtspSource, UsbSource, VideoFileSource
from lineguard.contracts.errors import ImageDecodeError, InputError
from lineguard.contracts.types import CapturedFrame, SourceState
from lineguard.edge.capture.base import BaseSource, Pacer

__all__ = ["StreamFrameSource", "VideoFileFrameSource"]

log = logging.getLogger(__name__)

_OPEN_TIMEOUT_MS = 5000
_READ_TIMEOUT_MS = 5000


def _redact_url(url: str) -> str:
    """Drop credentials from a stream URL before it reaches a log line."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


class StreamFrameSource(BaseSource):
    """RTSP / MJPEG URL or USB device index, reconnecting with backoff."""

    initial_backoff_s = 0.5

    def __init__(self, camera_id: str, config: RtspSource | UsbSource) -> None:
        super().__init__(camera_id)
        self.config = config
        self.reconnect_max_s = config.reconnect_max_s if isinstance(config, RtspSource) else 10.0
        self._cap: Any = None
        self._backoff = self.initial_backoff_s
        self._retry_at = 0.0
        self.reconnects = 0

    @property
    def target(self) -> str:
        if isinstance(self.config, RtspSource):
            return _redact_url(self.config.url)
        return f"usb:{self.config.device_index}"

    def _connect(self) -> bool:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            _OPEN_TIMEOUT_MS,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            _READ_TIMEOUT_MS,
        ]
        if isinstance(self.config, RtspSource):
            cap = cv2.VideoCapture(self.config.url, cv2.CAP_FFMPEG, params)
        else:
            cap = cv2.VideoCapture(self.config.device_index, cv2.CAP_ANY, params)
            if self.config.width and self.config.height:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.width)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.height)
        if not cap.isOpened():
            cap.release()
            return False
        self._cap = cap
        return True

    def _schedule_retry(self, reason: str) -> None:
        self._state = SourceState.RECONNECTING
        self.last_error = reason
        self._retry_at = time.monotonic() + self._backoff
        log.warning(
            "camera %s (%s): %s; retrying in %.1fs", self.camera_id, self.target, reason, self._backoff
        )
        self._backoff = min(self._backoff * 2, self.reconnect_max_s)
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def open(self) -> None:
        self._state = SourceState.CONNECTING
        if not self._connect():
            self._schedule_retry("cannot open stream")

    def read(self) -> CapturedFrame | None:
        if self._state is SourceState.ENDED:
            return None
        if self._cap is None:
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, 0.1))
                return None
            self.reconnects += 1
            if not self._connect():
                self._schedule_retry("cannot open stream")
                return None
        ok, image = self._cap.read()
        if not ok or image is None:
            self._schedule_retry("stream stopped delivering frames")
            return None
        self._state = SourceState.STREAMING
        self._backoff = self.initial_backoff_s
        self.last_error = None
        return self._frame(np.ascontiguousarray(image))

    def close(self) -> None:
        self._state = SourceState.ENDED
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class VideoFileFrameSource(BaseSource):
    """A recorded video, paced to ``fps`` if given, looping if asked."""

    def __init__(self, camera_id: str, config: VideoFileSource) -> None:
        super().__init__(camera_id)
        self.config = config
        self._cap: Any = None
        self._pacer = Pacer(config.fps)

    def open(self) -> None:
        if not self.config.path.is_file():
            self._state = SourceState.FAILED
            self.last_error = "file not found"
            msg = f"camera {self.camera_id}: video file {self.config.path} does not exist"
            raise InputError(msg)
        self._cap = cv2.VideoCapture(str(self.config.path))
        if not self._cap.isOpened():
            self._state = SourceState.FAILED
            self.last_error = "not a decodable video"
            msg = f"camera {self.camera_id}: {self.config.path} is not a decodable video"
            raise ImageDecodeError(msg)
        self._state = SourceState.STREAMING

    def read(self) -> CapturedFrame | None:
        if self._state is not SourceState.STREAMING or not self._pacer.wait():
            return None
        ok, image = self._cap.read()
        if not ok and self.config.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
        if not ok or image is None:
            self._state = SourceState.ENDED
            return None
        return self._frame(np.ascontiguousarray(image))

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
        self._state = SourceState.ENDED
