"""Commissioning a camera: the part threshold from known-good parts of this line.

A model package carries a threshold calibrated on single images. A part is judged on
the median of its complete frames (:mod:`lineguard.edge.decide.parts`), whose spread on
good parts is smaller than a single frame's, so the part threshold is set on the line:
run known-good parts through the same model, view check and fusion, and put the
threshold a quarter of the good parts' spread above the highest good part::

    threshold = max(good) + 0.25 * (max(good) - median(good))

Units cancel (only differences of scores are used), so it holds for any model's score
scale. The result goes to ``camera.parts.part_threshold``; a new model needs a new
calibration.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

from lineguard.config.edge import PartsConfig, Roi
from lineguard.contracts.errors import InputError
from lineguard.contracts.events import Verdict
from lineguard.contracts.types import CapturedFrame, ModelRunner
from lineguard.edge.decide import FrameJudgement, PartFuser, part_id_reader
from lineguard.edge.preprocess import crop_roi

__all__ = ["MIN_GOOD_PARTS", "fused_part_scores", "part_threshold"]

#: Fewer good parts than this do not say where the good parts end.
MIN_GOOD_PARTS = 20


def fused_part_scores(
    runner: ModelRunner, frames: Iterable[CapturedFrame], *, roi: Roi | None, parts: PartsConfig
) -> list[float]:
    """Each part's fused score, exactly as the inspect worker computes it."""
    reader, _ = part_id_reader(
        parts.model_copy(update={"id_source": "line" if parts.id_source == "trigger" else parts.id_source})
    )
    fuser = PartFuser(lambda _score: Verdict.PASS, max_part_frames=parts.max_part_frames)
    scores: list[float] = []
    for n, frame in enumerate(frames):
        crop, _ = crop_roi(frame.image, roi)
        score = runner.infer(crop).anomaly_score
        judgement = FrameJudgement(f"cal-{n}", frame.frame_id, frame.captured_at, Verdict.PASS, score)
        scores += [p.score for p in fuser.add(reader.sight(frame, crop), judgement).closed]
    return scores + [p.score for p in fuser.flush()]


def part_threshold(good: Sequence[float]) -> float:
    """The part threshold for these good parts' fused scores (see the module docstring)."""
    if len(good) < MIN_GOOD_PARTS:
        msg = f"calibration needs at least {MIN_GOOD_PARTS} good parts, got {len(good)}"
        raise InputError(msg)
    top = max(good)
    return top + 0.25 * (top - statistics.median(good))
