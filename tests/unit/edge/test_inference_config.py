"""The node's execution providers come from edge.yaml and reach every model session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from lineguard.config.edge import InferenceConfig
from lineguard.contracts.errors import ModelError
from lineguard.edge.infer import ModelCache
from lineguard.edge.infer.loader import load_runner
from lineguard.vision.runtime import available_providers
from lineguard.vision.testing import build_tiny_package


def test_providers_are_checked_in_the_config() -> None:
    assert InferenceConfig().providers == []
    assert InferenceConfig(providers=["cuda", "cpu"]).providers == ["cuda", "cpu"]
    with pytest.raises(ValidationError, match="providers"):
        InferenceConfig(providers=["gpu"])  # type: ignore[list-item]


def test_cpu_provider_is_used_when_configured(tmp_path: Path) -> None:
    build_tiny_package(tmp_path / "pkg")
    cache = ModelCache(threads=1, providers=["cpu"])
    runner = cache.get(tmp_path / "pkg")
    assert runner.infer(np.zeros((64, 64, 3), np.uint8)).anomaly_map.shape == (64, 64)


@pytest.mark.skipif("CUDAExecutionProvider" in available_providers(), reason="this machine has CUDA")
def test_an_unavailable_provider_fails_the_model_with_a_clear_error(tmp_path: Path) -> None:
    build_tiny_package(tmp_path / "pkg")
    with pytest.raises(ModelError, match="execution provider 'cuda' is not available"):
        load_runner(tmp_path / "pkg", providers=["cuda"])
