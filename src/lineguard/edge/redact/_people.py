"""``PersonDetector``: the redaction models, asked only *where* people are (for PPE counting).

The same vendored models as :class:`~lineguard.edge.redact.PersonRedactor` — the BlazePose
person detector for whole bodies and the selfie segmentation mask — so counting adds no
detection capability the node did not already have: no face detector runs here, no
landmarks are returned, nothing links a box to another frame. Each body detection's box is
tightened to the person-mask pixels inside it (the body box is a square around the hip
centre, much wider than a person), then overlapping boxes are merged (non-maximum
suppression). Only boxes and scores leave.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lineguard.contracts.types import Frame
from lineguard.edge.redact._apply import check_frame
from lineguard.edge.redact._detectors import PersonSegmenter, SsdDetector
from lineguard.edge.redact._errors import RedactionError
from lineguard.edge.redact._geometry import square_tiles
from lineguard.edge.redact._models import MODELS, load_session
from lineguard.edge.redact._types import Box

__all__ = ["FoundPerson", "PersonDetector"]


@dataclass(frozen=True, slots=True)
class FoundPerson:
    box: Box
    score: float


def _iou(a: Box, b: Box) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    inter = max(0, w) * max(0, h)
    union = a.area + b.area - inter
    return inter / union if union else 0.0


class PersonDetector:
    """Whole-body boxes of the people in a frame (no hiding, no faces)."""

    def __init__(
        self,
        *,
        score_threshold: float = 0.3,
        mask_threshold: float = 0.5,
        tiles: tuple[float, ...] = (1.0,),
        threads: int = 1,
        model_dir: Path | None = None,
    ) -> None:
        self._body = SsdDetector(
            load_session(MODELS["body"], threads=threads, model_dir=model_dir),
            "body",
            score_threshold=score_threshold,
        )
        self._segmenter = PersonSegmenter(
            load_session(MODELS["segmentation"], threads=threads, model_dir=model_dir),
            load_session(MODELS["segmentation_landscape"], threads=threads, model_dir=model_dir),
        )
        self._mask_threshold, self._tiles = mask_threshold, tiles

    def find(self, image: Frame) -> list[FoundPerson]:
        frame = check_frame(image)
        height, width = frame.shape[:2]
        try:
            tiles = [t for f in self._tiles for t in square_tiles(height, width, f)]
            boxes = [
                self._geometric(score, head, hip, (height, width))
                for score, head, hip in self._body.raw(frame, tiles)
            ]
            kept: list[FoundPerson] = []
            for person in sorted((b for b in boxes if b is not None), key=lambda p: -p.score):
                if all(_iou(person.box, k.box) < 0.4 for k in kept):
                    kept.append(person)
            return [self._tighten(frame, p) for p in kept]
        except RedactionError:
            raise
        except Exception as exc:  # onnxruntime's own errors
            msg = f"person detection failed: {exc}"
            raise RedactionError(msg) from exc

    @staticmethod
    def _geometric(
        score: float, head: np.ndarray, keypoints: np.ndarray, hw: tuple[int, int]
    ) -> FoundPerson | None:
        """The person's box from the detector's head box and hip centre.

        A standing person is about as long from the hips down as from the hips up, and about
        half as wide as tall (arms swinging). A box under 16 px tall is no person to judge.
        """
        height, width = hw
        (hx, hy) = keypoints[0]
        top = float(head[0][1])
        tall = 2.0 * (hy - top)
        if tall < 16:
            return None
        box = Box(
            max(0, int(hx - tall * 0.28)),
            max(0, int(top)),
            min(width, int(np.ceil(hx + tall * 0.28))),
            min(height, int(np.ceil(top + tall))),
        )
        return FoundPerson(box, score) if box.area > 0 else None

    def _tighten(self, frame: Frame, person: FoundPerson) -> FoundPerson:
        """The person mask's extent inside the box, when the mask sees the person there."""
        b = person.box
        side = max(b.x1 - b.x0, b.y1 - b.y0)
        cx = (b.x0 + b.x1) // 2
        x0 = max(0, min(frame.shape[1] - side, cx - side // 2)) if frame.shape[1] >= side else 0
        crop = frame[b.y0 : b.y0 + side, x0 : x0 + side]
        prob = self._segmenter.probability(np.ascontiguousarray(crop), [], min(1.0, 256 / side))
        scale = prob.shape[0] / crop.shape[0]
        wx0, wx1 = int((b.x0 - x0) * scale), max(int((b.x0 - x0) * scale) + 1, int((b.x1 - x0) * scale))
        window = prob[: max(1, int((b.y1 - b.y0) * scale)), wx0:wx1]
        ys, xs = np.nonzero(window >= self._mask_threshold)
        if len(xs) < 0.1 * window.size:
            return person
        pad = 1.0 / scale
        return FoundPerson(
            Box(
                max(b.x0, int(x0 + (wx0 + xs.min()) / scale - pad)),
                max(b.y0, int(b.y0 + ys.min() / scale - pad)),
                min(b.x1, int(np.ceil(x0 + (wx0 + xs.max() + 1) / scale + pad))),
                min(b.y1, int(np.ceil(b.y0 + (ys.max() + 1) / scale + pad))),
            ),
            person.score,
        )
