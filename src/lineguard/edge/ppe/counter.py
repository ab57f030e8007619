"""One PPE camera's counting: a privacy-masked frame and its people → the zone tallies.

For each person the detector finds (:class:`PersonFinder`, the redaction detector in the
node) the counter decides, in this order:

1. **too small** (under ``min_person_height_px``) → not judged, not counted;
2. **privacy** — the box touches one of the camera's privacy zones → not counted at all
   (privacy wins: nobody in or at a privacy zone is looked at, even if their feet stand in a
   PPE zone; config already refuses zones that overlap, this covers a person straddling the
   edge);
3. **zone** — the zone the feet (bottom centre of the box) stand in; none → not counted;
4. **items** — the classifier on the person's crop says which required items are missing;
   the zone's tally adds one sighting and one per missing item.

The crop, the box and the answer are dropped when the person is done; the counter keeps
only the tallies (:class:`~lineguard.edge.ppe.tally.HourlyTally`, saved after each frame by
:meth:`PpeCounter.save` and taken up again when the counter is built, see
:mod:`~lineguard.edge.ppe.open_hour`) and node-local diagnostics (how many were skipped
for each reason), which never leave the node.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from lineguard.config.edge import NodeConfig, PpeCameraConfig
from lineguard.contracts.errors import ConfigError, InputError, IntegrityError
from lineguard.contracts.ppe import PpeCounts
from lineguard.contracts.types import Frame
from lineguard.edge.ppe.classifier import PpeClassifier
from lineguard.edge.ppe.features import crop_person
from lineguard.edge.ppe.open_hour import OpenHourFile, open_hour_path
from lineguard.edge.ppe.tally import HourlyTally, hour_of

__all__ = ["PersonBox", "PersonFinder", "PpeCounter", "SkipCounts", "check_zones_fit"]


@dataclass(frozen=True, slots=True)
class PersonBox:
    """A person found in a frame: pixel box (x0, y0, x1, y1), end exclusive, and the detector's score."""

    x0: int
    y0: int
    x1: int
    y1: int
    score: float


class PersonFinder(Protocol):
    """Finds people in a frame (the node's redaction detector; a fake in tests)."""

    def people(self, image: Frame) -> list[PersonBox]: ...


@dataclass
class SkipCounts:
    """Node-local diagnostics: people found but not counted, by reason (never sent)."""

    low_score: int = 0
    too_small: int = 0
    privacy: int = 0
    outside_zones: int = 0
    counted: int = 0
    by_zone: dict[str, int] = field(default_factory=dict)


def check_zones_fit(camera: PpeCameraConfig, width: int, height: int) -> None:
    """Raise ConfigError naming every PPE zone that reaches outside a ``width`` × ``height`` frame."""
    problems = [
        f"PPE zone {z.name!r} spans x {z.x}..{z.x + z.width}, y {z.y}..{z.y + z.height}, "
        f"outside the {width}x{height} frame"
        for z in camera.ppe.zones
        if z.x + z.width > width or z.y + z.height > height
    ]
    if problems:
        msg = f"camera {camera.camera_id}: " + "; ".join(problems)
        raise ConfigError(msg, details=problems)


