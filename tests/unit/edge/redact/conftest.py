from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from lineguard.edge.redact import PersonRedactor

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class LabelledPhoto:
    name: str
    image: np.ndarray
    #: One (person box, head box) per person, [x0, y0, x1, y1].
    people: list[tuple[list[int], list[int]]]


@pytest.fixture(scope="session")
def redactor() -> PersonRedactor:
    """Loading the four models takes about a second: share one redactor (it keeps no state)."""
    return PersonRedactor()


@pytest.fixture(scope="session")
def photos() -> list[LabelledPhoto]:
    import cv2

    labels = json.loads((DATA / "people.json").read_text())["images"]
    return [
        LabelledPhoto(name, cv2.imread(str(DATA / name)), [(p["person"], p["head"]) for p in people])
        for name, people in labels.items()
    ]


def textured_frame(height: int = 240, width: int = 320, seed: int = 0) -> np.ndarray:
    """Random per-pixel noise: the most high-frequency detail an image can have."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
