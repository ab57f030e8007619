"""Properties every Redactor must keep, run against every implementation.

The real redactor runs on a photograph with a person in it (so there are regions to
check); the fake on random texture with fixed boxes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from lineguard.contracts.errors import InputError
from lineguard.edge.redact import Box, FakeRedactor, PersonRedactor, Redacted, Redactor
from tests.unit.edge.redact.conftest import LabelledPhoto, textured_frame


def _laplacian_energy(image: np.ndarray, where: np.ndarray) -> float:
    import cv2

    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    lap = np.abs(cv2.Laplacian(gray, cv2.CV_32F))
    return float(lap[where].mean())


Case = tuple[Redactor, np.ndarray]


@pytest.fixture(params=["person", "fake"])
def case(request: pytest.FixtureRequest, redactor: PersonRedactor, photos: list[LabelledPhoto]) -> Case:
    if request.param == "person":
        return redactor, photos[0].image
    fake = FakeRedactor([Box(20, 30, 120, 200), Box(200, 10, 400, 90)])
    return fake, textured_frame()


def _run(case: Case, mode: str) -> tuple[np.ndarray, np.ndarray, Redacted]:
    redactor, image = case
    original = image.copy()
    result = redactor.redact(image, mode)  # type: ignore[arg-type]
    return image, original, result


def test_implements_the_protocol(case: Case) -> None:
    assert isinstance(case[0], Redactor)
    assert case[0].model_id


@pytest.mark.parametrize("mode", ["blur", "black"])
def test_input_is_never_mutated_and_output_is_a_new_array(case: Case, mode: str) -> None:
    image, original, result = _run(case, mode)
    assert np.array_equal(image, original)
    assert result.image is not image
    assert not np.shares_memory(result.image, image)
    assert result.image.shape == image.shape and result.image.dtype == np.uint8
    assert result.mode == mode


def test_black_leaves_only_zero_pixels_in_every_region(case: Case) -> None:
    image, _, result = _run(case, "black")
    assert result.regions, "the test frame must contain something to hide"
    for region in result.regions:
        b = region.box
        assert not result.image[b.y0 : b.y1, b.x0 : b.x1].any()
        assert result.hidden[b.y0 : b.y1, b.x0 : b.x1].all()
    # Outside the hidden mask nothing changed.
    assert np.array_equal(result.image[~result.hidden], image[~result.hidden])


def test_blur_changes_every_region_and_removes_fine_detail(case: Case) -> None:
    import cv2

    image, _, result = _run(case, "blur")
    assert result.regions
    for region in result.regions:
        b = region.box
        assert not np.array_equal(result.image[b.y0 : b.y1, b.x0 : b.x1], image[b.y0 : b.y1, b.x0 : b.x1])
    inner = cv2.erode(result.hidden.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    before, after = _laplacian_energy(image, inner), _laplacian_energy(result.image, inner)
    assert after < 0.2 * before, f"fine detail left: Laplacian {after:.2f} vs {before:.2f} before"
    assert after < 3.0
    assert np.array_equal(result.image[~result.hidden], image[~result.hidden])


def test_counts_and_mask_agree_with_regions(case: Case) -> None:
    _, _, result = _run(case, "black")
    assert result.hidden.shape == case[1].shape[:2]
    assert result.person_count + result.face_count >= 1
    assert 0.0 < result.hidden_fraction <= 1.0
    assert result.found_anyone


BAD_INPUTS: list[tuple[str, Callable[[], object]]] = [
    ("float image", lambda: np.zeros((10, 10, 3), np.float32)),
    ("gray image", lambda: np.zeros((10, 10), np.uint8)),
    ("four channels", lambda: np.zeros((10, 10, 4), np.uint8)),
    ("empty image", lambda: np.zeros((0, 10, 3), np.uint8)),
    ("not an array", lambda: b"\xff\xd8 jpeg bytes"),
]


@pytest.mark.parametrize(("label", "make"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_clear_error(case: Case, label: str, make: Callable[[], object]) -> None:
    with pytest.raises(InputError, match="redaction expects"):
        case[0].redact(make(), "blur")  # type: ignore[arg-type]


def test_unknown_mode_is_refused(case: Case) -> None:
    with pytest.raises(InputError, match="mode"):
        case[0].redact(case[1], "pixelate")  # type: ignore[arg-type]
