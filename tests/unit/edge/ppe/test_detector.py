"""The redaction models as a person detector for PPE counting: boxes around the generated workers,
found by the real vendored models (no fake). Recall and box fit are measured in bench/bench_ppe.py."""

from __future__ import annotations

import numpy as np
import pytest

from lineguard.contracts.errors import InputError
from lineguard.edge.ppe.render import walkway_scenes
from lineguard.edge.redact import PersonDetector


@pytest.fixture(scope="module")
def detector() -> PersonDetector:
    return PersonDetector()


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area


def test_it_boxes_most_generated_workers_and_finds_nobody_on_an_empty_walkway(
    detector: PersonDetector,
) -> None:
    scenes = walkway_scenes(6, seed=5, height=720, width=1280)
    matched = total = 0
    for scene in scenes:
        found = [
            (p.box.x0, p.box.y0, p.box.x1, p.box.y1) for p in detector.find(scene.image) if p.score >= 0.5
        ]
        for person in scene.people:
            total += 1
            matched += any(_iou(person.box, f) >= 0.5 for f in found)
    assert matched / total >= 0.7, (matched, total)
    empty = walkway_scenes(3, seed=6, height=720, width=1280, people=(0, 0))
    assert sum(p.score >= 0.5 for s in empty for p in detector.find(s.image)) == 0


def test_it_refuses_what_is_not_a_colour_frame(detector: PersonDetector) -> None:
    with pytest.raises(InputError):
        detector.find(np.zeros((10, 10), np.uint8))
