"""Fail-safe: when people cannot be searched for, redaction raises — it never hands back the input.

The evidence store relies on this: on :class:`RedactionError` it stores nothing (or
``black_frame``), so an unredacted frame cannot reach the store because a model was
missing, damaged or broken at run time.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from lineguard.contracts.errors import ModelError
from lineguard.edge.redact import MODELS, FakeRedactor, PersonRedactor, RedactionError, black_frame
from lineguard.edge.redact._detectors import SsdDetector
from tests.unit.edge.redact.conftest import LabelledPhoto


def _model_copy(tmp_path: Path) -> Path:
    source = resources.files("lineguard.edge.redact") / "models"
    for spec in MODELS.values():
        with resources.as_file(source / spec.filename) as path:
            shutil.copy(path, tmp_path / spec.filename)
    return tmp_path


def test_redaction_error_is_a_model_error_with_its_own_code() -> None:
    assert issubclass(RedactionError, ModelError)
    assert RedactionError.code == "redaction_failed"


def test_a_clean_copy_of_the_models_loads(tmp_path: Path) -> None:
    assert PersonRedactor(model_dir=_model_copy(tmp_path)).model_id.startswith("mediapipe-0.10.21:")


def test_a_missing_model_file_is_refused_at_load(tmp_path: Path) -> None:
    models = _model_copy(tmp_path)
    (models / MODELS["face"].filename).unlink()
    with pytest.raises(RedactionError, match="cannot be read"):
        PersonRedactor(model_dir=models)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_damaged_model_file_is_refused_with_expected_and_found_digest(tmp_path: Path, name: str) -> None:
    models = _model_copy(tmp_path)
    path = models / MODELS[name].filename
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(RedactionError, match=f"expected {MODELS[name].sha256}") as err:
        PersonRedactor(model_dir=models)
    assert "has sha256" in str(err.value)


def test_a_truncated_model_file_is_refused(tmp_path: Path) -> None:
    models = _model_copy(tmp_path)
    path = models / MODELS["body"].filename
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(RedactionError):
        PersonRedactor(model_dir=models)


class _ExplodingSession:
    def run(self, *_: object, **__: object) -> object:
        raise RuntimeError("onnxruntime: bad allocation")


class _NaNSession:
    def run(self, *_: object, **__: object) -> list[np.ndarray]:
        return [np.full((1, 2304, 16), np.nan, np.float32), np.zeros((1, 2304, 1), np.float32)]


class _WrongShapeSession:
    def run(self, *_: object, **__: object) -> list[np.ndarray]:
        return [np.zeros((1, 10, 16), np.float32), np.zeros((1, 10, 1), np.float32)]


@pytest.mark.parametrize("session", [_ExplodingSession(), _NaNSession(), _WrongShapeSession()])
def test_a_model_failing_at_run_time_raises_instead_of_returning_the_input(
    session: object, photos: list[LabelledPhoto]
) -> None:
    broken = PersonRedactor()
    # Replace one live session with a broken one: the failure a real runtime can have.
    broken._face = SsdDetector(session, "face", score_threshold=0.4)
    image = photos[0].image
    with pytest.raises(RedactionError, match=r"face|person detection failed"):
        broken.redact(image, "blur")


def test_the_fake_fails_on_demand_like_the_real_one(photos: list[LabelledPhoto]) -> None:
    fake = FakeRedactor(fail=True)
    with pytest.raises(RedactionError):
        fake.redact(photos[0].image, "black")
    assert fake.calls == 1


def test_black_frame_is_the_safe_fallback(photos: list[LabelledPhoto]) -> None:
    image = photos[0].image
    safe = black_frame(image)
    assert safe.shape == image.shape and not safe.any()
    assert image.any()  # the input is untouched


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cues": frozenset()},
        {"cues": frozenset({"segmentation", "crystal-ball"})},
        {"segmentation_threshold": 1.0},
        {"face_threshold": 0.0},
        {"segmentation_tiles": (0.0,)},
        {"threads": 0},
    ],
)
def test_settings_that_could_find_nobody_are_refused(kwargs: dict[str, object]) -> None:
    from lineguard.contracts.errors import ConfigError
    from lineguard.edge.redact import RedactorSettings

    with pytest.raises(ConfigError, match="invalid redactor settings"):
        RedactorSettings(**kwargs)  # type: ignore[arg-type]
