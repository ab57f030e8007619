"""OpenCV ``VideoCapture`` sources: video files, RTSP / HTTP-MJPEG streams, USB cameras.

Network streams and USB cameras come and go: when a read fails the source goes to
``reconnecting`` and tries again after an exponential backoff (0.5 s doubling up to the
configured cap), reporting its state and last error all the while; ``read()`` never
blocks much longer than the camera's ``timeout_s``. A camera that stops sending without
closing the connection (frozen, unplugged switch) is noticed after one ``timeout_s``: a
read that took that long returns FFmpeg's stale leftover, so it counts as a stall. When
an RTSP camera cannot be opened, :func:`diagnose_rtsp` asks it why (refused, 404, 401,
transport not offered) and the answer becomes ``last_error``. A video file ends (or
loops) instead. A camera's password comes from ``credentials`` (an environment variable
or a file), is filled into the URL only for FFmpeg and the probe, and never reaches a
log line (:func:`redact_url`).

FFmpeg takes the RTSP transport only from the process-wide ``OPENCV_FFMPEG_CAPTURE_OPTIONS``
environment variable, which OpenCV reads when a capture opens; :func:`open_ffmpeg` sets
it under a lock, so opens of different cameras take turns (a camera that never answers
holds the others back by at most its ``timeout_s``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from typing import Any

import cv2
import numpy as np

from lineguard.config.edge import RtspSource, UsbSource, VideoFileSource
from lineguard.contracts.errors import ImageDecodeError, InputError, SecretError
from lineguard.contracts.types import CapturedFrame, SourceState
from lineguard.edge.capture.base import BaseSource, Pacer
from lineguard.edge.capture.rtsp_probe import diagnose_rtsp
from lineguard.edge.capture.stream_url import redact_url, with_credentials

__all__ = ["StreamFrameSource", "VideoFileFrameSource", "open_ffmpeg"]

log = logging.getLogger(__name__)

_USB_TIMEOUT_S = 5.0
_FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_ffmpeg_options_lock = threading.Lock()
#: A read that blocked this share of ``timeout_s`` ended in FFmpeg's read timeout.
_STALL_SHARE = 0.9


def open_ffmpeg(url: str, options: str | None, params: list[int]) -> Any:
    """``cv2.VideoCapture(url)`` on FFmpeg with ``options`` (``key;value|key;value``)."""
    with _ffmpeg_options_lock:
        previous = os.environ.get(_FFMPEG_OPTIONS_ENV)
        if options is None:
            os.environ.pop(_FFMPEG_OPTIONS_ENV, None)
        else:
            os.environ[_FFMPEG_OPTIONS_ENV] = options
        try:
            return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
        finally:
            if previous is None:
                os.environ.pop(_FFMPEG_OPTIONS_ENV, None)
            else:
                os.environ[_FFMPEG_OPTIONS_ENV] = previous


class StreamFrameSource(BaseSource):
    """RTSP / MJPEG URL or USB device index, reconnecting with backoff.

    ``retry_delays_s`` and ``transitions`` keep the recent backoff waits and state changes
    (with their reasons), for status and tests.
    """

    initial_backoff_s = 0.5
    history_size = 64

    def __init__(self, camera_id: str, config: RtspSource | UsbSource) -> None:
        super().__init__(camera_id)
        self.config = config
        self.reconnect_max_s = config.reconnect_max_s if isinstance(config, RtspSource) else 10.0
        self.timeout_s = config.timeout_s if isinstance(config, RtspSource) else _USB_TIMEOUT_S
        self._cap: Any = None
        #: The URL FFmpeg opens, credentials filled in at ``open()``: never logged.
        self._url = config.url if isinstance(config, RtspSource) else ""
        self._backoff = self.initial_backoff_s
        self._retry_at = 0.0
        self.reconnects = 0
        self.retry_delays_s: deque[float] = deque(maxlen=self.history_size)
        self.transitions: deque[tuple[SourceState, str | None]] = deque(maxlen=self.history_size)

    @property
    def target(self) -> str:
        if isinstance(self.config, RtspSource):
            return redact_url(self.config.url)
        return f"usb:{self.config.device_index}"

    def _set_state(self, state: SourceState, reason: str | None = None) -> None:
        if state is not self._state or reason != self.last_error:
            self.transitions.append((state, reason))
        self._state = state
        self.last_error = reason

    def _params(self) -> list[int]:
        timeout_ms = round(self.timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
        if isinstance(self.config, RtspSource) and self.config.decoder_threads:
            params += [cv2.CAP_PROP_N_THREADS, self.config.decoder_threads]
        return params

    def _connect(self) -> bool:
        if isinstance(self.config, RtspSource):
            url = self._url
            options = f"rtsp_transport;{self.config.transport}" if url.startswith("rtsp") else None
            cap = open_ffmpeg(url, options, self._params())
        else:
            cap = cv2.VideoCapture(self.config.device_index, cv2.CAP_ANY, self._params())
            if self.config.width and self.config.height:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.width)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.height)
        if not cap.isOpened():
            cap.release()
            return False
        self._cap = cap
        return True

    def _open_failure(self) -> str:
        """Why the last connect failed; for RTSP, asked of the camera itself."""
        if isinstance(self.config, RtspSource) and self.config.url.startswith("rtsp"):
            reason = diagnose_rtsp(self._url, transport=self.config.transport, timeout_s=self.timeout_s)
            return f"cannot open stream: {reason}"
        return "cannot open stream"

    def _schedule_retry(self, reason: str) -> None:
        self._set_state(SourceState.RECONNECTING, reason)
        self._retry_at = time.monotonic() + self._backoff
        self.retry_delays_s.append(self._backoff)
        log.warning(
            "camera %s (%s): %s; retrying in %.1fs", self.camera_id, self.target, reason, self._backoff
        )
        self._backoff = min(self._backoff * 2, self.reconnect_max_s)
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _resolve_credentials(self) -> None:
        """Fill the configured user and password (from its env var or file) into the URL."""
        if not isinstance(self.config, RtspSource) or self.config.credentials is None:
            return
        credentials = self.config.credentials
        try:
            password = credentials.password.resolve().get_secret_value()
        except SecretError as exc:
            self._set_state(SourceState.FAILED, f"camera password: {exc}")
            msg = f"camera {self.camera_id}: camera password: {exc}"
            raise InputError(msg) from None
        self._url = with_credentials(self.config.url, credentials.username, password)

    def open(self) -> None:
        self._resolve_credentials()
        self._set_state(SourceState.CONNECTING)
        if not self._connect():
            self._schedule_retry(self._open_failure())

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
                self._schedule_retry(self._open_failure())
                return None
        started = time.monotonic()
        ok, image = self._cap.read()
        if time.monotonic() - started >= self.timeout_s * _STALL_SHARE:
            self._schedule_retry(f"no frame for {self.timeout_s:g}s: the camera stalled")
            return None
        if not ok or image is None:
            self._schedule_retry("stream stopped delivering frames")
            return None
        if self._state is not SourceState.STREAMING:
            log.info("camera %s (%s): streaming", self.camera_id, self.target)
        self._set_state(SourceState.STREAMING)
        self._backoff = self.initial_backoff_s
        return self._frame(np.ascontiguousarray(image))

    def close(self) -> None:
        self._set_state(SourceState.ENDED)
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
