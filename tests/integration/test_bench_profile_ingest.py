"""``bench/profile_ingest.py``: the instruction counter counts only its window, and the
"on" server writes one data-key row per line-hour, not per event.

The counter needs valgrind, a C compiler and valgrind's headers (Debian: ``valgrind``,
``gcc``); the tests that run it are skipped, saying so, where one is missing.
"""

from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from tests.support.gc_freeze import freeze_what_is_alive

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import profile_ingest as profile

HAVE_CALLGRIND = bool(
    shutil.which("valgrind") and shutil.which("cc") and Path("/usr/include/valgrind/callgrind.h").exists()
)

#: A loop of ``inside`` iterations counted, ``outside`` iterations before it not counted.
#: The loops run in a function: as module globals their names are dict lookups whose cost
#: depends on the hash seed (±6 % between runs), and the window's sum starts from zero
#: whatever ran before it (a sum carried over from 200,000 outside iterations is a two-digit
#: int, ~13 % more instructions for the same loop).
SNIPPET = """
import ctypes, sys

def main(lib, outside, inside):
    before = 0
    for i in range(outside):
        before += i
    total = 0
    lib.lg_start()
    for i in range(inside):
        total += i
    lib.lg_stop()
    return before, total

main(ctypes.CDLL(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
"""


def _counted(tmp_path: Path, library: Path, outside: int, inside: int) -> int:
    out = tmp_path / f"callgrind.{outside}.{inside}"
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-c",
            SNIPPET,
            str(library),
            str(outside),
            str(inside),
        ],
        check=True,
        capture_output=True,
    )
    return next(int(line.split()[1]) for line in out.read_text().splitlines() if line.startswith("totals:"))


@pytest.mark.skipif(not HAVE_CALLGRIND, reason="needs valgrind, cc and valgrind/callgrind.h")
def test_the_counter_counts_the_window_only(tmp_path: Path) -> None:
    library = profile._Counter.build(tmp_path)
    base = _counted(tmp_path, library, 0, 20_000)
    assert base > 20_000  # a Python loop iteration is many instructions
    # Work before the window is not counted; twice the work in it is counted twice.
    assert abs(_counted(tmp_path, library, 200_000, 20_000) - base) / base < 0.05
    assert 1.8 < _counted(tmp_path, library, 0, 40_000) / base < 2.2


def test_outside_valgrind_the_counter_is_a_no_op(tmp_path: Path) -> None:
    if not shutil.which("cc") or not Path("/usr/include/valgrind/callgrind.h").exists():
        pytest.skip("needs cc and valgrind/callgrind.h")
    counter = profile._Counter(profile._Counter.build(tmp_path))
    counter.start()
    counter.stop()


def test_on_writes_one_key_row_per_line_hour_and_sealing_only_none(tmp_path: Path) -> None:
    """The "on" server seals part ids under their line-hour bucket's key: a key row per
    bucket (the batches' events fall in one or two hours), none per event."""
    for name, split in (("on", profile.SPLIT["on"]), ("sealing", profile.SPLIT["sealing only"])):
        root = tmp_path / name
        root.mkdir()
        profile._run(root, False, 3, split=split)
        with sqlite3.connect(root / "bench.db") as db:
            assert db.execute("SELECT count(*) FROM inspection_events").fetchone() == (300,)
            keys = [r[0] for r in db.execute("SELECT object_id FROM data_keys")]
            hours = {r[0][:13] for r in db.execute("SELECT captured_at FROM inspection_events")}
        if name == "sealing":
            assert keys == []
        else:
            assert 1 <= len(keys) == len(hours) <= 2
            assert all(k.startswith("#h/") and k.endswith("/plant-a/line-0") for k in keys)


def test_events_of_a_batch_have_their_own_times_unless_same_time(tmp_path: Path) -> None:
    """Since 2026-12-07 the events of a batch are ``EVENT_SPACING`` apart, as on a line;
    ``--same-time`` gives the earlier figures' batches (one time per batch)."""
    times = {}
    for same_time in (False, True):
        root = tmp_path / str(same_time)
        root.mkdir()
        profile._run(root, False, 1, split=profile.SPLIT["off"], same_time=same_time)
        with sqlite3.connect(root / "bench.db") as db:
            times[same_time] = [
                r[0] for r in db.execute("SELECT captured_at FROM inspection_events ORDER BY rowid")
            ]
    assert len(times[False]) == len(set(times[False])) == 100
    # Batches follow one another (warm-up included), as a line's do: together their events
    # are one run of times EVENT_SPACING apart (overlapping batches would interleave theirs).
    ordered = sorted(datetime.fromisoformat(t) for t in times[False])
    assert {b - a for a, b in itertools.pairwise(ordered)} == {profile.ingest.EVENT_SPACING}
    assert len(times[True]) == 100
    assert len(set(times[True])) == 1


def test_the_server_collector_is_set_for_the_batches_and_restored_after(tmp_path: Path) -> None:
    """``--collector server``: while the batches are counted the heap is frozen and the
    youngest generation's threshold is the server's; Python's settings come back after."""
    import gc

    from lineguard.server.tls.serve import GC_YOUNG_THRESHOLD

    class Window:
        """Stands where the instruction counter starts and stops: what the collector is then."""

        def __init__(self) -> None:
            self.seen: list[tuple[tuple[int, ...], int]] = []

        def start(self) -> None:
            self.seen.append((gc.get_threshold(), gc.get_freeze_count()))

        def stop(self) -> None:
            self.start()

    before = gc.get_threshold()
    # The bench's own process starts with nothing frozen; a pytest worker has frozen what its
    # collection left alive (tests/support/gc_freeze.py), and the bench must leave that frozen
    # (CI's test_gc_freeze failed after this test when it unfroze the worker's heap).
    worker_frozen = gc.get_freeze_count()
    assert worker_frozen > 0
    try:
        for frozen_at_start, root in ((True, tmp_path / "frozen"), (False, tmp_path / "plain")):
            root.mkdir()
            if not frozen_at_start:
                gc.unfreeze()
            window = Window()
            profile._run(root, False, 1, split=profile.SPLIT["off"], server_gc=True, counter=window)  # type: ignore[arg-type]
            assert [threshold[0] for threshold, _ in window.seen] == [GC_YOUNG_THRESHOLD] * 2
            assert all(frozen > 0 for _, frozen in window.seen)
            assert gc.get_threshold() == before
            assert (gc.get_freeze_count() > 0) is frozen_at_start
    finally:
        freeze_what_is_alive()


def test_a_nodes_capture_times_only_move_forward_across_batches_and_phases() -> None:
    """bench_ingest's bodies continue each node's clock: a phase's batches, and the next
    phase's, never repeat an earlier time (they did until 2026-12-07, and every time index then
    took each batch's rows in the middle of the tree: twice the insert's CPU)."""
    ingest = profile.ingest
    times: list[datetime] = []
    for count in (3, 2):  # two phases, as bench_ingest's warm-up and a measured phase
        for body in ingest._bodies("bench-node-clock", "line-0", count):
            times += [datetime.fromisoformat(e["captured_at"]) for e in json.loads(body)["events"]]
    assert len(times) == 5 * ingest.BATCH
    assert all(a < b for a, b in itertools.pairwise(times))
