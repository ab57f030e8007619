"""Each worker keeps what its collection left alive out of the garbage collector's walks
(tests/support/gc_freeze.py): the suite's own modules are frozen by the time a test runs."""

from __future__ import annotations

import gc
import sys


def test_the_collected_test_modules_are_out_of_the_collectors_walks() -> None:
    this_module = sys.modules[__name__]
    assert gc.get_freeze_count() > 0
    # A full collection walks the three generations; frozen objects are in none of them.
    walked = {id(o) for o in gc.get_objects()}
    assert id(this_module.__dict__) not in walked
    assert id(test_the_collected_test_modules_are_out_of_the_collectors_walks) not in walked
