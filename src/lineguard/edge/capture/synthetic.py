"""A synthetic production line: parts on a conveyor, some defective, people walking by.

Used by the demo, the tests and the benchmark, where no camera exists. Each part stays
under the camera for ``frames_per_part`` frames, creeping along the belt; a share of
parts (``defect_rate``) carries a scratch, dent, contamination or missing hole, and in
a share of part cycles (``person_rate``) a worker in a hi-vis vest walks across the
frame, sometimes in front of the part. Everything is a pure function of the seed and
the frame number, and :meth:`SyntheticLine.truth` gives the ground truth of any frame
(part id, defect kind and box, person box), so tests can check verdicts, debouncing
and redaction against what was really there.

Frames are cheap to make at 720p (a cached belt, a cached part sprite, a cached noise
tile, a few OpenCV primitives), so the source is never the bottleneck of a benchmark.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import cv2
import numpy as np

from lineguard.config.edge import SyntheticSource
from lineguard.contracts.events import BoundingBox
from lineguard.contracts.types import CapturedFrame, Frame, SourceState
from lineguard.edge.capture.base import BaseSource, Pacer
from lineguard.edge.capture.part_render import DEFECT_KINDS, DefectKind, RenderedPart, render_part

__all__ = ["FrameTruth", "SyntheticLine"]


@dataclass(frozen=True, slots=True)
class FrameTruth:
    """What is really in one synthetic frame."""

    part_id: str
    part_index: int
    defect: DefectKind | None
    part_box: BoundingBox
    defect_box: BoundingBox | None
    person_box: BoundingBox | None


def _box(x0: int, y0: int, x1: int, y1: int, width: int, height: int) -> BoundingBox | None:
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if x1 <= x0 or y1 <= y0:
        return None
    return BoundingBox(x=x0, y=y0, width=x1 - x0, height=y1 - y0)


class SyntheticLine(BaseSource):
    """A :class:`~lineguard.contracts.types.FrameSource` drawing a conveyor line."""

    def __init__(
        self,
        camera_id: str,
        config: SyntheticSource,
        *,
        realtime: bool = True,
        frames_per_part: int = 6,
        max_frames: int | None = None,
    ) -> None:
        super().__init__(camera_id)
        self.config = config
        self.width, self.height = config.width, config.height
        self.frames_per_part = frames_per_part
        self.max_frames = max_frames
        self._pacer = Pacer(config.fps if realtime else None)
        self.part_size = int(min(self.height * 0.5, self.width * 0.4))
        self._belt = self._render_belt()
        rng = np.random.default_rng([config.seed, 7])
        # Sensor noise as pairs of uint8 tiles (added, then subtracted): two saturating
        # OpenCV ops on 8-bit data are ~10x cheaper than int16 arithmetic at 720p.
        self._noise = [
            (
                np.abs(rng.normal(0, 4, (self.height, self.width, 3))).astype(np.uint8),
                np.abs(rng.normal(0, 4, (self.height, self.width, 3))).astype(np.uint8),
            )
            for _ in range(3)
        ]

    # -- geometry --------------------------------------------------------------

    def part_roi(self) -> BoundingBox:
        """The region every part stays inside while under the camera: the model's ROI."""
        s = self.part_size
        w = int(s * 1.3)
        return BoundingBox(
            x=(self.width - w) // 2, y=(self.height - s) // 2 - s // 10, width=w, height=int(s * 1.2)
        )

    def _part_origin(self, frame_id: int) -> tuple[int, int]:
        phase = (frame_id % self.frames_per_part) / max(self.frames_per_part - 1, 1)
        drift = int((phase - 0.5) * self.part_size * 0.2)
        return (self.width - self.part_size) // 2 + drift, (self.height - self.part_size) // 2

    # -- deterministic content -------------------------------------------------

    def part_defect(self, part_index: int) -> DefectKind | None:
        rng = np.random.default_rng([self.config.seed, part_index, 1])
        if rng.random() >= self.config.defect_rate:
            return None
        return DEFECT_KINDS[int(rng.integers(len(DEFECT_KINDS)))]

    def has_person(self, part_index: int) -> bool:
        return bool(
            np.random.default_rng([self.config.seed, part_index, 2]).random() < self.config.person_rate
        )

    @lru_cache(maxsize=4)  # noqa: B019 - one instance per camera, a handful of parts
    def _part(self, part_index: int) -> RenderedPart:
        rng = np.random.default_rng([self.config.seed, part_index, 3])
        return render_part(self.part_size, rng, self.part_defect(part_index))

    @lru_cache(maxsize=4)  # noqa: B019 - as above
    def _part_layers(self, part_index: int) -> tuple[np.ndarray, np.ndarray]:
        """(shadow multiplier 0..255, opaque mask) of a part, computed once per part."""
        part = self._part(part_index)
        shadow = 255 - cv2.GaussianBlur(part.alpha, (0, 0), 6)[:, :, None] // 2
        opaque = (part.alpha > 127).astype(np.uint8)
        return np.repeat(shadow, 3, axis=2).astype(np.uint8), opaque

    def _render_belt(self) -> Frame:
        rng = np.random.default_rng([self.config.seed, 5])
        h, w = self.height, self.width
        belt = rng.normal(62, 6, (h, w)).astype(np.float32)
        belt += (np.sin(np.arange(w, dtype=np.float32) * 0.9) * 3)[None, :]  # weave
        belt = np.asarray(cv2.GaussianBlur(belt, (0, 0), 1.2), np.float32)
        rail = int(h * 0.12)
        belt[:rail] = 120 + rng.normal(0, 3, (rail, w))
        belt[h - rail :] = 120 + rng.normal(0, 3, (rail, w))
        belt[rail - 4 : rail] = 180
        belt[h - rail : h - rail + 4] = 180
        return np.clip(np.repeat(belt[:, :, None], 3, axis=2), 0, 255).astype(np.uint8)

    def truth(self, frame_id: int) -> FrameTruth:
        index = frame_id // self.frames_per_part
        part = self._part(index)
        ox, oy = self._part_origin(frame_id)
        s = self.part_size
        part_box = _box(ox, oy, ox + s, oy + s, self.width, self.height)
        assert part_box is not None  # noqa: S101 - the part is always inside the frame
        defect_box = None
        if part.defect is not None:
            ys, xs = np.nonzero(part.defect_mask)
            if len(xs):
                defect_box = _box(
                    ox + int(xs.min()),
                    oy + int(ys.min()),
                    ox + int(xs.max()) + 1,
                    oy + int(ys.max()) + 1,
                    self.width,
                    self.height,
                )
        return FrameTruth(
            f"part-{index:06d}", index, part.defect, part_box, defect_box, self._person_box(frame_id)
        )

    def _person_box(self, frame_id: int) -> BoundingBox | None:
        index = frame_id // self.frames_per_part
        if not self.has_person(index):
            return None
        phase = (frame_id % self.frames_per_part + 0.5) / self.frames_per_part
        pw, ph = int(self.height * 0.35), int(self.height * 0.95)
        x = int(-pw + phase * (self.width + pw))
        return _box(x, self.height - ph, x + pw, self.height, self.width, self.height)

    # -- drawing ---------------------------------------------------------------

    def render(self, frame_id: int) -> Frame:
        """The frame ``frame_id`` of this line (pure function of the seed)."""
        index = frame_id // self.frames_per_part
        shadow, opaque = self._part_layers(index)
        return self._compose(frame_id, self._part(index), shadow, opaque)

    def render_with(self, frame_id: int, part: RenderedPart) -> tuple[Frame, np.ndarray]:
        """Frame ``frame_id`` showing ``part`` instead of the line's own; plus its defect mask."""
        shadow = 255 - cv2.GaussianBlur(part.alpha, (0, 0), 6)[:, :, None] // 2
        opaque = (part.alpha > 127).astype(np.uint8)
        image = self._compose(frame_id, part, np.repeat(shadow, 3, axis=2).astype(np.uint8), opaque)
        mask = np.zeros(image.shape[:2], np.uint8)
        ox, oy = self._part_origin(frame_id)
        mask[oy : oy + self.part_size, ox : ox + self.part_size] = part.defect_mask
        return image, mask

    def _compose(self, frame_id: int, part: RenderedPart, shadow: np.ndarray, opaque: np.ndarray) -> Frame:
        image = self._belt.copy()
        ox, oy = self._part_origin(frame_id)
        s = self.part_size
        region = image[oy : oy + s, ox : ox + s]
        region[:] = cv2.multiply(region, shadow, scale=1 / 255)
        cv2.copyTo(part.image, opaque, region)
        person = self._person_box(frame_id)
        if person is not None:
            self._draw_person(image, person)
        # Lighting flicker: a small per-frame gain, then sensor noise.
        gain = 0.94 + 0.12 * ((frame_id * 7919 + self.config.seed) % 97) / 96
        cv2.convertScaleAbs(image, dst=image, alpha=gain)
        plus, minus = self._noise[frame_id % len(self._noise)]
        cv2.add(image, plus, dst=image)
        cv2.subtract(image, minus, dst=image)
        return image

    @staticmethod
    def _draw_person(image: Frame, box: BoundingBox) -> None:
        """A worker seen from the side: head, hair, hi-vis vest, dark trousers, arms."""
        x, y, w, h = box.x, box.y, box.width, box.height
        cx = x + w // 2
        head_r = max(4, h // 14)
        skin, hair, vest, trousers = (120, 160, 215), (30, 35, 45), (20, 140, 250), (70, 50, 40)
        cv2.rectangle(image, (cx - w // 5, y + int(h * 0.55)), (cx + w // 5, y + h), trousers, -1)
        cv2.rectangle(image, (cx - w // 4, y + head_r * 2), (cx + w // 4, y + int(h * 0.58)), vest, -1)
        cv2.rectangle(
            image, (cx - w // 4, y + int(h * 0.4)), (cx + w // 4, y + int(h * 0.44)), (200, 220, 220), -1
        )
        cv2.line(image, (cx - w // 4, y + head_r * 3), (x + 2, y + int(h * 0.5)), skin, max(3, w // 12))
        cv2.line(image, (cx + w // 4, y + head_r * 3), (x + w - 2, y + int(h * 0.5)), skin, max(3, w // 12))
        cv2.ellipse(image, (cx, y + head_r), (int(head_r * 0.85), head_r), 0, 0, 360, skin, -1)
        cv2.ellipse(image, (cx, y + head_r // 2), (int(head_r * 0.9), head_r // 2), 0, 180, 360, hair, -1)
        cv2.circle(image, (cx - head_r // 3, y + head_r), max(1, head_r // 8), (20, 20, 20), -1)
        cv2.circle(image, (cx + head_r // 3, y + head_r), max(1, head_r // 8), (20, 20, 20), -1)

    def frames_of_parts(self, first_part: int, count: int) -> Iterator[CapturedFrame]:
        """The frames of parts ``first_part`` … ``first_part + count - 1``, unpaced: known
        parts of this same line (its belt, camera, lighting) for calibration and benchmarks."""
        start = first_part * self.frames_per_part
        for fid in range(start, start + count * self.frames_per_part):
            yield CapturedFrame(
                self.camera_id,
                fid,
                datetime.now(UTC),
                self.render(fid),
                f"part-{fid // self.frames_per_part:06d}",
            )

    # -- FrameSource -----------------------------------------------------------

    def open(self) -> None:
        self._state = SourceState.STREAMING

    def read(self) -> CapturedFrame | None:
        if self._state is not SourceState.STREAMING:
            return None
        if self.max_frames is not None and self._next_frame_id >= self.max_frames:
            self._state = SourceState.ENDED
            return None
        if not self._pacer.wait():
            return None
        fid = self._next_frame_id
        return self._frame(self.render(fid), part_id=f"part-{fid // self.frames_per_part:06d}")

    def close(self) -> None:
        if self._state is not SourceState.ENDED:
            self._state = SourceState.ENDED
