"""People are actually found: real photographs and fixed synthetic scenes.

These are regression guards on behaviour measured by ``bench/bench_redaction.py`` (the
full measurement with many more scenes lives there and in docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from lineguard.edge.redact import PersonRedactor
from lineguard.edge.redact.evaluation import MIN_HEAD_HIDDEN, MIN_HIDDEN, RecallReport, synthetic_scenes
from tests.unit.edge.redact.conftest import LabelledPhoto


def _share(hidden: np.ndarray, box: list[int]) -> float:
    x0, y0, x1, y1 = box
    return float(hidden[y0:y1, x0:x1].mean())


@pytest.mark.parametrize("mode", ["blur", "black"])
def test_every_person_in_the_real_photographs_is_hidden(
    redactor: PersonRedactor, photos: list[LabelledPhoto], mode: str
) -> None:
    for photo in photos:
        result = redactor.redact(photo.image, mode)  # type: ignore[arg-type]
        for person_box, head_box in photo.people:
            assert _share(result.hidden, head_box) >= MIN_HEAD_HIDDEN, photo.name
            assert _share(result.hidden, person_box) >= MIN_HIDDEN, photo.name
        assert result.person_count >= 1 and result.face_count >= 1, photo.name


def test_a_small_person_pasted_into_a_large_frame_is_still_found(
    redactor: PersonRedactor, photos: list[LabelledPhoto]
) -> None:
    """Tiling: a 160-px-tall real person in a 1280x720 frame (1/4.5 of its height)."""
    import cv2

    from lineguard.edge.redact.evaluation import industrial_background

    photo = photos[1]  # the cameraman: side view, face half turned away
    frame = industrial_background(np.random.default_rng(3), 720, 1280)
    scale = 160 / photo.image.shape[0]
    small = cv2.resize(photo.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    x, y = 900, 400
    frame[y : y + small.shape[0], x : x + small.shape[1]] = small
    result = redactor.redact(frame, "black")
    person, head = (np.array(b) * scale + [x, y, x, y] for b in photo.people[0])
    assert _share(result.hidden, [round(v) for v in head]) >= MIN_HEAD_HIDDEN
    assert _share(result.hidden, [round(v) for v in person]) >= MIN_HIDDEN


def test_recall_on_fixed_synthetic_scenes(redactor: PersonRedactor) -> None:
    report = RecallReport()
    for scene in synthetic_scenes(6, seed=11, height=360, width=480):
        report.add(scene.name, redactor.redact(scene.image, "black").hidden, scene.people)
    assert report.people >= 8
    # Measured 0.9+ on these scenes; the bench reports the full figure on 200 scenes.
    assert report.recall >= 0.75, report.misses
    assert report.coverage >= 0.8


def test_a_frame_without_people_stays_mostly_visible(redactor: PersonRedactor) -> None:
    (scene,) = synthetic_scenes(1, seed=5, with_people=False)
    result = redactor.redact(scene.image, "blur")
    assert result.hidden_fraction < 0.5
