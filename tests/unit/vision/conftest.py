"""Shared fixtures: one synthetic dataset and one package trained on it per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from lineguard.vision.train import TrainConfig, TrainResult, train_package
from tests.support.synthetic_parts import write_synthetic_dataset

#: Small input so the whole suite trains in seconds; the method is the same at 256.
FAST = TrainConfig(image_size=128, threads=2, model_id="synthetic-test")


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("vision") / "parts")


@pytest.fixture(scope="session")
def trained(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    return train_package(synthetic_dataset, tmp_path_factory.mktemp("pkg") / "model", config=FAST)
