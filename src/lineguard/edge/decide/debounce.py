"""One defective part raises one alert; a station that keeps failing asks for maintenance.

A part is usually seen in several consecutive frames. :class:`PartDebouncer` groups
frames into parts, by the source's part id when it has one (a conveyor encoder, a
barcode), otherwise as a run of non-pass frames with gaps of at most ``gap_frames``,
and answers "is this the first failing frame of this part?". Only that frame raises
an alert; every frame still produces its inspection event.

:class:`StationMonitor` keeps the last ``window`` part outcomes of a station; when
``min_failures`` of them failed it emits one work-order trigger, then stays quiet for
``cooldown_parts`` parts so a bad shift opens one ticket, not hundreds.
"""

from __future__ import annotations

from collections import deque

__all__ = ["PartDebouncer", "StationMonitor"]


class PartDebouncer:
    def __init__(self, gap_frames: int = 3) -> None:
        self.gap_frames = gap_frames
        self._alerted: deque[str] = deque(maxlen=256)
        self._last_fail_frame: int | None = None

    def first_failure(self, *, part_id: str | None, frame_id: int) -> bool:
        """Record a failing frame; ``True`` only for the first one of its part."""
        if part_id is not None:
            if part_id in self._alerted:
                return False
            self._alerted.append(part_id)
            return True
        last, self._last_fail_frame = self._last_fail_frame, frame_id
        return last is None or frame_id - last > self.gap_frames

    def current_part(self, *, part_id: str | None, frame_id: int) -> str:
        """A stable key for the part a frame shows (the part id, or the run's first frame)."""
        return part_id if part_id is not None else f"run-{self._last_fail_frame or frame_id}"


class StationMonitor:
    def __init__(self, *, window: int = 20, min_failures: int = 5, cooldown_parts: int = 50) -> None:
        self.window = window
        self.min_failures = min_failures
        self.cooldown_parts = cooldown_parts
        self._outcomes: deque[tuple[str, bool]] = deque(maxlen=window)
        self._quiet_for = 0

    def record(self, part_key: str, failed: bool) -> list[str] | None:
        """Record a part's outcome (a part seen again updates its entry).

        Returns the failing part keys when a work order is due, else ``None``.
        """
        for i, (key, was_failed) in enumerate(self._outcomes):
            if key == part_key:
                self._outcomes[i] = (key, was_failed or failed)
                break
        else:
            self._outcomes.append((part_key, failed))
            if self._quiet_for:
                self._quiet_for -= 1
        failures = [k for k, f in self._outcomes if f]
        if self._quiet_for == 0 and len(failures) >= self.min_failures:
            self._quiet_for = self.cooldown_parts
            return failures
        return None
