"""The shipped PPE classifier: per item, a logistic regression on :func:`features`.

``model/ppe-classifier.json`` is written by :mod:`lineguard.edge.ppe.train` from generated
people (render.py) — no data or weights come from outside. Its sha256 is pinned here and
checked before use, like the redaction models: a damaged or swapped file raises
:class:`~lineguard.contracts.errors.ModelError` and the PPE camera does not start.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lineguard.contracts.errors import ModelError
from lineguard.edge.ppe.features import FEATURE_COUNT, FEATURE_VERSION, PersonPixels, features

__all__ = ["MODEL_FILE", "MODEL_SHA256", "PpeClassifier"]

MODEL_FILE = "ppe-classifier.json"
MODEL_SHA256 = "2bf9147b10c521cda31bfabc025781b1377fbb49ff03b5c2d58bcddf803beee0"


class PpeClassifier:
    """Says, per item it knows, whether a person wears it."""

    def __init__(self, document: dict[str, Any], *, sha256: str) -> None:
        kind = (document.get("format"), document.get("feature_version"))
        if kind != ("lineguard-ppe-logreg", FEATURE_VERSION):
            msg = f"PPE classifier file is {kind}, expected ('lineguard-ppe-logreg', {FEATURE_VERSION})"
            raise ModelError(msg)
        try:
            self.items: tuple[str, ...] = tuple(document["items"])
            self._mean = np.asarray(document["mean"], np.float64)
            self._std = np.asarray(document["std"], np.float64)
            self._weights = {i: np.asarray(document["weights"][i], np.float64) for i in self.items}
            self.threshold = float(document["threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"PPE classifier document is not a version-{FEATURE_VERSION} logistic model: {exc}"
            raise ModelError(msg) from exc
        shapes = {self._mean.shape, self._std.shape} | {(w.shape[0] - 1,) for w in self._weights.values()}
        if shapes != {(FEATURE_COUNT,)}:
            msg = f"PPE classifier expects {FEATURE_COUNT} features, the file has shapes {sorted(shapes)}"
            raise ModelError(msg)
        self.sha256 = sha256
        self.model_id = f"ppe-logreg-v{FEATURE_VERSION}:{sha256[:12]}"

    @classmethod
    def load(cls, path: Path | None = None, *, expected_sha256: str = MODEL_SHA256) -> PpeClassifier:
        """The shipped model (or ``path``), after checking its digest against the pinned one."""
        try:
            data = (
                path.read_bytes()
                if path
                else (resources.files("lineguard.edge.ppe") / "model" / MODEL_FILE).read_bytes()
            )
        except OSError as exc:
            msg = f"PPE classifier {path or MODEL_FILE} cannot be read: {exc}"
            raise ModelError(msg) from exc
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected_sha256:
            msg = (
                f"PPE classifier has sha256 {digest}, expected {expected_sha256}: "
                "the file is damaged or was replaced"
            )
            raise ModelError(msg)
        try:
            document = json.loads(data)
        except ValueError as exc:
            msg = f"PPE classifier is not JSON: {exc}"
            raise ModelError(msg) from exc
        return cls(document, sha256=digest)

    def probabilities(self, person: PersonPixels) -> dict[str, float]:
        """Item → probability that the person wears it."""
        return self.probabilities_of(features(person)[None])[0]

    def probabilities_of(self, vectors: npt.NDArray[np.float32]) -> list[dict[str, float]]:
        z = (vectors.astype(np.float64) - self._mean) / self._std
        out: dict[str, npt.NDArray[np.float64]] = {}
        for item, w in self._weights.items():
            out[item] = 1.0 / (1.0 + np.exp(-np.clip(z @ w[:-1] + w[-1], -40, 40)))
        return [{item: float(p[k]) for item, p in out.items()} for k in range(len(vectors))]

    def wears(self, person: PersonPixels) -> dict[str, bool]:
        return {item: p >= self.threshold for item, p in self.probabilities(person).items()}
