"""How the suite is ordered and split between pytest-xdist workers (docs/testing.md).

``python3 dev.py test`` runs ``pytest -n 3 --dist loadfile``. pytest-xdist's own
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
browser tests, training, the ERP build, then the files of a few slow tests, :data:`SLOW_FILES`)
go out before all others, so none of them is left for the end while the other worker has
nothing more to do.
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
#: Files of a few slow tests (real servers, strace, timers), longest first (the slowest tests of the
#: full run of 2026-12-06 19:49, /work/ci11c.log). xdist orders the other units by their number of
#: tests, which put such a file among the last units, where it kept one worker busy while the other
#: had nothing left to do; they go out right after the long units instead.
SLOW_FILES = (
    "tests/integration/test_egress_syscalls.py",
    "tests/integration/test_vision_magnetic_tile.py",
    "tests/unit/edge/test_rtsp_source.py",
    "tests/integration/test_egress_airgap.py",
    "tests/unit/server/assistant/test_leak.py",
    "tests/integration/test_model_update_e2e.py",
    "tests/integration/test_evidence_relay_replicas.py",
    "tests/integration/test_enroll_cli.py",
    "tests/integration/test_offline_install.py",
    "tests/unit/server/evidence_views/test_peers.py",
    "tests/integration/test_bench_evidence_relay.py",
    "tests/unit/server/audit/test_audit_key_pkcs11.py",
    "tests/unit/edge/thermal/test_node_thermal.py",
    "tests/integration/test_permissions_routes.py",
)
#: The units that take longest, handed out first, in this order.
FIRST_UNITS = (DEMO_GROUP, *SHARED_SETUP_FOLDERS, *SLOW_FILES)


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
