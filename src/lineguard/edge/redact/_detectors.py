"""The three person cues: a segmentation mask, whole-body boxes and face boxes.

* :class:`PersonSegmenter` — MediaPipe selfie segmentation: a per-pixel person
  probability; run on the whole frame and on tiles, fused by maximum. It sees people
  from any side and partly hidden ones, which the detectors need a head for.
* :class:`SsdDetector` — the BlazeFace-style single-shot detectors. As ``face`` it is
  MediaPipe's full-range face detector (small, distant faces); as ``body`` it is
  BlazePose's person detector, whose two alignment keypoints (hip centre and a point
  at full-body radius) give a box around the whole person.

Only boxes and scores leave this module. The detectors' keypoints are used for
geometry and dropped; nothing that could describe a face (landmarks, crops,
embeddings) is kept or returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from lineguard.contracts.types import Frame
from lineguard.edge.redact._errors import RedactionError
from lineguard.edge.redact._geometry import Tile, letterbox, tile_inputs

__all__ = ["Detection", "PersonSegmenter", "SsdDetector", "edge_weights", "ssd_anchors"]

Floats = npt.NDArray[np.float32]


def ssd_anchors(input_size: int, strides: tuple[int, ...], *, two_per_layer: bool) -> Floats:
    """Anchor centres (N x 2, in [0, 1]) as MediaPipe's SsdAnchorsCalculator lays them out.

    Consecutive layers with the same stride share one grid; each layer adds one anchor
    per cell, or two when an interpolated-scale anchor is configured. Fixed anchor size
    means only the centres matter.
    """
    centres: list[Floats] = []
    i = 0
    while i < len(strides):
        stride, per_cell = strides[i], 0
        while i < len(strides) and strides[i] == stride:
            per_cell += 2 if two_per_layer else 1
            i += 1
        grid = -(-input_size // stride)
        ys, xs = np.mgrid[0:grid, 0:grid]
        cells = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], -1).reshape(-1, 1, 2)
        centres.append(np.repeat(cells, per_cell, axis=1).reshape(-1, 2).astype(np.float32))
    return np.concatenate(centres)


@dataclass(frozen=True, slots=True)
class Detection:
    """A box in frame pixels (x0, y0, x1, y1) and its confidence."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float


def _check_output(name: str, array: Any, shape: tuple[int, ...]) -> Floats:
    out = np.asarray(array, dtype=np.float32)
    if out.shape != shape:
        msg = f"{name} model returned shape {out.shape}, expected {shape}"
        raise RedactionError(msg)
    if not np.isfinite(out).all():
        msg = f"{name} model returned non-finite values"
        raise RedactionError(msg)
    return out


def _rgb(image: Frame) -> Floats:
    import cv2

    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), dtype=np.float32)


class SsdDetector:
    """Single-shot face or body detector on the whole frame and on tiles."""

    def __init__(self, session: Any, kind: Literal["face", "body"], *, score_threshold: float) -> None:
        self._session = session
        self.kind = kind
        self._threshold = score_threshold
        if kind == "face":
            self._size, self._anchors = 192, ssd_anchors(192, (4,), two_per_layer=False)
        else:
            self._size, self._anchors = 224, ssd_anchors(224, (8, 16, 32, 32, 32), two_per_layer=True)
        self._values = 16 if kind == "face" else 12

    def _run(self, crop: Frame) -> list[tuple[float, Floats, Floats]]:
        boxed = letterbox(crop, self._size)
        tensor = (_rgb(boxed.image) / 127.5 - 1.0)[None]
        regressors, classes = self._session.run(None, {"input": tensor})
        count = len(self._anchors)
        reg = _check_output(self.kind, regressors, (1, count, self._values))[0]
        logits = _check_output(self.kind, classes, (1, count, 1))[0, :, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80.0, 80.0)))
        found = []
        for k in np.flatnonzero(scores >= self._threshold):
            centre = reg[k, 0:2] / self._size + self._anchors[k]
            half = reg[k, 2:4] / self._size / 2
            corners = np.stack([centre - half, centre + half]) * self._size
            keypoints = (reg[k, 4:].reshape(-1, 2) / self._size + self._anchors[k]) * self._size
            found.append((float(scores[k]), boxed.to_crop(corners), boxed.to_crop(keypoints)))
        return found

    def raw(self, image: Frame, tiles: list[Tile]) -> list[tuple[float, Floats, Floats]]:
        """``(score, box corners, keypoints)`` of every detection above the threshold, in frame pixels.

        For ``body`` the box is the detector's own (around the head) and keypoint 0 the hip
        centre, keypoint 1 a point at full-body radius from it.
        """
        # (offset x, offset y, crop-pixels-per-frame-pixel, crop): the whole frame, then the tiles.
        crops = [(0, 0, 1.0, image)] + [
            (t.x, t.y, scale, crop) for t, scale, crop in tile_inputs(image, tiles, self._size)
        ]
        found = []
        for off_x, off_y, scale, crop in crops:
            offset = np.array([off_x, off_y], np.float32)
            for score, corners, keypoints in self._run(crop):
                found.append((score, corners / scale + offset, keypoints / scale + offset))
        return found

    def detect(self, image: Frame, tiles: list[Tile]) -> list[Detection]:
        """Every detection above the threshold, in frame pixels (overlaps are kept: we hide their union)."""
        detections = []
        for score, corners, keypoints in self.raw(image, tiles):
            if self.kind == "face":
                (x0, y0), (x1, y1) = corners
            else:
                # BlazePose: keypoint 0 is the hip centre, keypoint 1 lies at the full-body radius.
                radius = float(np.linalg.norm(keypoints[1] - keypoints[0])) * 1.25
                (cx, cy) = keypoints[0]
                x0, y0, x1, y1 = cx - radius, cy - radius, cx + radius, cy + radius
                # The detector's own box (around the head) joins the body box.
                x0, y0 = min(x0, corners[0][0]), min(y0, corners[0][1])
                x1, y1 = max(x1, corners[1][0]), max(y1, corners[1][1])
            detections.append(Detection(float(x0), float(y0), float(x1), float(y1), score))
        return detections