class PpeCounter:
    def __init__(
        self, node: NodeConfig, camera: PpeCameraConfig, *, finder: PersonFinder, classifier: PpeClassifier
    ) -> None:
        required = {i for z in camera.ppe.zones for i in z.required}
        unknown = sorted(required - set(classifier.items))
        if unknown:  # the config knows the contract's items; the loaded model might know fewer
            msg = (
                f"camera {camera.camera_id}: the PPE classifier {classifier.model_id} cannot judge {unknown}"
            )
            raise ConfigError(msg, details=[f"it knows: {', '.join(classifier.items)}"])
        self.camera, self.settings = camera, camera.ppe
        self.finder, self.classifier = finder, classifier
        self.tally = HourlyTally(
            node,
            camera.ppe,
            camera_id=camera.camera_id,
            station_id=camera.station_id,
            classifier_id=classifier.model_id,
        )
        self.skipped = SkipCounts()
        self.saved = OpenHourFile(open_hour_path(node.data_dir, camera.camera_id))
        #: Why a saved open hour was not taken up (the worker raises an alert), if it was not.
        self.restore_problem: str | None = None
        self._pending = self._take_up_saved_hour()
        self._frame_hw: tuple[int, int] | None = None
        self._privacy: np.ndarray | None = None  # the privacy zones' pixels, for the frame size seen

    def _take_up_saved_hour(self) -> list[PpeCounts]:
        """The hour a stop interrupted goes on; a file that cannot be taken up is set aside, not merged."""
        now = dt.datetime.now(dt.UTC)
        try:
            saved = self.saved.load(self.camera.camera_id)
        except (IntegrityError, InputError) as exc:
            try:
                kept = self.saved.set_aside(now).name
            except OSError as moved:  # the next save replaces it: say so, counting goes on
                kept = f"nowhere (it could not be moved: {moved.strerror}; the next save replaces it)"
            self.restore_problem = f"saved open hour not taken up: {exc.message}; kept as {kept}"
            return []
        return [] if saved is None else self.tally.resume(saved)

    def resume(self, now: dt.datetime) -> list[PpeCounts]:
        """At start: the messages of a saved hour that cannot go on or is over by ``now``."""
        out, self._pending = self._pending, []
        if self.tally.hour is not None and hour_of(now) > self.tally.hour:
            out += self.tally.close()
        return out

    def save(self) -> None:
        """Write the open hour to the node's disk (after the messages of a closed one are queued)."""
        self.saved.save(self.tally.snapshot())

    def _new_frame_size(self, hw: tuple[int, int]) -> None:
        import cv2

        check_zones_fit(self.camera, hw[1], hw[0])
        self._privacy = None
        if self.camera.privacy_zones:
            mask = np.zeros(hw, np.uint8)
            polygons = [np.asarray(z.points, np.int32).reshape(-1, 1, 2) for z in self.camera.privacy_zones]
            cv2.fillPoly(mask, polygons, 1)
            self._privacy = mask
        self._frame_hw = hw

    def _touches_privacy(self, box: PersonBox) -> bool:
        if self._privacy is None:
            return False
        return bool(self._privacy[max(0, box.y0) : max(0, box.y1), max(0, box.x0) : max(0, box.x1)].any())

    def observe(self, image: Frame, captured_at: dt.datetime) -> list[PpeCounts]:
        """Count the people of one (privacy-masked) frame; the messages of any hour that ended."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            msg = f"expected an HxWx3 uint8 frame, got {image.dtype} {image.shape}"
            raise InputError(msg)
        hw = (int(image.shape[0]), int(image.shape[1]))
        if self._frame_hw != hw:
            self._new_frame_size(hw)
        people = self.finder.people(image)  # first: a frame the detector fails on leaves no trace
        out = self.tally.advance(captured_at)
        self.tally.frame_seen()
        s, skipped = self.settings, self.skipped
        for box in people:
            if box.score < s.person_score:
                skipped.low_score += 1
                continue
            if box.y1 - box.y0 < s.min_person_height_px:
                skipped.too_small += 1
                continue
            if self._touches_privacy(box):
                skipped.privacy += 1
                continue
            foot = ((box.x0 + box.x1) // 2, box.y1 - 1)
            zone = next(
                (z for z in s.zones if z.x <= foot[0] < z.x + z.width and z.y <= foot[1] < z.y + z.height),
                None,
            )
            if zone is None:
                skipped.outside_zones += 1
                continue
            wears = self.classifier.wears(crop_person(image, (box.x0, box.y0, box.x1, box.y1)))
            self.tally.add(zone.name, {item for item in zone.required if not wears[item]})
            skipped.counted += 1
            skipped.by_zone[zone.name] = skipped.by_zone.get(zone.name, 0) + 1
        return out

    def close(self) -> list[PpeCounts]:
        """The open hour's messages now, even though it is not over (the camera is retired for good).

        A node that only restarts does not call this: it saves the hour (:meth:`save`)."""
        out, self._pending = self._pending, []
        return out + self.tally.close()
