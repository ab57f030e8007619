"""Labelled evidence crops: what redaction actually sees once evidence is the part.

The stored evidence image is the camera's ROI (plus a margin) around a part on the
conveyor, so the people in it are rarely whole: a hand or an arm reaching in, a worker
leaning over the belt with head and shoulders in view, someone walking past whose body
is cut by the crop's edge, or a person partly behind a machine guard. This module
renders such frames (factory backdrop, a part on the belt, people drawn by
:func:`~._scenes.render_person`, leaning ones rotated about their feet), cuts the crop
and returns it with the pixel mask of every person *visible inside the crop* (after
occlusion), so :class:`~._metrics.RecallReport` scores recall on the evidence that is
stored, by the same definition as on whole frames.

Kinds (``PersonTruth.facing`` keeps the body orientation; :class:`CropPerson` adds the
kind): ``reach`` (a large person beside the ROI, mostly outside it: arm and hand in
view), ``lean`` (upper body tilted 15-55 degrees over the belt), ``edge`` (standing,
cut by the crop's edge), ``inside`` (standing, whole or nearly whole in the crop).
About a third are partly hidden behind a guard or crate (``occluded``).

A plant can re-run this on its own views: pass its frame size and ROI (and, for
realism, its own backgrounds) and score its redactor with ``RecallReport``.
Deterministic: the same ``seed`` gives the same crops on every machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from lineguard.contracts.types import Frame
from lineguard.edge.redact.evaluation._scenes import (
    Facing,
    Mask,
    PersonTruth,
    industrial_background,
    render_person,
)

__all__ = ["CROP_KINDS", "CropKind", "CropPerson", "EvidenceCropScene", "evidence_crops"]

CropKind = Literal["reach", "lean", "edge", "inside"]
CROP_KINDS: tuple[CropKind, ...] = ("reach", "lean", "edge", "inside")
#: People with fewer visible pixels than this inside the crop are not counted (a fingertip).
MIN_VISIBLE_PX = 80


@dataclass(frozen=True)
class CropPerson:
    truth: PersonTruth
    kind: CropKind


@dataclass(frozen=True)
class EvidenceCropScene:
    """One stored evidence crop, the frame region it came from, and who is visible in it.

    ``context`` is the window the node's redactor looks at around the crop
    (:func:`lineguard.edge.evidence.region.context_window`); :meth:`crop_of` cuts the
    stored crop out of anything shaped like it (the redactor's hidden mask).
    """

    name: str
    image: Frame
    #: ``(x, y, width, height)`` of the crop in the frame.
    region: tuple[int, int, int, int]
    people: tuple[CropPerson, ...]
    context: Frame
    #: ``(x, y, width, height)`` of the context window in the frame.
    window: tuple[int, int, int, int]

    @property
    def truths(self) -> tuple[PersonTruth, ...]:
        return tuple(p.truth for p in self.people)

    def crop_of(self, array: np.ndarray) -> np.ndarray:
        x, y = self.region[0] - self.window[0], self.region[1] - self.window[1]
        return array[y : y + self.region[3], x : x + self.region[2]]


def _conveyor_with_part(img: Frame, rng: np.random.Generator, roi: tuple[int, int, int, int]) -> None:
    """A belt through the ROI and a part on it (the thing the evidence is about)."""
    import cv2

    from lineguard.edge.capture.part_render import render_part

    x, y, w, h = roi
    belt_y0, belt_y1 = y + int(h * 0.15), y + int(h * 0.9)
    cv2.rectangle(img, (0, belt_y0), (img.shape[1], belt_y1), (48, 50, 52), -1)
    for bx in range(int(rng.integers(0, 30)), img.shape[1], 40):
        cv2.line(img, (bx, belt_y0), (bx, belt_y1), (38, 40, 42), 2)
    size = int(min(w, h) * rng.uniform(0.45, 0.7))
    part = render_part(size, rng)
    px = x + (w - size) // 2 + int(rng.integers(-w // 10, w // 10 + 1))
    py = y + (h - size) // 2
    alpha = (part.alpha[..., None] / 255.0).astype(np.float32)
    region = img[py : py + size, px : px + size].astype(np.float32)
    img[py : py + size, px : px + size] = (part.image * alpha + region * (1 - alpha)).astype(np.uint8)


def _person_layer(
    shape: tuple[int, int], rng: np.random.Generator, *, foot: tuple[int, int], height_px: int, facing: Facing
) -> tuple[Frame, Mask, Mask]:
    """A person drawn on an empty layer: colour, body mask, head mask."""
    layer = np.zeros((*shape, 3), np.uint8)
    body, head = render_person(layer, rng, foot_x=foot[0], foot_y=foot[1], height_px=height_px, facing=facing)
    return layer, body, head


def _rotate(
    layer: Frame, body: Mask, head: Mask, centre: tuple[int, int], degrees: float
) -> tuple[Frame, Mask, Mask]:
    import cv2

    height, width = body.shape
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), degrees, 1.0)

    def warp(a: np.ndarray, interpolation: int) -> np.ndarray:
        return np.asarray(cv2.warpAffine(a, matrix, (width, height), flags=interpolation))

    return (
        warp(layer, cv2.INTER_LINEAR),
        warp(body.astype(np.uint8), cv2.INTER_NEAREST) > 0,
        warp(head.astype(np.uint8), cv2.INTER_NEAREST) > 0,
    )


def _placement(
    kind: CropKind, rng: np.random.Generator, roi: tuple[int, int, int, int]
) -> tuple[tuple[int, int], int, float]:
    """Foot point, height and lean angle of a person of ``kind`` around ``roi``."""
    x, y, w, h = roi
    side = -1 if rng.random() < 0.5 else 1
    if kind == "reach":  # big, beside the ROI: arm and hand swing into it
        height_px = int(h * rng.uniform(1.6, 2.6))
        u = height_px / 8
        foot_x = int(x + w / 2 + side * (w / 2 + u * rng.uniform(0.1, 0.9)))
        foot_y = int(y + h * rng.uniform(0.3, 0.9) + 4.3 * u)  # hands at shoulder + 2.7u
        return (foot_x, foot_y), height_px, 0.0
    if kind == "lean":  # upper body over the belt, head and shoulders in the crop
        height_px = int(h * rng.uniform(1.2, 2.2))
        foot_x = int(x + w / 2 + side * w * rng.uniform(0.35, 0.8))
        foot_y = int(y + h + height_px * rng.uniform(0.0, 0.35))
        return (foot_x, foot_y), height_px, float(side * rng.uniform(15, 55))
    if kind == "edge":  # standing, cut by the crop's left/right/top edge
        height_px = int(h * rng.uniform(0.6, 1.6))
        foot_x = int(x + (0 if side < 0 else w) + rng.uniform(-0.12, 0.12) * w)
        foot_y = int(y + h * rng.uniform(0.55, 1.25))
        return (foot_x, foot_y), height_px, 0.0
    height_px = int(h * rng.uniform(0.35, 0.85))  # inside: a small, whole person
    foot_x = int(x + w * rng.uniform(0.15, 0.85))
    foot_y = int(y + min(h - 2, height_px + h * rng.uniform(0.0, 0.4)))
    return (foot_x, foot_y), height_px, 0.0


def _guard(img: Frame, rng: np.random.Generator, body: Mask, roi: tuple[int, int, int, int]) -> Mask:
    """A machine guard or crate in front of part of the person (inside the crop); what it covers."""
    import cv2

    x, y, w, h = roi
    ys, xs = np.nonzero(body[y : y + h, x : x + w])
    if len(xs) == 0:
        return np.zeros(body.shape, bool)
    x0, x1, y0, y1 = xs.min() + x, xs.max() + x, ys.min() + y, ys.max() + y
    cover = np.zeros(body.shape, np.uint8)
    if rng.random() < 0.5:  # the lower part behind a guard rising from the belt
        top = int(y0 + (y1 - y0) * rng.uniform(0.35, 0.65))
        pts = (x0 - (x1 - x0) // 2 - 10, top, x1 + (x1 - x0) // 2 + 10, y + h)
    else:  # one side behind a post
        cut = int(x0 + (x1 - x0) * rng.uniform(0.35, 0.65))
        pts = (cut, y, x + w, y + h) if rng.random() < 0.5 else (x, y, cut, y + h)
    color = tuple(int(c) for c in rng.choice([(60, 90, 140), (150, 150, 150), (40, 160, 200), (70, 130, 70)]))
    cv2.rectangle(img, pts[:2], pts[2:], color, -1)
    cv2.rectangle(img, pts[:2], pts[2:], tuple(int(c * 0.6) for c in color), 3)
    cv2.rectangle(cover, pts[:2], pts[2:], 255, -1)
    return cover > 0


def evidence_crops(
    count: int,
    *,
    seed: int = 0,
    frame_hw: tuple[int, int] = (720, 1280),
    roi: tuple[int, int, int, int] = (400, 160, 480, 400),
    margin_px: int = 16,
    people_share: float = 1.0,
    occluded_share: float = 0.33,
) -> Iterator[EvidenceCropScene]:
    """``count`` evidence crops of ``roi`` (plus ``margin_px``) with 1-2 people each (or none),
    one at a time (each holds its context window: keep only what you need).

    ``people_share`` is the share of crops with people; the rest are person-free, for
    measuring how much evidence area redaction hides when nobody is there.
    """
    import cv2

    from lineguard.config.edge import CameraEvidenceConfig
    from lineguard.contracts.events import BoundingBox
    from lineguard.edge.evidence.region import context_window, stored_region

    rng = np.random.default_rng(seed)
    height, width = frame_hw
    roi_box = BoundingBox(x=roi[0], y=roi[1], width=roi[2], height=roi[3])
    box = stored_region(frame_hw, roi_box, CameraEvidenceConfig(margin_px=margin_px))
    stored = (box.x, box.y, box.width, box.height)
    win = context_window(frame_hw, box)
    window = (win.x, win.y, win.width, win.height)
    for index in range(count):
        img = industrial_background(rng, height, width)
        _conveyor_with_part(img, rng, roi)
        people: list[tuple[Mask, Mask, Facing, int, bool, CropKind]] = []
        if rng.random() < people_share:
            for _ in range(int(rng.integers(1, 3))):
                kind: CropKind = CROP_KINDS[int(rng.integers(len(CROP_KINDS)))]
                facing: Facing = ("front", "back", "side")[int(rng.integers(3))]
                foot, height_px, lean = _placement(kind, rng, stored)
                layer, body, head = _person_layer(
                    (height, width), rng, foot=foot, height_px=height_px, facing=facing
                )
                if lean:
                    layer, body, head = _rotate(layer, body, head, foot, lean)
                img[body] = layer[body]
                # A later person in front hides the earlier ones where they overlap.
                people = [(m & ~body, hd & ~body, f, hp, o, k) for m, hd, f, hp, o, k in people]
                occluded = bool(rng.random() < occluded_share)
                if occluded:
                    cover = _guard(img, rng, body, stored)
                    people = [(m & ~cover, hd & ~cover, f, hp, o, k) for m, hd, f, hp, o, k in people]
                    body, head = body & ~cover, head & ~cover
                people.append((body, head, facing, height_px, occluded, kind))
        img = np.asarray(cv2.GaussianBlur(img, (3, 3), 0.8), dtype=np.uint8)
        img = np.clip(img.astype(np.float32) + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
        sx, sy, sw, sh = stored
        crop = np.ascontiguousarray(img[sy : sy + sh, sx : sx + sw])
        visible = []
        for body, head, facing, height_px, occluded, kind in people:
            cb, ch = body[sy : sy + sh, sx : sx + sw], head[sy : sy + sh, sx : sx + sw]
            if int(cb.sum()) >= MIN_VISIBLE_PX:
                truth = PersonTruth(cb.copy(), ch.copy(), facing, height_px, occluded)
                visible.append(CropPerson(truth, kind))
        context = np.ascontiguousarray(img[win.y : win.y + win.height, win.x : win.x + win.width])
        yield EvidenceCropScene(f"crop-{seed}-{index}", crop, stored, tuple(visible), context, window)
