"""PPE compliance as counts (schema version 1): what a walkway camera may report, and nothing more.

A PPE camera (``edge.yaml``: ``ppe_cameras``) finds people with the node's redaction
person detector, asks a small classifier whether each wears the items its zone requires
(:data:`PPE_ITEMS`), adds one to the zone's hourly tallies and forgets the person. When
the hour ends the node sends one :class:`PpeCounts` per zone: how many people were seen
and, per required item, how many lacked it.

What can never be in it (the fields do not exist): a frame, a crop, a box, a time finer
than the hour, a track, an id of a person, a per-person row.

**Small counts are suppressed** (k-anonymity style): a count from 1 to ``min_count - 1``
could single someone out on a quiet shift, so it is sent as ``None``. When fewer than
``min_count`` people were seen in the hour, every count of the row is ``None``
(``suppressed`` is true). Zero is sent as zero: "nobody lacked a helmet" names nobody.
The contract refuses a message that breaks these rules, so a node bug cannot leak a small
count; the server applies its own (possibly larger) minimum again before storing.

``people_seen`` counts **sightings**, not distinct people: no person is tracked, so one
person in view in five sampled frames counts five times. Shares (lacking / seen) are what
the numbers are good for.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from lineguard.contracts.fields import SCHEMA_VERSION, Name, OpaqueId, UtcDatetime, WireMessage

__all__ = ["MIN_COUNT_FLOOR", "PPE_ITEMS", "PpeCounts", "PpeItemCount", "PpeItemName", "suppress"]

#: The items the shipped classifier knows (edge/ppe). A zone requires a subset of them.
PPE_ITEMS: tuple[str, ...] = ("helmet", "hi_vis_vest")
#: No configuration may report counts of fewer than this many people.
MIN_COUNT_FLOOR = 3

PpeItemName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


def suppress(count: int | None, min_count: int) -> int | None:
    """``count`` when it is 0 or at least ``min_count``, else ``None`` (too few to show)."""
    if count is None or 0 < count < min_count:
        return None
    return count


class PpeItemCount(WireMessage):
    """How many of the hour's sightings lacked one required item (``None``: suppressed)."""

    item: PpeItemName
    lacking: int | None = Field(
        ge=0, le=10_000_000, description="Sightings without the item; None = suppressed."
    )


class PpeCounts(WireMessage):
    """One zone's PPE tallies for one hour at one camera."""

    schema_version: Literal[1] = SCHEMA_VERSION
    counts_id: OpaqueId
    idempotency_key: OpaqueId
    node_id: Name
    site_id: Name
    line_id: Name
    station_id: Name
    camera_id: Name
    zone: Name = Field(description="The PPE zone's name in edge.yaml.")
    hour_start: UtcDatetime = Field(description="Start of the hour the counts cover (on the hour, UTC).")
    sampled_frames: int = Field(ge=0, le=10_000_000, description="Frames looked at in the hour.")
    min_count: int = Field(ge=MIN_COUNT_FLOOR, le=1000, description="Counts below this were suppressed.")
    people_seen: int | None = Field(
        ge=0,
        le=10_000_000,
        description="Person sightings in the zone (not distinct people); None = suppressed.",
    )
    items: list[PpeItemCount] = Field(min_length=1, max_length=len(PPE_ITEMS))
    classifier: OpaqueId = Field(description="The PPE classifier that judged, by name and digest.")

    @property
    def suppressed(self) -> bool:
        return self.people_seen is None

    @model_validator(mode="after")
    def _only_safe_counts(self) -> PpeCounts:
        t = self.hour_start
        if (t.minute, t.second, t.microsecond) != (0, 0, 0):
            msg = f"hour_start {t.isoformat()} is not on the hour: PPE counts are hourly only"
            raise ValueError(msg)
        names = [i.item for i in self.items]
        if len(set(names)) != len(names):
            msg = f"items repeat: {names}"
            raise ValueError(msg)
        unknown = sorted(set(names) - set(PPE_ITEMS))
        if unknown:
            msg = f"unknown PPE item(s) {unknown}; known: {list(PPE_ITEMS)}"
            raise ValueError(msg)
        counts = {"people_seen": self.people_seen} | {f"lacking {i.item}": i.lacking for i in self.items}
        small = [f"{k}={v}" for k, v in counts.items() if v is not None and 0 < v < self.min_count]
        if small:
            msg = f"counts below min_count {self.min_count} must be suppressed (None): {', '.join(small)}"
            raise ValueError(msg)
        if self.people_seen is None:
            if any(i.lacking is not None for i in self.items):
                msg = "people_seen is suppressed, so every item count must be too"
                raise ValueError(msg)
        else:
            over = [i.item for i in self.items if i.lacking is not None and i.lacking > self.people_seen]
            if over:
                msg = f"more sightings lacked {over} than people_seen {self.people_seen}"
                raise ValueError(msg)
        return self
