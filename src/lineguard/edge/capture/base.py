"""What every frame source shares: identity, state, frame numbering, pacing."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from lineguard.contracts.types import CapturedFrame, Frame, SourceState

__all__ = ["BaseSource", "Pacer"]


class Pacer:
    """Releases frames no faster than ``fps`` (``None``: as fast as they come)."""

    def __init__(self, fps: float | None) -> None:
        self.period_s = 1.0 / fps if fps else 0.0
        self._next = 0.0

    def wait(self, max_wait_s: float = 0.05) -> bool:
        """Sleep until the next frame is due (at most ``max_wait_s``); ``True`` when it is."""
        if not self.period_s:
            return True
        now = time.monotonic()
        if self._next == 0.0:
            self._next = now
        delay = self._next - now
        if delay > max_wait_s:
            time.sleep(max_wait_s)
            return False
        if delay > 0:
            time.sleep(delay)
        # Fall behind by at most one period: a stalled consumer does not cause a burst.
        self._next = max(self._next + self.period_s, time.monotonic() - self.period_s)
        return True


class BaseSource:
    """Holds ``camera_id``, ``state`` and the per-run frame counter."""

    def __init__(self, camera_id: str) -> None:
        self._camera_id = camera_id
        self._state = SourceState.CONNECTING
        self._next_frame_id = 0
        #: Why the source is failing or reconnecting, for status and logs.
        self.last_error: str | None = None

    @property
    def camera_id(self) -> str:
        return self._camera_id

    @property
    def state(self) -> SourceState:
        return self._state

    def _frame(self, image: Frame, part_id: str | None = None) -> CapturedFrame:
        frame = CapturedFrame(
            camera_id=self._camera_id,
            frame_id=self._next_frame_id,
            captured_at=datetime.now(UTC),
            image=image,
            part_id=part_id,
        )
        self._next_frame_id += 1
        return frame
