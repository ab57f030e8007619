"""Reading the label's printed text: RapidOCR's detector, orientation classifier and recogniser.

``rapidocr-onnxruntime`` ships its three ONNX models inside the wheel (PP-OCRv4 detection and
recognition, the mobile 0°/180° classifier), so nothing is downloaded, ever. It imports
``onnxruntime`` itself: :func:`lineguard.vision.ort.import_onnxruntime` runs first so the
telemetry switch is checked before that happens (tests/integration/test_egress_syscalls.py
runs a label check under strace). It is installed ``--no-deps`` (dev.py's ``NO_DEPS``):
its metadata asks for ``opencv-python``, which would install a second ``cv2`` beside the
headless build the node uses; its real imports (pyclipper, shapely) are LineGuard's own
dependencies.

The stages are called one by one (detect → crop → classify → recognise) rather than through
``RapidOCR.__call__`` because the classifier's answer is what says a line was printed upside
down, and ``__call__`` drops it. Those four calls are RapidOCR 1.4.4's; the version is pinned
and tests/unit/edge/labels/test_ocr.py runs the real models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from lineguard.vision.ort import import_onnxruntime

__all__ = ["RapidTextReader", "TextLine", "TextReader"]


@dataclass(frozen=True)
class TextLine:
    """One line of printed text, as read (upright)."""

    text: str
    score: float
    #: The orientation classifier found the line rotated by 180°.
    upside_down: bool


class TextReader(Protocol):
    """Reads the lines of text in a label region (BGR or grey image)."""

    def read(self, region: np.ndarray[Any, Any]) -> list[TextLine]: ...


class RapidTextReader:
    """RapidOCR on one or two threads; models load on the first :meth:`read`."""

    #: Lines the recogniser is less sure of than this are dropped (RapidOCR's default).
    MIN_SCORE = 0.5
    #: The classifier must be this sure to call a line upside down.
    UPSIDE_DOWN_SCORE = 0.9

    def __init__(self, *, threads: int = 1, det_side_px: int = 640) -> None:
        self.threads = threads
        self.det_side_px = det_side_px
        self._engine: Any = None

    def _load(self) -> Any:
        if self._engine is None:
            import_onnxruntime()  # checks the telemetry switch before rapidocr imports onnxruntime
            from rapidocr_onnxruntime import RapidOCR

            self._engine = RapidOCR(
                intra_op_num_threads=self.threads,
                inter_op_num_threads=1,
                det_limit_type="max",
                det_limit_side_len=self.det_side_px,
            )
        return self._engine

    def read(self, region: np.ndarray[Any, Any]) -> list[TextLine]:
        engine = self._load()
        image = region if region.ndim == 3 else np.repeat(region[:, :, None], 3, axis=2)
        image, _, _ = engine.preprocess(np.ascontiguousarray(image))
        image, _ = engine.maybe_add_letterbox(image, {})
        boxes, _ = engine.auto_text_det(image)
        if boxes is None:
            return []
        crops = engine.get_crop_img_list(image, boxes)
        crops, orientations, _ = engine.text_cls(crops)
        texts, _ = engine.text_rec(crops, False)
        lines: list[TextLine] = []
        for (label, cls_score), rec in zip(orientations, texts, strict=True):
            text, score = str(rec[0]), float(rec[1])
            if score < self.MIN_SCORE or not text.strip():
                continue
            flipped = "180" in str(label) and float(cls_score) > self.UPSIDE_DOWN_SCORE
            lines.append(TextLine(text=text.strip(), score=score, upside_down=flipped))
        return lines
