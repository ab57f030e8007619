"""Fixtures every test may use.

``db_url`` runs a test once on SQLite and once on a real PostgreSQL server (one
cluster per test session, one fresh database per test), so the whole storage layer is
proven on both engines. The database it hands out is already at the newest schema: a
copy of one migrated per session (PostgreSQL ``CREATE DATABASE … TEMPLATE``, a file copy
for SQLite), because running every migration again for each of ~800 tests cost CI
minutes. A test that is about migrating itself asks for ``empty_db_url``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lineguard.contracts.ids import uuid7
from tests.support import demo_run, grouping
from tests.support.demo_model import train_demo_model
from tests.support.gc_freeze import freeze_what_is_alive
from tests.support.postgres import postgres_cluster

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MAGNETIC_TILE = SHARED / "datasets" / "magnetic-tile"
REPO_ROOT = Path(__file__).resolve().parents[1]

# OpenMP threads (torch's, in training) that wait for work sleep instead of spinning, in every
# worker and every process a test starts: set before anything imports torch (libgomp reads it
# once). The suite runs more busy processes than cores (three workers on two, their servers and
# subprocesses), where a spinning thread burns the CPU the thread it waits for needs. How threads
# wait changes no result (the same model bytes either way); training took half the CPU
# (docs/testing.md, "Keeping CI short"). An explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# numpy's OpenBLAS uses one thread, for the same reason: its threads spin while they wait, and
# on small batched matrices they cost far more than they save. The head's Cholesky of 256
# precisions of 128 x 128 (every LocalGlobalHead) took 0.57-0.74 s of CPU with two threads and
# 0.03 s with one (load ~23); test_backbones' two-pass test spent 38 s wall there, and failed
# once at load ~30 (docs/testing.md). Set before anything imports numpy (OpenBLAS reads it once).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def postgres_base_url() -> Iterator[str]:
    external = os.environ.get("LINEGUARD_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the newest schema, with no rows of its own, on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "lineguard.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_at_head"), path)
        yield f"sqlite:///{path}"
        return
    base = request.getfixturevalue("postgres_base_url")
    yield from _fresh_postgres_database(base, template=request.getfixturevalue("_postgres_at_head"))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database (no schema) on each engine: for tests of the migrations."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lineguard.db'}"
        return
    yield from _fresh_postgres_database(request.getfixturevalue("postgres_base_url"))


@pytest.fixture(scope="session")
def _sqlite_at_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lineguard.server.storage import create_engine_for, upgrade_to_head

    path = tmp_path_factory.mktemp("schema") / "at-head.db"
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()
    # Fold any write-ahead log into the file so that copying the one file copies everything.
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return path


@pytest.fixture(scope="session")
def _postgres_at_head(postgres_base_url: str) -> Iterator[str]:
    from lineguard.server.storage import create_engine_for, upgrade_to_head

    databases = _fresh_postgres_database(postgres_base_url)
    url = next(databases)
    engine = create_engine_for(url)
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()  # no connection may stay open on a template that is being copied
    yield url.rsplit("/", 1)[1]
    next(databases, None)  # drops it


@pytest.fixture
def postgres_url(postgres_base_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database: what several server replicas share (they need one)."""
    yield from _fresh_postgres_database(postgres_base_url)


def _fresh_postgres_database(base: str, template: str | None = None) -> Iterator[str]:
    import psycopg

    name = f"t_{uuid7().hex[:24]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        if conn.info.server_version >= 150000:
            # A file copy, not PostgreSQL 15's default block-by-block copy through the WAL: on the
            # test cluster (fsync off) creating and dropping a 10 MB database at head took 57 + 33 ms
            # against 78 + 67 ms, for each of the suite's ~420 PostgreSQL databases.
            copy += " STRATEGY FILE_COPY"
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    yield f"{base}/{name}"
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def magnetic_tile() -> Path:
    """The shared real dataset; tests that need it skip with the reason when it is absent."""
    if not (MAGNETIC_TILE / "train" / "good").is_dir():
        pytest.skip(f"needs the shared magnetic-tile dataset at {MAGNETIC_TILE} (not part of a user's clone)")
    return MAGNETIC_TILE


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's trained model and part threshold, trained once per session (see
    tests/support/demo_model.py); seed a demo data directory with ``seed_demo_model``."""
    return train_demo_model(tmp_path_factory.mktemp("demo-model"))


@pytest.fixture(scope="session")
def shared_demo(tmp_path_factory: pytest.TempPathFactory, demo_model: Path) -> demo_run.SharedDemo:
    """A demo data directory handed from one demo test to the next (tests/support/demo_run.py)."""
    return demo_run.SharedDemo(tmp_path_factory, demo_model)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection left alive (the whole suite's modules, in each worker) stays alive until
    the end: out of the garbage collector's walks (tests/support/gc_freeze.py)."""
    freeze_what_is_alive()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The two demo modules run one after the other (tests/support/demo_run.py)."""
    order = grouping.demo_first([_relative(item.path) for item in items])
    items[:] = [items[n] for n in order]


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: absent without the plugin
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` with the units of tests/support/grouping.py (docs/testing.md)."""
    if config.getoption("dist") != "loadfile":
        return None
    return grouping.grouped_file_scheduling(config, log)


def _relative(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else str(path)
