"""A running enterprise roll-up on ``db_url`` (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.enterprise import Rollup, make_rollup


@pytest.fixture
def rollup(tmp_path: Path, db_url: str) -> Iterator[Rollup]:
    r = make_rollup(tmp_path / "rollup", db_url)
    r.start()
    yield r
    r.stop()
    r.engine.dispose()
