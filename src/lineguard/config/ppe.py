"""Configuration of PPE counting (``edge.yaml``: ``ppe_cameras[].ppe``): zones, items, the minimum count.

PPE counting is **off by default**: a PPE camera does nothing until ``enabled: true``, and
enabling it needs a written ``legal_basis`` (it is processing of employees' data even as
counts; the governance documents quote it). The classifier behind it was trained and
measured on generated people only (docs/inspection.md, docs/benchmarks.md).

A zone is a rectangle of the frame in full-frame pixels; a person belongs to the zone their
feet (the bottom centre of their box) stand in. **Privacy wins**: a zone that overlaps any of
the camera's privacy zones is refused here, naming both (those pixels are blacked out at
capture and nobody in them may be looked at, counted or not); at run time a person whose box
touches a privacy zone is not counted at all (:mod:`lineguard.edge.ppe`). A zone that reaches
outside the frame is refused when the first frame shows the frame's size.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lineguard.contracts.events import Name
from lineguard.contracts.ppe import MIN_COUNT_FLOOR, PPE_ITEMS

__all__ = ["PpeSettings", "PpeZone", "overlap_area", "privacy_conflicts"]

#: Shortest legal basis accepted (a sentence, not a placeholder).
MIN_LEGAL_BASIS_CHARS = 20


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PpeZone(_Section):
    """A rectangle of the frame where the listed items are required."""

    name: Name = Field(title="Zone name", description="Shown on the dashboard; unique per camera.")
    x: int = Field(ge=0, le=100_000, description="Left edge, full-frame pixels.")
    y: int = Field(ge=0, le=100_000, description="Top edge, full-frame pixels.")
    width: int = Field(gt=0, le=100_000)
    height: int = Field(gt=0, le=100_000)
    required: list[str] = Field(
        default_factory=lambda: list(PPE_ITEMS),
        min_length=1,
        max_length=len(PPE_ITEMS),
        title="Required items",
        description=f"PPE items required in the zone; known: {', '.join(PPE_ITEMS)}.",
    )

    @field_validator("required")
    @classmethod
    def _known_items(cls, items: list[str]) -> list[str]:
        unknown = [i for i in items if i not in PPE_ITEMS]
        if unknown:
            msg = (
                f"unknown PPE item(s) {', '.join(repr(i) for i in unknown)}: the node's classifier "
                f"knows only {', '.join(PPE_ITEMS)}"
            )
            raise ValueError(msg)
        if len(set(items)) != len(items):
            msg = f"required items repeat: {items}"
            raise ValueError(msg)
        return items

    @property
    def rect(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1), end exclusive."""
        return self.x, self.y, self.x + self.width, self.y + self.height


class PpeSettings(_Section):
    enabled: bool = Field(
        default=False,
        title="Count PPE",
        description="Off by default: the classifier is measured on generated people only "
        "(docs/inspection.md).",
    )
    legal_basis: str = Field(
        default="",
        max_length=500,
        title="Legal basis",
        description="Why this counting is lawful here (e.g. GDPR Art. 6(1)(f) and the works agreement); "
        "required when enabled, quoted in the record of processing and the worker notice.",
    )
    zones: list[PpeZone] = Field(min_length=1, max_length=16)
    min_count: int = Field(
        default=5,
        ge=MIN_COUNT_FLOOR,
        le=1000,
        title="Minimum count",
        description="Counts from 1 to this minus 1 are never sent (suppressed), nor an hour with "
        "fewer people.",
    )
    sample_interval_s: float = Field(
        default=5.0, ge=0.2, le=600, description="One frame is looked at every this many seconds."
    )
    person_score: float = Field(
        default=0.5, gt=0, lt=1, description="Person detector score to count someone."
    )
    send_open_hour_at_stop: bool = Field(
        default=False,
        title="Send the open hour at stop",
        description="Send the hour's counts so far when the node stops. Off: the open hour is saved on "
        "the node and sent once, whole, when it is over, so a restart does not split it (a small part "
        "after a restart, suppressed alone, hides the whole hour on the server). For a demo that stops "
        "before the hour is over.",
    )
    min_person_height_px: int = Field(
        default=80,
        ge=40,
        le=4000,
        description="Smaller people are not judged nor counted (the classifier was measured from 70 px up).",
    )

    @model_validator(mode="after")
    def _check(self) -> PpeSettings:
        names = [z.name for z in self.zones]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            msg = f"PPE zone names must be unique per camera, repeated: {', '.join(dupes)}"
            raise ValueError(msg)
        if self.enabled and len(self.legal_basis.strip()) < MIN_LEGAL_BASIS_CHARS:
            msg = (
                f"enabled PPE counting needs a legal_basis of at least {MIN_LEGAL_BASIS_CHARS} characters "
                "(the governance documents quote it)"
            )
            raise ValueError(msg)
        return self


Point = tuple[float, float]


def _clip_half_plane(poly: list[Point], axis: int, bound: float, *, keep_low: bool) -> list[Point]:
    """The part of ``poly`` on one side of the line ``p[axis] == bound`` (one Sutherland–Hodgman pass)."""

    def inside(p: Point) -> bool:
        return p[axis] <= bound if keep_low else p[axis] >= bound

    def cut(p: Point, q: Point) -> Point:
        t = (bound - p[axis]) / (q[axis] - p[axis])
        return (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]))

    out: list[Point] = []
    for i, cur in enumerate(poly):
        prev = poly[i - 1]
        if inside(cur):
            if not inside(prev):
                out.append(cut(prev, cur))
            out.append(cur)
        elif inside(prev):
            out.append(cut(prev, cur))
    return out


def overlap_area(rect: tuple[int, int, int, int], points: Sequence[tuple[int, int]]) -> float:
    """Area (px²) shared by a rectangle (x0, y0, x1, y1) and a simple polygon."""
    poly = [(float(x), float(y)) for x, y in points]
    x0, y0, x1, y1 = (float(v) for v in rect)
    for axis, bound, keep_low in ((0, x0, False), (0, x1, True), (1, y0, False), (1, y1, True)):
        poly = _clip_half_plane(poly, axis, bound, keep_low=keep_low) if poly else poly
    area = 0.0
    for i, (x, y) in enumerate(poly):
        nx, ny = poly[(i + 1) % len(poly)]
        area += x * ny - nx * y
    return abs(area) / 2.0


def privacy_conflicts(
    zones: Sequence[PpeZone], privacy: Sequence[tuple[str, Sequence[tuple[int, int]]]]
) -> list[str]:
    """One message per (PPE zone, privacy zone) pair that share pixels."""
    problems = []
    for zone in zones:
        for name, points in privacy:
            area = overlap_area(zone.rect, points)
            if area > 0:
                problems.append(
                    f"PPE zone {zone.name!r} overlaps privacy zone {name!r} by {area:.0f} px²: "
                    "privacy wins — "
                    "move the PPE zone off the privacy zone (nobody in a privacy zone is looked at)"
                )
    return problems
