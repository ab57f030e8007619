from __future__ import annotations

from pathlib import Path

import pytest

from lineguard.edge.infer import StaticRunner
from tests.unit.edge.support import PASS_ENV, PASSPHRASE


@pytest.fixture
def kek_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASS_ENV, PASSPHRASE)


@pytest.fixture(scope="session")
def tiny_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lineguard.vision.testing import build_tiny_package

    path = tmp_path_factory.mktemp("models") / "tiny"
    build_tiny_package(path)
    return path


@pytest.fixture
def passing_runner() -> StaticRunner:
    return StaticRunner(threshold=0.5, score=0.1)
