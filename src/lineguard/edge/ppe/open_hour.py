"""The open hour's tallies on the node's disk, so that a restart continues the hour instead of splitting it.

Why: every message is suppressed on its own (counts from 1 to ``min_count - 1`` become
``None``). When a restart split an hour into two messages, a small second part was
suppressed, and the server, which must not add a known count to an unknown one, showed the
whole hour as suppressed. Sending the counts so far at the stop and "correcting" them later
is no way out: two reports of one hour, 40 then 42 sightings, tell a reader that 2 people
came after the restart, a count below ``min_count``. So an hour is sent **once, when it is
over**, and what was counted before a stop waits here:

* after every counted frame the camera's tallies (three kinds of integer per zone, the
  hour, and the ``counts_id`` each zone's message will carry) are written to
  ``<data_dir>/ppe/<camera_id>.open-hour.json`` (0600, atomic);
* at start the counter takes them up again: the same hour goes on counting; an hour that is
  over goes out at once;
* a file that is corrupt, edited, of another camera or of other zones is never merged
  (:class:`~lineguard.contracts.errors.IntegrityError` /
  :class:`~lineguard.contracts.errors.InputError`): it is set aside as
  ``….rejected-<time>.json`` (nothing lost, an alert says so) or, for changed zones, its hour
  is sent as it stands.

The file holds what the tally holds in memory, nothing more: no frame, no box, no time finer
than the hour. Its ``counts_id`` values make a re-send after a crash between "queued" and
"file updated" the same message, which the server stores once.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lineguard.contracts.errors import InputError
from lineguard.contracts.fields import Name, OpaqueId, UtcDatetime
from lineguard.contracts.ppe import PPE_ITEMS, PpeItemName
from lineguard.crypto import read_digested, write_digested

__all__ = ["OpenHour", "OpenHourFile", "ZoneCounts", "open_hour_path"]

_MAX_COUNT = 10_000_000


class ZoneCounts(BaseModel):
    """One zone's raw tallies of the open hour (never sent as they are)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    counts_id: OpaqueId
    frames: int = Field(ge=0, le=_MAX_COUNT)
    seen: int = Field(ge=0, le=_MAX_COUNT)
    lacking: dict[PpeItemName, int] = Field(min_length=1, max_length=len(PPE_ITEMS))

    @model_validator(mode="after")
    def _possible(self) -> ZoneCounts:
        unknown = sorted(set(self.lacking) - set(PPE_ITEMS))
        if unknown:
            msg = f"unknown PPE item(s) {unknown}"
            raise ValueError(msg)
        wrong = sorted(item for item, n in self.lacking.items() if not 0 <= n <= self.seen)
        if wrong:
            msg = f"lacking counts of {wrong} are negative or above seen {self.seen}"
            raise ValueError(msg)
        return self


class OpenHour(BaseModel):
    """The file's content: one camera's open hour."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    camera_id: Name
    hour_start: UtcDatetime
    zones: dict[Name, ZoneCounts] = Field(min_length=1, max_length=64)


def open_hour_path(data_dir: Path, camera_id: str) -> Path:
    return data_dir / "ppe" / f"{camera_id}.open-hour.json"


class OpenHourFile:
    """Read, write and set aside one camera's open-hour file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, hour: OpenHour | None) -> None:
        """Write ``hour`` (private, atomic), or remove the file when nothing is open.

        OSError when the disk refuses."""
        if hour is None:
            self.path.unlink(missing_ok=True)
            return
        write_digested(self.path, hour.model_dump(mode="json"))

    def load(self, camera_id: str) -> OpenHour | None:
        """The saved hour of ``camera_id`` (None: no file).

        IntegrityError when the file is not what was written (unreadable, no or a wrong
        digest); InputError when it is well formed but not this camera's open hour."""
        if not self.path.exists():
            return None
        body = read_digested(self.path, what="a PPE open hour", kind="PPE open-hour")
        try:
            hour = OpenHour.model_validate(body)
        except ValidationError as exc:
            msg = f"{self.path.name} is not a PPE open hour: {exc.errors()[0]['msg']}"
            raise InputError(msg) from exc
        if hour.camera_id != camera_id:
            msg = f"{self.path.name} holds the open hour of camera {hour.camera_id!r}, not {camera_id!r}"
            raise InputError(msg)
        t = hour.hour_start
        if (t.minute, t.second, t.microsecond) != (0, 0, 0):
            msg = f"{self.path.name}: hour_start {t.isoformat()} is not on the hour"
            raise InputError(msg)
        return hour

    def set_aside(self, now: dt.datetime) -> Path:
        """Move a file that cannot be taken up out of the way, kept for a person to look at."""
        kept = self.path.with_name(f"{self.path.stem}.rejected-{now.astimezone(dt.UTC):%Y%m%dT%H%M%S}.json")
        self.path.replace(kept)
        return kept