class PersonSegmenter:
    """Per-pixel person probability, fused over the whole frame and tiles."""

    def __init__(self, square: Any, landscape: Any) -> None:
        self._square = square
        self._landscape = landscape

    def _run(self, session: Any, crop: Frame, hw: tuple[int, int], out_wh: tuple[int, int]) -> Floats:
        import cv2

        small = np.asarray(cv2.resize(crop, (hw[1], hw[0]), interpolation=cv2.INTER_AREA), dtype=np.uint8)
        out = session.run(None, {"input": (_rgb(small) / 255.0)[None]})[0]
        prob = _check_output("segmentation", out, (1, hw[0], hw[1], 1))[0, :, :, 0]
        return np.asarray(cv2.resize(prob, out_wh, interpolation=cv2.INTER_LINEAR), dtype=np.float32)

    def probability(
        self, image: Frame, tiles: list[Tile], work_scale: float, *, taper: float = 0.0
    ) -> Floats:
        """Person probability on a map ``work_scale`` times the frame's size.

        Tiles are cut from the full-resolution frame (small people keep their pixels);
        only the fused map is kept at the coarser working scale, which is all that box
        finding needs and saves most of the resizing. ``taper``: see :func:`edge_weights`.
        """
        height, width = image.shape[:2]
        work_w, work_h = max(1, round(width * work_scale)), max(1, round(height * work_scale))
        # The landscape model fits wide frames without squeezing people thin.
        if width >= height * 1.3:
            prob = self._run(self._landscape, image, (144, 256), (work_w, work_h))
        else:
            prob = self._run(self._square, image, (256, 256), (work_w, work_h))
        for t, _, crop in tile_inputs(image, tiles, 256):
            x0, y0 = round(t.x * work_scale), round(t.y * work_scale)
            x1 = min(work_w, round((t.x + t.side) * work_scale))
            y1 = min(work_h, round((t.y + t.side) * work_scale))
            if x1 <= x0 or y1 <= y0:
                continue
            view = prob[y0:y1, x0:x1]
            tile_prob = self._run(self._square, crop, (256, 256), (x1 - x0, y1 - y0))
            if taper > 0:
                tile_prob *= edge_weights(
                    (y1 - y0, x1 - x0),
                    taper,
                    inner=(t.y > 0, t.y + t.side < height, t.x > 0, t.x + t.side < width),
                )
            np.maximum(view, tile_prob, out=view)
        return prob


def edge_weights(shape: tuple[int, int], taper: float, *, inner: tuple[bool, bool, bool, bool]) -> Floats:
    """Weights of a tile's probabilities: 1 inside, fading to 0 over ``taper`` of its side
    towards each edge that lies inside the frame (``inner``: top, bottom, left, right).

    The selfie model was trained on pictures a person enters from the border, so it calls
    anything its input's border cuts a person; tiles overlap, so another view sees that
    place away from its own border and decides there.
    """
    height, width = shape

    def ramp(n: int, low: bool, high: bool) -> Floats:
        band = max(1, round(taper * n))
        weights = np.ones(n, np.float32)
        fade = (np.arange(band, dtype=np.float32) + 0.5) / band
        if low:
            weights[: min(band, n)] = np.minimum(weights[: min(band, n)], fade[:n])
        if high:
            weights[-min(band, n) :] = np.minimum(weights[-min(band, n) :], fade[::-1][-n:])
        return weights

    top, bottom, left, right = inner
    return np.asarray(ramp(height, top, bottom)[:, None] * ramp(width, left, right)[None, :], np.float32)
