"""Generated labels for tests, the benchmark and the demo: a GS1 code beside printed text.

:func:`render_label` draws a label the way a thermal-transfer printer would (black on a
white card: a GS1 DataMatrix or GS1-128 code and four text lines ``P/N``, ``LOT``, ``DATE``,
``QTY``); :func:`degrade` applies what a line camera sees (perspective, blur, glare, low
contrast, print defects, sensor noise) at a given severity; :func:`place` puts it on a
frame at a known region. Everything is drawn with OpenCV's built-in fonts: nothing to
download, the same pixels on every machine for a given seed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any, Literal

import cv2
import numpy as np

__all__ = ["Degradation", "LabelContent", "capture", "degrade", "place", "print_label", "render_label"]

Image = np.ndarray[Any, Any]


@dataclass(frozen=True)
class LabelContent:
    """What a label says; ``gtin`` is printed into the code as given (a bad check digit stays bad)."""

    part_number: str
    gtin: str
    lot: str
    date: dt.date
    quantity: int
    date_ai: Literal["11", "17"] = "11"
    #: Printed text that differs from the code (a label printed from two sources): field → text value.
    text_override: tuple[tuple[str, str], ...] = ()

    def element_string(self) -> str:
        return (
            f"(01){self.gtin}(10){self.lot}({self.date_ai}){self.date.strftime('%y%m%d')}(30){self.quantity}"
        )

    def text_lines(self) -> list[str]:
        values = {
            "part_number": self.part_number,
            "lot": self.lot,
            "date": self.date.isoformat(),
            "quantity": str(self.quantity),
        } | dict(self.text_override)
        return [
            f"P/N {values['part_number']}",
            f"LOT {values['lot']}",
            f"DATE {values['date']}",
            f"QTY {values['quantity']}",
        ]

    def with_(self, **changes: Any) -> LabelContent:
        return replace(self, **changes)


def render_label(
    content: LabelContent, *, code: Literal["DataMatrix", "Code128"] = "DataMatrix", module_px: int = 6
) -> Image:
    """The label as printed: BGR uint8, white card, black ink; ``module_px`` pixels per 2D module
    (a 1D code gets half, at least 3: what an imager needs to resolve a bar)."""
    import zxingcpp

    fmt = zxingcpp.BarcodeFormat.DataMatrix if code == "DataMatrix" else zxingcpp.BarcodeFormat.Code128
    symbol = zxingcpp.create_barcode(content.element_string(), fmt, gs1=True)
    mark = np.asarray(symbol.to_image(scale=module_px if code == "DataMatrix" else max(3, module_px // 2)))
    if code == "Code128":
        mark = cv2.resize(mark, (mark.shape[1], 70), interpolation=cv2.INTER_NEAREST)
    lines = content.text_lines()
    text_w, line_h, quiet = 330, 42, 4 * module_px
    if code == "DataMatrix":
        height = max(mark.shape[0] + 2 * quiet, line_h * len(lines) + 30)
        width = mark.shape[1] + 2 * quiet + text_w
        card = np.full((height, width), 255, np.uint8)
        card[quiet : quiet + mark.shape[0], quiet : quiet + mark.shape[1]] = mark
        x0, y0 = mark.shape[1] + 2 * quiet, 40
    else:
        width = max(mark.shape[1] + 2 * quiet, text_w + 40)
        height = mark.shape[0] + 2 * quiet + line_h * len(lines) + 10
        card = np.full((height, width), 255, np.uint8)
        card[quiet : quiet + mark.shape[0], quiet : quiet + mark.shape[1]] = mark
        x0, y0 = quiet, mark.shape[0] + 2 * quiet + 28
    for i, line in enumerate(lines):
        cv2.putText(card, line, (x0, y0 + i * line_h), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 0, 2, cv2.LINE_AA)
    return cv2.cvtColor(card, cv2.COLOR_GRAY2BGR)


@dataclass(frozen=True)
class Degradation:
    """How far a captured label is from a clean print; 0 everywhere is the print itself."""

    perspective: float = 0.0  # corner displacement, fraction of the label's size
    blur_sigma_px: float = 0.0
    glare: float = 0.0  # peak added brightness of a glare spot, grey levels
    contrast: float = 1.0  # ink darkness kept: 1 = black, 0.3 = light grey
    defects: int = 0  # print defects: unprinted lines along the feed (a dead printhead dot) and voids
    noise_std: float = 0.0
    upside_down: bool = False


def degrade(label: Image, d: Degradation, rng: np.random.Generator) -> Image:
    """The label as the camera sees it under ``d`` (random placement of defects and glare)."""
    return capture(print_label(label, d, rng), d, rng)


def print_label(label: Image, d: Degradation, rng: np.random.Generator) -> Image:
    """The label as printed and applied (contrast, print defects, orientation): the same in
    every frame the camera takes of it. Float32, for :func:`capture`."""
    img: Image = label.astype(np.float32)
    h, w = img.shape[:2]
    if d.contrast < 1.0:
        img = 255 - (255 - img) * d.contrast
    for _ in range(d.defects):
        if rng.random() < 0.5:
            # A dead printhead dot: a thin unprinted line along the feed direction. Labels feed
            # along their length, so it runs across the bars of a 1D code (ISO 15416 "picket fence").
            y = int(rng.integers(0, h))
            img[y : y + int(rng.integers(1, 3)), :] = 255
        else:  # a void: a small unprinted patch
            cx, cy, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(1, 4))
            cv2.circle(img, (cx, cy), r, (255, 255, 255), -1)
    if d.upside_down:
        img = cv2.rotate(img, cv2.ROTATE_180)
    return img


def capture(printed: Image, d: Degradation, rng: np.random.Generator) -> Image:
    """One frame of a printed label (:func:`print_label`): glare spot, perspective jitter and
    sensor noise are drawn from ``rng`` (they change from frame to frame as the part moves)."""
    img = printed.copy()
    h, w = img.shape[:2]
    if d.glare > 0:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        sx, sy = rng.uniform(0.08, 0.2) * w, rng.uniform(0.15, 0.35) * h
        spot = d.glare * np.exp(-(((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2) / 2)
        img = img + spot[:, :, None]
    if d.perspective > 0:
        src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
        jitter = rng.uniform(-d.perspective, d.perspective, (4, 2)) * np.array([w, h], np.float32)
        dst = (src + jitter).astype(np.float32)
        dst -= dst.min(axis=0)
        size = (int(dst[:, 0].max()) + 1, int(dst[:, 1].max()) + 1)
        matrix = cv2.getPerspectiveTransform(src, dst)
        img = cv2.warpPerspective(img, matrix, size, borderValue=(255, 255, 255))
    if d.blur_sigma_px > 0:
        img = cv2.GaussianBlur(img, (0, 0), d.blur_sigma_px)
    if d.noise_std > 0:
        img = img + np.asarray(rng.normal(0.0, d.noise_std, size=img.shape), np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def place(
    label: Image | None, *, frame_size: tuple[int, int] = (640, 480), at: tuple[int, int] = (40, 60)
) -> Image:
    """A grey frame (width, height) with the label's top-left corner at ``at``; None: no label."""
    width, height = frame_size
    frame = np.full((height, width, 3), 96, np.uint8)
    if label is not None:
        x, y = at
        lh, lw = min(label.shape[0], height - y), min(label.shape[1], width - x)
        frame[y : y + lh, x : x + lw] = label[:lh, :lw]
    return frame
