"""How the suite is split between pytest-xdist workers (tests/support/grouping.py, docs/testing.md).

A unit named there that no longer exists (a file renamed or moved) would silently lose its place
at the front of the queue: every one must be a path of this repository.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.grouping import (
    DEMO_GROUP,
    DEMO_MODULES,
    FIRST_UNITS,
    SHARED_SETUP_FOLDERS,
    SLOW_FILES,
    demo_first,
    group_of,
)

ROOT = Path(__file__).resolve().parents[1]


def test_every_unit_named_first_exists() -> None:
    for path in (*DEMO_MODULES, *SHARED_SETUP_FOLDERS, *SLOW_FILES):
        assert (ROOT / path).exists(), path
    assert len(set(FIRST_UNITS)) == len(FIRST_UNITS)
    assert FIRST_UNITS[0] == DEMO_GROUP


def test_a_file_is_its_own_unit_but_in_a_shared_folder_or_the_demo() -> None:
    assert group_of("tests/unit/edge/test_rtsp_source.py") == "tests/unit/edge/test_rtsp_source.py"
    assert group_of("tests/e2e/test_journeys.py") == "tests/e2e"
    assert group_of("tests/unit/vision/test_train.py") == "tests/unit/vision"
    assert {group_of(path) for path in DEMO_MODULES} == {DEMO_GROUP}
    assert group_of("tests/unit/visionary/test_x.py") == "tests/unit/visionary/test_x.py"


def test_the_demo_modules_run_together_in_their_order_where_the_first_was() -> None:
    paths = ["a.py", DEMO_MODULES[1], "b.py", DEMO_MODULES[0], DEMO_MODULES[1], "c.py"]
    order = demo_first(paths)
    assert sorted(order) == list(range(len(paths)))
    assert [paths[n] for n in order] == [
        "a.py",
        DEMO_MODULES[0],
        DEMO_MODULES[1],
        DEMO_MODULES[1],
        "b.py",
        "c.py",
    ]
