"""One demo data directory for the test modules that run ``lineguard demo``.

A first demo run (seeded with the session's trained model, see tests/support/demo_model.py)
takes minutes before it has what the tests look at: every station's results, the motor's
first reading after its time-compressed learning period. Two modules need a demo
with that behind it: tests/integration/test_demo.py (a first run under strace, Ctrl-C, a second
run air-gapped) and tests/e2e/test_demo_pages.py (every role's pages in Chromium). Each used to
start its own first run (about 200 s of CI). Now the integration test, ordered first by
tests/support/grouping.py, hands its data directory over once it passed, and the page tests start the
demo again on it, the way a user starts it a third time: state reused, nothing set up again,
accounts still on their one-time passwords (nobody signed in), and the data the pages show
already there. Without that hand-over (the page tests run alone, or the integration test
failed) the page tests get a fresh data directory seeded with the trained model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lineguard.cli.demo_stations import THERMAL_LEARN_ENV
from tests.support.demo_model import seed_demo_model

#: What every demo the tests start has in its environment: the motor learns its band in one
#: minute instead of two (the least the demo accepts: 30 frames for a band of 20 samples), so a
#: first run reaches every station's results a minute sooner, the same way. All three starts on
#: one data directory use the same period.
DEMO_TEST_ENV = {THERMAL_LEARN_ENV: "60"}


class SharedDemo:
    """A demo data directory handed from the first demo test to the next (module docstring)."""

    def __init__(self, factory: pytest.TempPathFactory, model: Path) -> None:
        self._factory, self._model = factory, model
        self._handed_over: Path | None = None

    def hand_over(self, data_dir: Path) -> None:
        """A stopped demo's data directory, after a first and a second run that passed."""
        self._handed_over = data_dir

    def data_dir(self) -> Path:
        """The handed-over data directory (once), else a fresh one with the trained model."""
        data_dir, self._handed_over = self._handed_over, None
        if data_dir is not None:
            return data_dir
        fresh = self._factory.mktemp("demo") / "demo"
        seed_demo_model(self._model, fresh)  # the session's trained demo model
        return fresh
