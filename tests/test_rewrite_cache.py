"""``dev.py test``'s rewrite-cache step (tests/support/rewrite_cache.py) on a project of its own.

The step must write the cache pytest reads, for the modules pytest rewrites (test files and
conftests, not helpers), leave what is up to date alone, and the tests must then run from the
cache with their assertions still rewritten, under ``PYTHONDONTWRITEBYTECODE`` as on CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cache_is_written_once_and_the_tests_run_from_it_with_rewritten_asserts(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    (project / "tests" / "conftest.py").write_text("")
    (project / "tests" / "helper.py").write_text("VALUE = 2\n")
    test_file = project / "tests" / "test_one.py"
    test_file.write_text("def test_sum():\n    total = 1\n    assert total == 2\n")

    warm = _pytest(project, "-p", "tests.support.rewrite_cache")
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert "2 modules written, 0 up to date" in warm.stdout, warm.stdout
    cache = project / "tests" / "__pycache__"
    written = sorted(p.name.split(".")[0] for p in cache.glob("*-pytest-*.pyc"))
    assert written == ["conftest", "test_one"]  # the helper is imported as it is, never rewritten

    again = _pytest(project, "-p", "tests.support.rewrite_cache")
    assert "0 modules written, 2 up to date" in again.stdout, again.stdout

    run = _pytest(project, "--debug", str(project / "debug.log"))
    assert run.returncode == 1, run.stdout + run.stderr
    # Rewritten: the failure shows the value behind the name, not a bare AssertionError.
    assert "assert 1 == 2" in run.stdout, run.stdout
    trace = (project / "debug.log").read_text()
    assert f"found cached rewritten pyc for {test_file}" in trace, trace[-3000:]

    test_file.write_text("def test_sum():\n    total = 2\n    assert total == 2\n")
    changed = _pytest(project, "-p", "tests.support.rewrite_cache")
    assert "1 modules written, 1 up to date" in changed.stdout, changed.stdout
    assert _pytest(project).returncode == 0
