"""What the PPE classifier sees of a person: a fixed-length vector from their box.

The box is cut out, resized to :data:`CROP_W` × :data:`CROP_H` and normalised for light
(each channel divided by the crop's bright level, so a dim walkway and a bright one give
the same colours; a colour cast is partly undone by the same division). The vector holds:

* a coarse colour map of the **head band** (top 22 % of the box, where a helmet is) and
  of the **torso band** (18–58 %, where a vest is): per cell the chromaticity (r, g), the
  normalised brightness and the saturation;
* counts that describe the items directly: the share of fluorescent pixels (high
  saturation and brightness, yellow-green to orange hue) per band, the share of bright
  unsaturated pixels (reflective bands) in the torso, how many torso rows look like a band,
  and the silhouette's width at the top of the head against lower down (a brim is wide).

Nothing here can identify anyone: the vector is 16×16 colours and a dozen shares, computed
and dropped per box (no face detail survives a 4-pixel-wide head cell).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from lineguard.contracts.types import Frame

__all__ = [
    "CROP_H",
    "CROP_W",
    "FEATURE_COUNT",
    "FEATURE_VERSION",
    "HEAD_SIDE",
    "PersonPixels",
    "crop_person",
    "features",
]

FEATURE_VERSION = 1
CROP_W, CROP_H = 24, 48
HEAD_SIDE = 18
#: A person's pixels as the classifier takes them: the body crop and the head crop.
PersonPixels = tuple[Frame, Frame]
Vector = npt.NDArray[np.float32]

_HEAD = (0.0, 0.22)
_TORSO = (0.18, 0.58)
_CELLS_X = 4
_HEAD_ROWS, _TORSO_ROWS = 4, 8


def crop_person(image: Frame, box: tuple[int, int, int, int]) -> PersonPixels:
    """The box (x0, y0, x1, y1, clipped to the frame) as a CROP_W × CROP_H body crop, and
    its head (a square on the top quarter of the box, centred) as HEAD_SIDE × HEAD_SIDE."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = max(0, box[0]), max(0, box[1]), min(width, box[2]), min(height, box[3])
    if x1 - x0 < 2 or y1 - y0 < 8:
        msg = f"person box {box} is empty inside the {width}x{height} frame"
        raise ValueError(msg)
    body = cv2.resize(image[y0:y1, x0:x1], (CROP_W, CROP_H), interpolation=cv2.INTER_AREA)
    side = max(4, int((y1 - y0) * 0.22))
    cx = (x0 + x1) // 2
    hx0, hx1 = max(0, cx - side // 2), min(width, cx - side // 2 + side)
    head = cv2.resize(
        image[y0 : min(height, y0 + side), hx0:hx1], (HEAD_SIDE, HEAD_SIDE), interpolation=cv2.INTER_AREA
    )
    return np.asarray(body, np.uint8), np.asarray(head, np.uint8)


def _band(values: npt.NDArray[np.float32], rows: tuple[float, float]) -> npt.NDArray[np.float32]:
    return values[int(rows[0] * CROP_H) : int(np.ceil(rows[1] * CROP_H))]


def _cells(values: npt.NDArray[np.float32], rows: int) -> npt.NDArray[np.float32]:
    """Mean of each of rows × _CELLS_X cells, per channel, flattened."""
    resized = cv2.resize(values, (_CELLS_X, rows), interpolation=cv2.INTER_AREA)
    return np.asarray(resized, np.float32).reshape(-1)


def features(person: PersonPixels) -> Vector:
    """The feature vector of one person (body crop and head crop)."""
    crop, head = person
    if crop.shape != (CROP_H, CROP_W, 3) or head.shape != (HEAD_SIDE, HEAD_SIDE, 3):
        msg = (
            f"expected a {CROP_W}x{CROP_H} body and a {HEAD_SIDE}x{HEAD_SIDE} head crop, "
            f"got {crop.shape}, {head.shape}"
        )
        raise ValueError(msg)
    bgr = crop.astype(np.float32)
    bright = np.percentile(bgr.reshape(-1, 3), 95, axis=0) + 8.0
    norm = np.clip(bgr / bright * 200.0, 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(norm, cv2.COLOR_BGR2HSV).astype(np.float32)
    hue, sat, val = hsv[..., 0], hsv[..., 1] / 255.0, hsv[..., 2] / 255.0
    total = norm.astype(np.float32).sum(axis=2) + 1.0
    chroma_r, chroma_g = norm[..., 2] / total, norm[..., 1] / total
    planes = np.stack([chroma_r, chroma_g, val, sat], axis=2).astype(np.float32)
    fluorescent = ((hue >= 5) & (hue <= 45) & (sat > 0.55) & (val > 0.6)).astype(np.float32)
    reflective = ((sat < 0.2) & (val > 0.7)).astype(np.float32)
    saturated = (sat > 0.45).astype(np.float32)
    head_planes, torso_planes = _band(planes, _HEAD), _band(planes, _TORSO)
    torso_fluo, torso_refl = _band(fluorescent, _TORSO), _band(reflective, _TORSO)
    mid = slice(CROP_W // 5, CROP_W - CROP_W // 5)
    band_rows = (torso_refl[:, mid].mean(axis=1) > 0.5) & (torso_fluo[:, mid].mean(axis=1) < 0.5)
    # A band row between fluorescent rows: the vest's reflective stripe.
    row_fluo = torso_fluo[:, mid].mean(axis=1)
    flanked = 0.0
    for r in np.flatnonzero(band_rows):
        above, below = row_fluo[max(0, r - 3) : r], row_fluo[r + 1 : r + 4]
        if above.size and below.size and above.max() > 0.3 and below.max() > 0.3:
            flanked += 1.0
    head_sat = _band(saturated, (0.0, 0.12))
    top_rows = _band(saturated + (val > 0.0).astype(np.float32) * 0, (0.0, 0.12))
    head_fluo = _band(fluorescent, (0.0, 0.12))
    width_top = float((head_sat.mean(axis=0) > 0.3).sum()) / CROP_W
    width_neck = float((_band(saturated, (0.12, 0.2)).mean(axis=0) > 0.3).sum()) / CROP_W
    gloss = float(((_band(val, (0.0, 0.12)) > 0.85) & (_band(sat, (0.0, 0.12)) > 0.25)).mean())
    extra = np.array(
        [
            float(torso_fluo.mean()),
            float(torso_fluo[:, mid].mean()),
            float(torso_refl[:, mid].mean()),
            float(band_rows.sum()) / 4.0,
            flanked / 2.0,
            float(head_sat.mean()),
            float(head_fluo.mean()),
            float(top_rows.mean()),
            width_top,
            width_top - width_neck,
            gloss,
            float(_band(fluorescent, _HEAD).mean()),
        ],
        np.float32,
    )
    return np.concatenate(
        [_cells(head_planes, _HEAD_ROWS), _cells(torso_planes, _TORSO_ROWS), extra, _head_detail(head)]
    ).astype(np.float32)


def _head_detail(head: Frame) -> Vector:
    """The head at finer scale: colour planes on a 6×6 grid and edge orientations on a 3×3 grid."""
    bgr = head.astype(np.float32)
    norm = np.clip(bgr / (np.percentile(bgr.reshape(-1, 3), 95, axis=0) + 8.0) * 200.0, 0, 255).astype(
        np.uint8
    )
    hsv = cv2.cvtColor(norm, cv2.COLOR_BGR2HSV).astype(np.float32)
    total = norm.astype(np.float32).sum(axis=2) + 1.0
    planes = np.stack(
        [norm[..., 2] / total, norm[..., 1] / total, hsv[..., 2] / 255.0, hsv[..., 1] / 255.0], 2
    )
    grid = np.asarray(cv2.resize(planes.astype(np.float32), (6, 6), interpolation=cv2.INTER_AREA), np.float32)
    gray = cv2.cvtColor(norm, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
    gx, gy = cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    mag, ang = np.hypot(gx, gy), (np.arctan2(gy, gx) % np.pi) / np.pi * _ORIENTATIONS
    hist = np.zeros((3, 3, _ORIENTATIONS), np.float32)
    side = HEAD_SIDE // 3
    for cy in range(3):
        for cx in range(3):
            a = ang[cy * side : (cy + 1) * side, cx * side : (cx + 1) * side].astype(np.int32) % _ORIENTATIONS
            m = mag[cy * side : (cy + 1) * side, cx * side : (cx + 1) * side]
            hist[cy, cx] = np.bincount(a.reshape(-1), m.reshape(-1), _ORIENTATIONS)
    hist /= hist.sum() + 1e-3
    return np.concatenate([grid.reshape(-1), hist.reshape(-1)]).astype(np.float32)


_ORIENTATIONS = 6
FEATURE_COUNT = (_HEAD_ROWS + _TORSO_ROWS) * _CELLS_X * 4 + 12 + 6 * 6 * 4 + 9 * _ORIENTATIONS
