"""Synthetic labelled scenes: people rendered over industrial backgrounds.

Each :class:`Scene` is a BGR frame with the pixel mask of every person visible in it
(after occlusion), so redaction recall can be measured exactly. People are drawn from
parts — head with hair (or a hard hat), neck, torso, two-segment arms and legs in a
walking pose — with skin tones across the whole range, work clothing (hi-vis, overalls,
coats), facing the camera, turned away or sideways, at several heights, partly hidden
behind machines or cut by the frame edge. Backgrounds are walls, floors, machines,
conveyors with parts, pipes and safety striping, with sensor noise and mild blur.

Deterministic: the same ``seed`` gives the same scenes on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from lineguard.contracts.types import Frame

__all__ = ["Facing", "PersonTruth", "Scene", "industrial_background", "render_person", "synthetic_scenes"]

Facing = Literal["front", "back", "side"]
Mask = npt.NDArray[np.bool_]

#: BGR skin tones from very light to very dark (Fitzpatrick I–VI-like spread).
SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (189, 208, 241),
    (160, 190, 228),
    (120, 160, 214),
    (90, 130, 190),
    (60, 95, 150),
    (40, 62, 100),
    (28, 40, 66),
)
#: BGR work clothing: hi-vis orange and yellow, navy and royal overalls, grey, white coat, dark.
CLOTHING: tuple[tuple[int, int, int], ...] = (
    (0, 110, 250),
    (40, 230, 230),
    (90, 40, 20),
    (170, 90, 30),
    (120, 120, 120),
    (225, 225, 225),
    (40, 40, 45),
    (40, 120, 40),
)
HAIR: tuple[tuple[int, int, int], ...] = ((20, 20, 25), (30, 50, 90), (60, 110, 170), (160, 160, 165))
HELMETS: tuple[tuple[int, int, int], ...] = ((0, 220, 250), (245, 245, 245), (20, 60, 220), (200, 90, 20))


@dataclass(frozen=True)
class PersonTruth:
    """Ground truth for one person: visible pixels and their bounding box."""

    mask: Mask
    #: Visible head pixels (head, hair or hard hat, neck): what identifies someone.
    head: Mask
    facing: Facing
    height_px: int
    occluded: bool

    @property
    def area(self) -> int:
        return int(self.mask.sum())


@dataclass(frozen=True)
class Scene:
    name: str
    image: Frame
    people: tuple[PersonTruth, ...]


def _shade(color: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return (
        int(min(255, color[0] * factor)),
        int(min(255, color[1] * factor)),
        int(min(255, color[2] * factor)),
    )


def _color(values: npt.NDArray[np.int64]) -> tuple[int, int, int]:
    return (int(values[0]), int(values[1]), int(values[2]))


def industrial_background(rng: np.random.Generator, height: int, width: int) -> Frame:
    """A factory-floor backdrop: wall, floor, machines, a conveyor with parts, pipes."""
    import cv2

    img = np.zeros((height, width, 3), np.uint8)
    horizon = int(height * rng.uniform(0.35, 0.55))
    wall = np.array(rng.choice([(150, 150, 145), (170, 175, 180), (120, 130, 140), (190, 185, 175)]))
    floor = np.array(rng.choice([(110, 115, 110), (90, 100, 105), (60, 120, 90), (130, 130, 125)]))
    ramp = np.linspace(0.8, 1.1, height)[:, None, None]
    img[:horizon] = np.clip(wall * ramp[:horizon], 0, 255)
    img[horizon:] = np.clip(floor * ramp[horizon:], 0, 255)
    # Safety striping along the wall base.
    stripe_h = max(4, height // 60)
    for x in range(0, width, stripe_h * 4):
        pts = np.array(
            [
                [x, horizon - stripe_h],
                [x + stripe_h * 2, horizon - stripe_h],
                [x + stripe_h * 3, horizon],
                [x + stripe_h, horizon],
            ]
        )
        cv2.fillPoly(img, [pts], (0, 200, 240))
    # Pipes near the ceiling.
    for _ in range(int(rng.integers(1, 4))):
        y = int(rng.uniform(0.05, 0.3) * height)
        cv2.line(
            img, (0, y), (width, y), _shade((130, 130, 140), rng.uniform(0.6, 1.2)), max(3, height // 50)
        )
    # Machines: boxes with a panel and lights.
    for _ in range(int(rng.integers(2, 5))):
        w = int(rng.uniform(0.1, 0.25) * width)
        h = int(rng.uniform(0.25, 0.5) * height)
        x = int(rng.uniform(0, width - w))
        y = horizon + int(rng.uniform(-0.1, 0.05) * height) - h // 2
        color = _color(rng.choice([(150, 120, 60), (90, 140, 70), (60, 60, 170), (170, 170, 170)]))
        cv2.rectangle(img, (x, y), (x + w, y + h), color, -1)
        cv2.rectangle(img, (x, y), (x + w, y + h), _shade(color, 0.5), 2)
        cv2.rectangle(img, (x + w // 6, y + h // 6), (x + w // 2, y + h // 2), (40, 40, 40), -1)
        cv2.circle(img, (x + 3 * w // 4, y + h // 4), max(2, w // 20), (0, 0, 255), -1)
    # Conveyor with parts in the lower third.
    belt_y = int(height * rng.uniform(0.72, 0.85))
    belt_h = max(8, height // 12)
    cv2.rectangle(img, (0, belt_y), (width, belt_y + belt_h), (50, 50, 50), -1)
    for x in range(int(rng.integers(0, 40)), width, max(30, width // 10)):
        cv2.circle(img, (x, belt_y + belt_h // 2), belt_h // 3, (170, 170, 175), -1)
    noise = rng.normal(0, 4, img.shape)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def render_person(
    img: Frame,
    rng: np.random.Generator,
    *,
    foot_x: int,
    foot_y: int,
    height_px: int,
    facing: Facing,
) -> tuple[Mask, Mask]:
    """Draw one person standing on ``(foot_x, foot_y)`` into ``img``; return their body and head masks."""
    import cv2

    mask = np.zeros(img.shape[:2], np.uint8)
    skin = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]
    top = CLOTHING[int(rng.integers(len(CLOTHING)))]
    trousers = CLOTHING[int(rng.integers(len(CLOTHING)))]
    hair = HAIR[int(rng.integers(len(HAIR)))]
    helmet = HELMETS[int(rng.integers(len(HELMETS)))] if rng.random() < 0.5 else None
    u = height_px / 8.0  # the classic eight-heads figure
    phase = rng.uniform(-1, 1)  # walking stride
    limb = max(2, int(u * 0.45))
    hip = (foot_x, int(foot_y - 4 * u))
    shoulder_y = int(foot_y - 6.6 * u)
    half_sh = u * (0.55 if facing == "side" else 0.95)

    def line(p: tuple[float, float], q: tuple[float, float], color: tuple[int, int, int], width: int) -> None:
        a, b = (int(p[0]), int(p[1])), (int(q[0]), int(q[1]))
        cv2.line(img, a, b, color, width, cv2.LINE_AA)
        cv2.line(mask, a, b, 255, width, cv2.LINE_8)

    # Legs: thigh then shin, swinging opposite.
    for side, swing in ((-1, phase), (1, -phase)):
        hx = hip[0] + side * u * (0.15 if facing == "side" else 0.35)
        knee = (hx + swing * u * 0.9, hip[1] + 2 * u)
        foot = (hx + swing * u * 1.4, foot_y - u * 0.1)
        line((hx, hip[1]), knee, _shade(trousers, 0.9 if side < 0 else 1.0), int(limb * 1.3))
        line(knee, foot, _shade(trousers, 0.85 if side < 0 else 0.95), int(limb * 1.15))
        line(foot, (foot[0] + u * 0.45 * (1 if facing != "back" else 0.6), foot[1]), (30, 30, 30), limb)
    # Torso.
    torso = np.array(
        [
            [foot_x - half_sh, shoulder_y],
            [foot_x + half_sh, shoulder_y],
            [foot_x + half_sh * 0.8, hip[1] + u * 0.3],
            [foot_x - half_sh * 0.8, hip[1] + u * 0.3],
        ],
        np.int32,
    )
    cv2.fillPoly(img, [torso], top, cv2.LINE_AA)
    cv2.fillPoly(mask, [torso], 255)
    if top in ((0, 110, 250), (40, 230, 230)):  # hi-vis reflective band
        band_y = int(shoulder_y + 1.6 * u)
        cv2.line(
            img,
            (int(foot_x - half_sh * 0.9), band_y),
            (int(foot_x + half_sh * 0.9), band_y),
            (210, 210, 210),
            max(1, int(u * 0.25)),
        )
    # Arms: upper arm then forearm with a hand, swinging against the legs.
    for side, swing in ((-1, -phase), (1, phase)):
        sx = foot_x + side * half_sh * 0.95
        elbow = (sx + swing * u * 0.6 + side * u * 0.15, shoulder_y + 1.4 * u)
        hand = (sx + swing * u * 1.1 + side * u * 0.2, shoulder_y + 2.7 * u)
        line((sx, shoulder_y + u * 0.2), elbow, _shade(top, 0.9), int(limb * 1.05))
        line(elbow, hand, _shade(top, 0.85), limb)
        cv2.circle(img, (int(hand[0]), int(hand[1])), max(1, int(u * 0.22)), skin, -1, cv2.LINE_AA)
        cv2.circle(mask, (int(hand[0]), int(hand[1])), max(1, int(u * 0.22)), 255, -1)
    # Neck and head.
    head_c = (foot_x + (int(u * 0.1) if facing == "side" else 0), int(foot_y - 7.45 * u))
    line((foot_x, shoulder_y), (foot_x, head_c[1]), _shade(skin, 0.9), max(2, int(u * 0.4)))
    axes = (max(2, int(u * (0.42 if facing == "side" else 0.4))), max(3, int(u * 0.55)))
    cv2.ellipse(img, head_c, axes, 0, 0, 360, skin, -1, cv2.LINE_AA)
    cv2.ellipse(mask, head_c, axes, 0, 0, 360, 255, -1)
    if facing == "back":
        cv2.ellipse(img, head_c, axes, 0, 0, 360, hair, -1, cv2.LINE_AA)
    else:
        cv2.ellipse(img, head_c, axes, 0, 180, 360, hair, -1, cv2.LINE_AA)
        if axes[0] >= 4:
            eye_dy = int(axes[1] * 0.05)
            offsets = (-0.35, 0.35) if facing == "front" else (0.45,)
            for dx in offsets:
                cv2.circle(
                    img,
                    (int(head_c[0] + dx * axes[0]), head_c[1] + eye_dy),
                    max(1, axes[0] // 6),
                    (30, 30, 30),
                    -1,
                )
            cv2.ellipse(
                img,
                (head_c[0] + (axes[0] // 3 if facing == "side" else 0), head_c[1] + int(axes[1] * 0.5)),
                (max(1, axes[0] // 3), max(1, axes[1] // 10)),
                0,
                0,
                180,
                _shade(skin, 0.6),
                -1,
            )
    if helmet is not None:
        cv2.ellipse(
            img,
            (head_c[0], head_c[1] - axes[1] // 4),
            (int(axes[0] * 1.15), int(axes[1] * 0.85)),
            0,
            180,
            360,
            helmet,
            -1,
            cv2.LINE_AA,
        )
        cv2.ellipse(
            mask,
            (head_c[0], head_c[1] - axes[1] // 4),
            (int(axes[0] * 1.15), int(axes[1] * 0.85)),
            0,
            180,
            360,
            255,
            -1,
        )
    body = mask > 0
    # The head (with hair, hard hat and neck) is everything of the figure above the shoulders.
    head = body.copy()
    head[max(0, shoulder_y) :] = False
    return body, head


def _occlude(img: Frame, rng: np.random.Generator, mask: Mask) -> Mask:
    """Put a machine or crate in front of part of the person; return what the occluder covers."""
    import cv2

    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    cover = np.zeros(img.shape[:2], np.uint8)
    if rng.random() < 0.5:  # lower body behind a crate or machine
        top_y = int(y0 + (y1 - y0) * rng.uniform(0.45, 0.65))
        pts = (int(x0 - (x1 - x0) * 0.6), top_y, int(x1 + (x1 - x0) * 0.6), img.shape[0])
    else:  # one side behind a column
        cut = int(x0 + (x1 - x0) * rng.uniform(0.35, 0.6))
        pts = (
            (cut, 0, int(cut + (x1 - x0) * 1.5), img.shape[0])
            if rng.random() < 0.5
            else (int(x0 - (x1 - x0)), 0, cut, img.shape[0])
        )
    color = _color(rng.choice([(60, 90, 140), (150, 150, 150), (70, 130, 70), (40, 160, 200)]))
    cv2.rectangle(img, (pts[0], pts[1]), (pts[2], pts[3]), color, -1)
    cv2.rectangle(img, (pts[0], pts[1]), (pts[2], pts[3]), _shade(color, 0.6), 3)
    cv2.rectangle(cover, (pts[0], pts[1]), (pts[2], pts[3]), 255, -1)
    return cover > 0


def synthetic_scenes(
    count: int, *, seed: int = 0, height: int = 480, width: int = 640, with_people: bool = True
) -> list[Scene]:
    """``count`` scenes; with people, each has one to three of them, some occluded or cut off."""
    import cv2

    rng = np.random.default_rng(seed)
    scenes: list[Scene] = []
    for index in range(count):
        img = industrial_background(rng, height, width)
        people: list[PersonTruth] = []
        if with_people:
            drawn: list[tuple[Mask, Mask, Facing, int, bool]] = []
            for _ in range(int(rng.integers(1, 4))):
                person_h = int(height * rng.uniform(0.18, 0.95))
                facing: Facing = ("front", "back", "side")[int(rng.integers(3))]
                foot_y = int(rng.uniform(max(person_h * 0.95, height * 0.5), height * 1.08))
                foot_x = int(rng.uniform(-0.02, 1.02) * width)
                mask, head = render_person(
                    img, rng, foot_x=foot_x, foot_y=foot_y, height_px=person_h, facing=facing
                )
                # A later person in front hides the earlier ones where they overlap.
                drawn = [(m & ~mask, hd & ~mask, f, h, o) for m, hd, f, h, o in drawn]
                occluded = rng.random() < 0.3
                if occluded and mask.any():
                    cover = _occlude(img, rng, mask)
                    drawn = [(m & ~cover, hd & ~cover, f, h, o) for m, hd, f, h, o in drawn]
                    mask, head = mask & ~cover, head & ~cover
                drawn.append((mask, head, facing, person_h, occluded))
            people = [PersonTruth(m, hd, f, h, o) for m, hd, f, h, o in drawn if m.sum() >= 50]
        # Camera: slight defocus and sensor noise over everything, people included.
        img = np.asarray(cv2.GaussianBlur(img, (3, 3), 0.8), dtype=np.uint8)
        img = np.clip(img.astype(np.float32) + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
        scenes.append(Scene(name=f"synthetic-{seed}-{index}", image=img, people=tuple(people)))
    return scenes
