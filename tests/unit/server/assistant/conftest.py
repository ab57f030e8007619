"""Assistant fixtures: the seeded plant (with a real keyring) built once per module on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.leak_run import Plant, built_plant


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    with built_plant(tmp_path_factory.mktemp("plant"), "seeded") as plant:
        yield plant
