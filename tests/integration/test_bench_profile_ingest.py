"""``bench/profile_ingest.py``: the instruction counter counts only its window, and the
one-key-per-batch prototype stays inside its own run.

The counter needs valgrind, a C compiler and valgrind's headers (Debian: ``valgrind``,
``gcc``); the tests that run it are skipped, saying so, where one is missing.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_one_key_per_batch_prototype_writes_one_key_row_per_batch_and_only_in_its_run(
    tmp_path: Path,
) -> None:
    from lineguard.server.ingest import service

    original = service.staged_sealer
    for name, split, keys in (("one", "one key", 3), ("on", profile.SPLIT["on"], 300)):
        root = tmp_path / name
        root.mkdir()
        profile._run(root, False, 3, split=split)
        assert service.staged_sealer is original
        with sqlite3.connect(root / "bench.db") as db:
            assert db.execute("SELECT count(*) FROM data_keys").fetchone() == (keys,)
            assert db.execute("SELECT count(*) FROM inspection_events").fetchone() == (300,)
