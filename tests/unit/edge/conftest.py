from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lineguard.config.edge import EdgeConfig
from lineguard.crypto import KdfParams
from lineguard.edge.app import EdgeNode
from lineguard.edge.infer import StaticRunner
from lineguard.edge.redact import FakeRedactor
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


@pytest.fixture
def running() -> Iterator[Callable[..., EdgeNode]]:
    """Start whole nodes in-process (fake redactor unless given); all closed after the test."""
    nodes: list[EdgeNode] = []

    def start(config: EdgeConfig, **kwargs: Any) -> EdgeNode:
        kwargs.setdefault("redactor", FakeRedactor())
        node = EdgeNode(config, kdf=KdfParams.insecure_for_tests(), **kwargs)
        node.start()
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.close()
