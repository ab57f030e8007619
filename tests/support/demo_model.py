"""One trained demo model for every test that starts ``lineguard demo``.

The demo's first run renders 400 synthetic good parts, trains its model on them and
calibrates the part threshold on 60 known-good parts: about a minute on an idle machine,
several on a loaded CI runner. Two test modules start a demo from an empty data directory
(tests/integration/test_demo.py, tests/e2e/test_demo_pages.py); training the same model
twice costs minutes and proves nothing more, because training is deterministic.

So the session trains once, with the demo's own ``_ensure_model`` (the very function a
first run calls, in a subprocess so the test process stays free of torch threads), and
each demo test copies the result into its fresh data directory. The demo then finds a
model and a threshold, and goes on exactly as a first run does: secrets, CA, accounts,
signing, registry, four-eyes approval, TUF release, enrolment. What the demo does not
prove any more on its own is covered elsewhere: training itself by tests/unit/vision,
its network silence by tests/integration/test_egress_syscalls.py, and the demo model's
quality by bench/bench_demo_truth.py.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: What ``_ensure_model`` leaves in a data directory (relative to it).
SEEDED = ("models/demo-part-v1", "part-threshold.json")
#: The training's own limit. It runs in the setup of the first test that asks for the model, and
#: that test's limit covers its call only (``func_only``): at load 10 on two cores the training
#: took 390 s (86 s on a quiet runner), which had eaten into the 900 s of test_demo's call.
TRAINING_TIMEOUT_S = 1800.0

_SCRIPT = (
    "import sys; from pathlib import Path; "
    "from lineguard.cli.demo_setup import DemoLayout, _ensure_model; "
    "_ensure_model(DemoLayout(Path(sys.argv[1]), 0), print)"
)


def train_demo_model(cache: Path) -> Path:
    """Run the demo's first-run training into ``cache`` and return it."""
    try:
        out = subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(cache)],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=TRAINING_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the demo's training did not finish within {TRAINING_TIMEOUT_S:.0f} s: {exc.stdout!r}")
    assert out.returncode == 0, out.stdout + out.stderr
    for relative in SEEDED:
        assert (cache / relative).exists(), f"the demo's training left no {relative}: {out.stdout}"
    shutil.rmtree(cache / "dataset", ignore_errors=True)  # rendered images: not needed again
    return cache


def seed_demo_model(cache: Path, data_dir: Path) -> None:
    """Give a fresh demo data directory the session's trained model and part threshold."""
    for relative in SEEDED:
        source, target = cache / relative, data_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
