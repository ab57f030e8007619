"""Generated workers with and without PPE: the data the PPE classifier is trained and measured on.

No PPE model or data set ships with LineGuard and nothing may be downloaded, so the
classifier learns from people drawn here, the way the redaction benchmark draws them
(:mod:`lineguard.edge.redact.evaluation`: the same eight-heads figure and range of skin
tones, here over a walkway). Every :class:`WorkerLook` says exactly what the person wears, so
the labels are exact.

The hard cases a camera meets are drawn on purpose and tagged (:data:`HARD_CASES`):

* ``lookalike_top`` — a hi-vis-coloured shirt or jacket **without** reflective bands
  (no vest), or a dark jacket with white stripes (no vest either);
* ``lookalike_head`` — a cap or beanie in helmet colours, or fair / red hair (no helmet);
* ``occluded`` — a crate or column hides the lower body or one side;
* ``dim`` / ``bright`` / ``cast`` — gain far from 1, or a sodium-lamp colour cast;
* ``small`` — the person is under 90 px tall;
* ``back`` / ``side`` — not facing the camera.

What this cannot say: how the classifier does on real people in real walkways. Drawn
people have flat colours and sharp outlines; real ones have folds, dirt, motion blur and
vests of many cuts. docs/inspection.md and docs/benchmarks.md say so beside every figure.

Deterministic: the same seed gives the same pixels on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from lineguard.contracts.types import Frame

__all__ = [
    "HARD_CASES",
    "PersonCrop",
    "WalkwayPerson",
    "WalkwayScene",
    "WorkerLook",
    "draw_worker",
    "person_crops",
    "random_look",
    "walkway_background",
    "walkway_scenes",
]

Facing = Literal["front", "back", "side"]
Mask = npt.NDArray[np.bool_]
Bgr = tuple[int, int, int]

HARD_CASES = ("lookalike_top", "lookalike_head", "occluded", "dim", "bright", "cast", "small", "back", "side")

#: The redaction benchmark's skin tones (edge/redact/evaluation), repeated: a stage package may not
#: import another edge package, and the shipped classifier was trained on exactly these.
SKIN: tuple[Bgr, ...] = (
    (189, 208, 241),
    (160, 190, 228),
    (120, 160, 214),
    (90, 130, 190),
    (60, 95, 150),
    (40, 62, 100),
    (28, 40, 66),
)
#: Ordinary work clothing (never fluorescent).
PLAIN: tuple[Bgr, ...] = (
    (90, 40, 20),
    (170, 90, 30),
    (120, 120, 120),
    (225, 225, 225),
    (40, 40, 45),
    (40, 120, 40),
    (30, 30, 140),
    (60, 80, 110),
)
#: Fluorescent vest colours: yellow-green, yellow, orange.
HI_VIS: tuple[Bgr, ...] = ((40, 250, 210), (30, 235, 245), (0, 120, 255))
#: Shirt colours that look like hi-vis but are plain cloth (no bands).
HI_VIS_LOOKALIKE: tuple[Bgr, ...] = ((50, 220, 230), (10, 140, 240), (60, 230, 190), (30, 180, 230))
HELMET: tuple[Bgr, ...] = (
    (0, 220, 250),
    (245, 245, 245),
    (20, 60, 220),
    (200, 90, 20),
    (0, 130, 250),
    (40, 160, 40),
)
HAIR: tuple[Bgr, ...] = ((20, 20, 25), (30, 50, 90), (60, 110, 170), (160, 160, 165))
#: Fair and red hair: helmet-ish colours on a head.
HAIR_LOOKALIKE: tuple[Bgr, ...] = ((120, 200, 235), (40, 90, 200))


@dataclass(frozen=True)
class WorkerLook:
    """What one drawn person wears and how they are seen."""

    helmet: bool
    vest: bool
    facing: Facing
    skin: Bgr
    top: Bgr
    trousers: Bgr
    hair: Bgr
    helmet_color: Bgr
    vest_color: Bgr
    #: ``cap`` / ``beanie`` (no helmet), or None.
    headwear: Literal["cap", "beanie"] | None
    headwear_color: Bgr
    #: Dark jacket with white stripes (reflective-looking, but no vest).
    striped_top: bool
    tags: frozenset[str]


def _pick(rng: np.random.Generator, options: tuple[Bgr, ...]) -> Bgr:
    return options[int(rng.integers(len(options)))]


def random_look(rng: np.random.Generator, *, helmet: bool, vest: bool, hard: float = 0.35) -> WorkerLook:
    """A random person wearing exactly ``helmet`` / ``vest``; ``hard`` is the share of look-alikes."""
    tags: set[str] = set()
    facing: Facing = ("front", "back", "side")[int(rng.integers(3))]
    if facing != "front":
        tags.add(facing)
    top = _pick(rng, PLAIN)
    striped = False
    if not vest and rng.random() < hard:
        if rng.random() < 0.7:
            top = _pick(rng, HI_VIS_LOOKALIKE)
        else:
            top, striped = _pick(rng, ((40, 40, 45), (90, 40, 20), (60, 80, 110))), True
        tags.add("lookalike_top")
    hair = _pick(rng, HAIR)
    headwear: Literal["cap", "beanie"] | None = None
    headwear_color = _pick(rng, PLAIN)
    if not helmet and rng.random() < hard:
        if rng.random() < 0.6:
            headwear = "cap" if rng.random() < 0.5 else "beanie"
            headwear_color = _pick(rng, HELMET)
        else:
            hair = _pick(rng, HAIR_LOOKALIKE)
        tags.add("lookalike_head")
    return WorkerLook(
        helmet=helmet,
        vest=vest,
        facing=facing,
        skin=_pick(rng, SKIN),
        top=top,
        trousers=_pick(rng, PLAIN),
        hair=hair,
        helmet_color=_pick(rng, HELMET),
        vest_color=_pick(rng, HI_VIS),
        headwear=headwear,
        headwear_color=headwear_color,
        striped_top=striped,
        tags=frozenset(tags),
    )


def _shade(color: Bgr, factor: float) -> Bgr:
    return (
        int(min(255, color[0] * factor)),
        int(min(255, color[1] * factor)),
        int(min(255, color[2] * factor)),
    )


def draw_worker(
    img: Frame, rng: np.random.Generator, look: WorkerLook, *, foot_x: int, foot_y: int, height_px: int
) -> Mask:
    """Draw ``look`` standing on ``(foot_x, foot_y)`` into ``img``; return the person's mask."""
    mask = np.zeros(img.shape[:2], np.uint8)
    u = height_px / 8.0
    phase = rng.uniform(-1, 1)
    limb = max(2, int(u * 0.45))
    side_view = look.facing == "side"
    hip_y = int(foot_y - 4 * u)
    shoulder_y = int(foot_y - 6.6 * u)
    half_sh = u * (0.55 if side_view else 0.95)

    def line(p: tuple[float, float], q: tuple[float, float], color: Bgr, width: int) -> None:
        a, b = (int(p[0]), int(p[1])), (int(q[0]), int(q[1]))
        cv2.line(img, a, b, color, width, cv2.LINE_AA)
        cv2.line(mask, a, b, 255, width, cv2.LINE_8)

    def poly(points: list[tuple[float, float]], color: Bgr) -> None:
        pts = np.array(points, np.int32)
        cv2.fillPoly(img, [pts], color, cv2.LINE_AA)
        cv2.fillPoly(mask, [pts], 255)

    for side, swing in ((-1, phase), (1, -phase)):
        hx = foot_x + side * u * (0.15 if side_view else 0.35)
        knee = (hx + swing * u * 0.9, hip_y + 2 * u)
        foot = (hx + swing * u * 1.4, foot_y - u * 0.1)
        line((hx, hip_y), knee, _shade(look.trousers, 0.9 if side < 0 else 1.0), int(limb * 1.3))
        line(knee, foot, _shade(look.trousers, 0.85 if side < 0 else 0.95), int(limb * 1.15))
        line(foot, (foot[0] + u * 0.45, foot[1]), (30, 30, 30), limb)
    torso = [
        (foot_x - half_sh, shoulder_y),
        (foot_x + half_sh, shoulder_y),
        (foot_x + half_sh * 0.8, hip_y + u * 0.3),
        (foot_x - half_sh * 0.8, hip_y + u * 0.3),
    ]
    poly(torso, look.top)
    band = max(1, int(u * 0.22))
    if look.striped_top:  # white stripes on a dark jacket: reflective-looking, no vest
        for k in (1.0, 1.9):
            y = int(shoulder_y + k * u)
            cv2.line(
                img, (int(foot_x - half_sh * 0.9), y), (int(foot_x + half_sh * 0.9), y), (235, 235, 235), band
            )
    if look.vest:
        inset = 0.12 if side_view else 0.08
        vest = [
            (foot_x - half_sh * (1 - inset), shoulder_y + u * 0.1),
            (foot_x + half_sh * (1 - inset), shoulder_y + u * 0.1),
            (foot_x + half_sh * 0.78, hip_y + u * 0.15),
            (foot_x - half_sh * 0.78, hip_y + u * 0.15),
        ]
        poly(vest, look.vest_color)
        if look.facing == "front":  # open front: the shirt shows in a narrow V
            v = [
                (foot_x - u * 0.2, shoulder_y + u * 0.1),
                (foot_x + u * 0.2, shoulder_y + u * 0.1),
                (foot_x, shoulder_y + u * 1.0),
            ]
            cv2.fillPoly(img, [np.array(v, np.int32)], look.top, cv2.LINE_AA)
        silver = (205, 205, 200)
        for k in (1.15, 1.95):  # two retro-reflective bands round the body
            y = int(shoulder_y + k * u)
            cv2.line(img, (int(foot_x - half_sh * 0.85), y), (int(foot_x + half_sh * 0.85), y), silver, band)
        if look.facing == "back":  # an X of bands on the back
            cv2.line(
                img,
                (int(foot_x - half_sh * 0.7), shoulder_y + int(u * 0.2)),
                (int(foot_x + half_sh * 0.6), int(shoulder_y + u * 1.9)),
                silver,
                band,
            )
            cv2.line(
                img,
                (int(foot_x + half_sh * 0.7), shoulder_y + int(u * 0.2)),
                (int(foot_x - half_sh * 0.6), int(shoulder_y + u * 1.9)),
                silver,
                band,
            )
    for side, swing in ((-1, -phase), (1, phase)):
        sx = foot_x + side * half_sh * 0.95
        elbow = (sx + swing * u * 0.6 + side * u * 0.15, shoulder_y + 1.4 * u)
        hand = (sx + swing * u * 1.1 + side * u * 0.2, shoulder_y + 2.7 * u)
        line((sx, shoulder_y + u * 0.2), elbow, _shade(look.top, 0.9), int(limb * 1.05))
        line(elbow, hand, _shade(look.top, 0.85), limb)
        r = max(1, int(u * 0.22))
        cv2.circle(img, (int(hand[0]), int(hand[1])), r, look.skin, -1, cv2.LINE_AA)
        cv2.circle(mask, (int(hand[0]), int(hand[1])), r, 255, -1)
    head_c = (foot_x + (int(u * 0.1) if side_view else 0), int(foot_y - 7.45 * u))
    line((foot_x, shoulder_y), (foot_x, head_c[1]), _shade(look.skin, 0.9), max(2, int(u * 0.4)))
    axes = (max(2, int(u * (0.42 if side_view else 0.4))), max(3, int(u * 0.55)))
    cv2.ellipse(img, head_c, axes, 0, 0, 360, look.skin, -1, cv2.LINE_AA)
    cv2.ellipse(mask, head_c, axes, 0, 0, 360, 255, -1)
    if look.facing == "back":
        cv2.ellipse(img, head_c, axes, 0, 0, 360, look.hair, -1, cv2.LINE_AA)
    else:
        cv2.ellipse(img, head_c, axes, 0, 180, 360, look.hair, -1, cv2.LINE_AA)
        if axes[0] >= 4:
            for dx in (-0.35, 0.35) if look.facing == "front" else (0.45,):
                eye = (int(head_c[0] + dx * axes[0]), head_c[1] + int(axes[1] * 0.05))
                cv2.circle(img, eye, max(1, axes[0] // 6), (30, 30, 30), -1)
    top_c = (head_c[0], head_c[1] - axes[1] // 4)
    if look.helmet:
        dome = (int(axes[0] * 1.2), int(axes[1] * 0.9))
        cv2.ellipse(img, top_c, dome, 0, 180, 360, look.helmet_color, -1, cv2.LINE_AA)
        cv2.ellipse(mask, top_c, dome, 0, 180, 360, 255, -1)
        brim_w = int(axes[0] * 1.5)
        line(
            (top_c[0] - brim_w, top_c[1]),
            (top_c[0] + brim_w, top_c[1]),
            _shade(look.helmet_color, 0.85),
            max(1, int(u * 0.12)),
        )
        gloss = (int(top_c[0] - dome[0] * 0.35), int(top_c[1] - dome[1] * 0.55))
        cv2.ellipse(
            img,
            gloss,
            (max(1, dome[0] // 4), max(1, dome[1] // 6)),
            -20,
            0,
            360,
            _shade(look.helmet_color, 1.35),
            -1,
            cv2.LINE_AA,
        )
    elif look.headwear == "beanie":
        cap = (int(axes[0] * 1.02), int(axes[1] * 0.8))
        cv2.ellipse(img, top_c, cap, 0, 180, 360, look.headwear_color, -1, cv2.LINE_AA)
        cv2.ellipse(mask, top_c, cap, 0, 180, 360, 255, -1)
    elif look.headwear == "cap":
        cap = (int(axes[0] * 1.0), int(axes[1] * 0.62))
        cv2.ellipse(img, top_c, cap, 0, 180, 360, look.headwear_color, -1, cv2.LINE_AA)
        cv2.ellipse(mask, top_c, cap, 0, 180, 360, 255, -1)
        peak = 1 if look.facing != "back" else 0
        if peak:
            line(
                (top_c[0], top_c[1]),
                (top_c[0] + axes[0] * 1.6, top_c[1] + 1),
                look.headwear_color,
                max(1, int(u * 0.14)),
            )
    return mask > 0


def walkway_background(rng: np.random.Generator, height: int, width: int) -> Frame:
    """A walkway: a wall with racks and cabinets, a floor with the walkway's painted edges."""
    img = np.zeros((height, width, 3), np.uint8)
    horizon = int(height * rng.uniform(0.35, 0.55))
    wall = np.array(
        _pick(rng, ((150, 150, 145), (170, 175, 180), (120, 130, 140), (190, 185, 175))), np.float32
    )
    floor = np.array(
        _pick(rng, ((110, 115, 110), (90, 100, 105), (60, 120, 90), (130, 130, 125))), np.float32
    )
    ramp = np.linspace(0.8, 1.1, height, dtype=np.float32)[:, None, None]
    img[:horizon] = np.clip(wall * ramp[:horizon], 0, 255)
    img[horizon:] = np.clip(floor * ramp[horizon:], 0, 255)
    for _ in range(int(rng.integers(2, 5))):  # racks and cabinets against the wall
        w, h = int(rng.uniform(0.08, 0.25) * width), int(rng.uniform(0.2, 0.5) * height)
        x, y = int(rng.uniform(0, max(1, width - w))), horizon - h + int(rng.uniform(0, 0.08) * height)
        color = _pick(rng, ((150, 120, 60), (90, 140, 70), (60, 60, 170), (170, 170, 170), (40, 160, 200)))
        cv2.rectangle(img, (x, y), (x + w, y + h), color, -1)
        cv2.rectangle(img, (x, y), (x + w, y + h), _shade(color, 0.5), 2)
        for shelf in range(1, 4):
            cv2.line(img, (x, y + shelf * h // 4), (x + w, y + shelf * h // 4), _shade(color, 0.6), 2)
    edge = (0, 200, 240) if rng.random() < 0.7 else (230, 230, 230)  # painted walkway edges
    for frac in (rng.uniform(0.6, 0.7), rng.uniform(0.92, 0.98)):
        y = int(height * frac)
        cv2.line(img, (0, y), (width, y), edge, max(2, height // 80))
    noise = rng.normal(0, 4, img.shape)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def _light(img: Frame, rng: np.random.Generator, tags: set[str]) -> Frame:
    """Lighting: a gain, sometimes far from 1, sometimes a sodium-lamp cast; then sensor noise."""
    gain = float(rng.uniform(0.8, 1.2))
    draw = rng.random()
    if draw < 0.12:
        gain = float(rng.uniform(0.35, 0.6))
        tags.add("dim")
    elif draw < 0.22:
        gain = float(rng.uniform(1.35, 1.7))
        tags.add("bright")
    out = img.astype(np.float32) * gain
    if rng.random() < 0.12:
        out *= np.array([0.65, 0.95, 1.2], np.float32)  # BGR: warm sodium light
        tags.add("cast")
    blurred = np.asarray(cv2.GaussianBlur(out, (3, 3), 0.8), np.float32) + rng.normal(0, 3, out.shape)
    return np.asarray(np.clip(blurred, 0, 255), np.uint8)


def _occlude(img: Frame, rng: np.random.Generator, box: tuple[int, int, int, int]) -> Mask:
    x0, y0, x1, y1 = box
    cover = np.zeros(img.shape[:2], np.uint8)
    color = _pick(rng, ((60, 90, 140), (150, 150, 150), (70, 130, 70), (40, 160, 200)))
    if rng.random() < 0.6:  # lower body behind a crate
        top = int(y0 + (y1 - y0) * rng.uniform(0.5, 0.68))
        rect = (x0 - (x1 - x0), top, x1 + (x1 - x0), img.shape[0])
    else:  # one side behind a column
        cut = int(x0 + (x1 - x0) * rng.uniform(0.3, 0.45))
        rect = (
            (x0 - (x1 - x0), 0, cut, img.shape[0])
            if rng.random() < 0.5
            else (x1 - (cut - x0), 0, x1 + (x1 - x0), img.shape[0])
        )
    cv2.rectangle(img, rect[:2], rect[2:], color, -1)
    cv2.rectangle(img, rect[:2], rect[2:], _shade(color, 0.6), 3)
    cv2.rectangle(cover, rect[:2], rect[2:], 255, -1)
    return cover > 0


@dataclass(frozen=True)
class PersonCrop:
    """A labelled person: the image around them and their visible box in it."""

    image: Frame
    box: tuple[int, int, int, int]
    helmet: bool
    vest: bool
    tags: frozenset[str]


def _box(mask: Mask) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) < 30:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def person_crops(count: int, *, seed: int, hard: float = 0.35) -> list[PersonCrop]:
    """``count`` labelled people, each alone on a patch of factory, the four PPE combinations balanced."""
    rng = np.random.default_rng(seed)
    crops: list[PersonCrop] = []
    while len(crops) < count:
        k = len(crops)
        helmet, vest = bool(k % 2), bool((k // 2) % 2)
        look = random_look(rng, helmet=helmet, vest=vest, hard=hard)
        tags = set(look.tags)
        height = int(rng.uniform(70, 260))
        if height < 90:
            tags.add("small")
        canvas_h, canvas_w = int(height * 1.35), int(height * 0.9)
        img = walkway_background(rng, canvas_h, canvas_w)
        foot_x, foot_y = canvas_w // 2 + int(rng.uniform(-0.05, 0.05) * canvas_w), int(canvas_h * 0.9)
        mask = draw_worker(img, rng, look, foot_x=foot_x, foot_y=foot_y, height_px=height)
        box = _box(mask)
        if box is None:
            continue
        if rng.random() < 0.2:
            mask &= ~_occlude(img, rng, box)
            tags.add("occluded")
            box = _box(mask)
            if box is None:
                continue
        img = _light(img, rng, tags)
        crops.append(PersonCrop(img, box, helmet, vest, frozenset(tags)))
    return crops


@dataclass(frozen=True)
class WalkwayPerson:
    box: tuple[int, int, int, int]
    foot: tuple[int, int]
    helmet: bool
    vest: bool
    tags: frozenset[str]


@dataclass(frozen=True)
class WalkwayScene:
    image: Frame
    people: tuple[WalkwayPerson, ...]


def walkway_scenes(
    count: int,
    *,
    seed: int,
    height: int = 480,
    width: int = 640,
    people: tuple[int, int] = (1, 3),
    helmet_rate: float = 0.7,
    vest_rate: float = 0.7,
    hard: float = 0.35,
) -> list[WalkwayScene]:
    """Frames of a walkway with 1-3 workers each, side by side (a demo station and the end-to-end bench)."""
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(count):
        img = walkway_background(rng, height, width)
        n = int(rng.integers(people[0], people[1] + 1))
        slots = rng.permutation(max(n, 3))[:n]
        drawn: list[tuple[Mask, WorkerLook, tuple[int, int], set[str]]] = []
        for slot in slots:
            look = random_look(
                rng, helmet=bool(rng.random() < helmet_rate), vest=bool(rng.random() < vest_rate), hard=hard
            )
            person_h = int(height * rng.uniform(0.45, 0.8))
            foot = (
                int(width * (slot + 0.5) / max(n, 3) + rng.uniform(-0.04, 0.04) * width),
                int(height * rng.uniform(0.88, 0.97)),
            )
            mask = draw_worker(img, rng, look, foot_x=foot[0], foot_y=foot[1], height_px=person_h)
            drawn = [(m & ~mask, lk, f, t) for m, lk, f, t in drawn]
            drawn.append((mask, look, foot, set(look.tags)))
        tags_light: set[str] = set()
        img = _light(img, rng, tags_light)
        found = []
        for mask, look, foot, tags in drawn:
            box = _box(mask)
            if box is not None:
                found.append(WalkwayPerson(box, foot, look.helmet, look.vest, frozenset(tags | tags_light)))
        scenes.append(WalkwayScene(img, tuple(found)))
    return scenes
