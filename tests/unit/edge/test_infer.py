"""Model loading per camera, and the ModelRunner contract for every runner the node uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lineguard.contracts.errors import ModelError
from lineguard.contracts.types import ModelRunner, Scores
from lineguard.edge.infer import ModelCache, StaticRunner, load_runner


def _runners(tiny_package: Path) -> list[ModelRunner]:
    return [StaticRunner(score=0.3), load_runner(tiny_package)]


def test_every_runner_conforms_to_the_model_runner_protocol(tiny_package: Path) -> None:
    image = np.full((90, 120, 3), 128, np.uint8)
    for runner in _runners(tiny_package):
        assert isinstance(runner, ModelRunner)
        assert len(runner.digest) == 64
        scores = runner.infer(image)
        assert isinstance(scores, Scores)
        assert scores.anomaly_map.dtype == np.float32 and scores.anomaly_map.ndim == 2
        assert np.isfinite(scores.anomaly_score)


def test_missing_or_corrupt_package_is_a_model_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="nowhere"):
        load_runner(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"\x00garbage")
    (broken / "metadata.json").write_text("{not json")
    with pytest.raises(ModelError, match="broken"):
        load_runner(broken)


def test_model_cache_shares_runners_and_remembers_failures(tiny_package: Path, tmp_path: Path) -> None:
    cache = ModelCache()
    assert cache.get(tiny_package) is cache.get(tiny_package)
    with pytest.raises(ModelError):
        cache.get(tmp_path / "gone")
    assert str((tmp_path / "gone").resolve()) in str(next(iter(cache.failures)))
    with pytest.raises(ModelError):  # not retried on every camera that names it
        cache.get(tmp_path / "gone")
