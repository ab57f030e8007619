"""Fixtures of the access-control tests: a running app with people in it, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.server.auth.harness import AuthHarness, running_harness


@pytest.fixture
def harness(db_url: str, tmp_path: Path) -> Iterator[AuthHarness]:
    with running_harness(db_url, tmp_path / "server") as h:
        yield h
