"""``StaticRunner``: a :class:`~lineguard.contracts.types.ModelRunner` without a model.

The fake beside the ONNX boundary. It scores an image by how far its mean brightness
departs from a reference level, or returns scores from a script, so pipeline tests can
drive exact verdicts without ONNX Runtime. Not for production use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from lineguard.contracts.types import Frame, Scores

__all__ = ["StaticRunner"]


class StaticRunner:
    """Scores from ``score_fn(image)`` (default: constant ``score``), map of ``map_size``."""

    def __init__(
        self,
        *,
        model_id: str = "static-runner",
        threshold: float = 0.5,
        score: float = 0.0,
        score_fn: Callable[[Frame], float] | None = None,
        map_fn: Callable[[Frame], np.ndarray] | None = None,
        map_size: tuple[int, int] = (32, 32),
    ) -> None:
        self._model_id = model_id
        self._threshold = threshold
        self._score = score
        self._score_fn = score_fn
        self._map_fn = map_fn
        self._map_size = map_size
        self._digest = hashlib.sha256(f"static:{model_id}".encode()).hexdigest()
        self.calls = 0

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def digest(self) -> str:
        return self._digest

    @property
    def threshold(self) -> float:
        return self._threshold

    def infer(self, image: Frame) -> Scores:
        self.calls += 1
        score = self._score_fn(image) if self._score_fn is not None else self._score
        if self._map_fn is not None:
            amap = np.asarray(self._map_fn(image), dtype=np.float32)
        else:
            amap = np.full(self._map_size, np.float32(score), dtype=np.float32)
        return Scores(anomaly_score=float(score), anomaly_map=amap)
