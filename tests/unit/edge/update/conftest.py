"""Fixtures of the edge update tests (see ``world.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.edge.update.world import Published, UpdateWorld, make_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[UpdateWorld]:
    yield from make_world(tmp_path)


@pytest.fixture
def running(world: UpdateWorld) -> Published:
    """A node on line-1 that installed release 1 and runs it."""
    first = world.publish()
    outcome = world.node().check()
    assert outcome.status == "installed"
    assert world.slot.digest == first.digest
    return first
