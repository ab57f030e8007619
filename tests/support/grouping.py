"""How the suite is ordered and split between pytest-xdist workers (docs/testing.md).

``python3 dev.py test`` runs ``pytest -n 2 --dist loadfile``. pytest-xdist's own
``loadgroup`` (``xdist_group`` marks) does nothing under pytest 9.2: xdist 3.8 renames the
item's ``_nodeid``, which pytest 9.2 no longer reads. So tests/conftest.py replaces the
``loadfile`` scheduler with :class:`GroupedFileScheduling`, whose unit of work is
:func:`group_of` a test's file: the file itself, except

- the folders in :data:`SHARED_SETUP_FOLDERS`, whose session fixtures are costly (a seeded plant
  server and Chromium, a trained model, the built Tryton plant): one unit each, so one worker
  pays for them;
- the modules in :data:`DEMO_MODULES`: one unit, run in that order, because the first hands its
  demo's data directory to the second (tests/support/demo_run.py).

A worker runs a unit's tests one after the other, in collection order. xdist hands out the
units with the most tests first; the long ones (:data:`FIRST_UNITS`: the demo's minutes, the
browser tests, training, the ERP build) go out before all others, so none of them is left for
the end while the other worker has nothing more to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xdist.scheduler import LoadFileScheduling

#: Run in this order, next to each other, by one worker (tests/support/demo_run.py).
DEMO_MODULES = ("tests/integration/test_demo.py", "tests/e2e/test_demo_pages.py")
DEMO_GROUP = "demo"
#: Folders whose session fixtures are costly: one unit of work each.
SHARED_SETUP_FOLDERS = ("tests/e2e", "tests/unit/vision", "tests/unit/server/integrations/erp")
#: The units that take longest, handed out first, in this order.
FIRST_UNITS = (DEMO_GROUP, *SHARED_SETUP_FOLDERS)


def group_of(path: str) -> str:
    """The unit of work of a test file (its path relative to the repository root)."""
    if path in DEMO_MODULES:
        return DEMO_GROUP
    return next((folder for folder in SHARED_SETUP_FOLDERS if path.startswith(f"{folder}/")), path)


def demo_first(paths: list[str]) -> list[int]:
    """The order that puts the tests of :data:`DEMO_MODULES` (in that order) at the place of the
    first of them: indexes into ``paths`` (one test file path per collected test)."""
    demo = [n for n, path in enumerate(paths) if path in DEMO_MODULES]
    if not demo:
        return list(range(len(paths)))
    demo.sort(key=lambda n: DEMO_MODULES.index(paths[n]))  # stable: a module's own order is kept
    chosen = set(demo)
    rest = [n for n in range(len(paths)) if n not in chosen]
    first = min(chosen)
    return [*rest[:first], *demo, *rest[first:]]


def grouped_file_scheduling(config: Any, log: Any) -> LoadFileScheduling:
    """pytest-xdist's ``loadfile`` scheduler with :func:`group_of` as the unit of work."""
    from xdist.scheduler import LoadFileScheduling

    class GroupedFileScheduling(LoadFileScheduling):
        _prioritised = False

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid.split("::", 1)[0])

        def _assign_work_unit(self, node: Any) -> None:
            if not self._prioritised:  # the queue is complete before the first unit goes out
                self._prioritised = True
                for unit in reversed(FIRST_UNITS):
                    if unit in self.workqueue:
                        self.workqueue.move_to_end(unit, last=False)
            super()._assign_work_unit(node)

    return GroupedFileScheduling(config, log)
